//go:build !unix

package server

// diskFree is not measured on this system: the disk alert is off.
func diskFree(string) (uint64, bool) { return 0, false }
