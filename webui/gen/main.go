// Command gen writes webui/app/js/constants.js, the web app's copy of the
// protocol and model constants, from webui.Constants. Run it with
// `go generate ./webui`.
package main

import (
	"log"
	"os"

	"github.com/curbside-health/curbside/webui"
)

func main() {
	// go generate runs in the directory of the file with the directive: webui/.
	if err := os.WriteFile(webui.ConstantsFile, webui.Constants(), 0o644); err != nil {
		log.Fatal(err)
	}
}
