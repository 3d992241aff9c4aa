// Package webui holds the sources of Curbside's browser app, which are also
// what is served: plain ES modules with no build step, so `go build` needs
// no Node. Package embed serves them.
package webui

import (
	"embed"
	"io/fs"
)

//go:embed app
var files embed.FS

// App returns the PWA's files, rooted at webui/app.
func App() fs.FS {
	sub, err := fs.Sub(files, "app")
	if err != nil {
		panic(err) // the directory is compiled in; this cannot fail
	}
	return sub
}
