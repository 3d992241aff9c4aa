//go:build unix

package e2ee

import (
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time so far. Benchmarks
// report CPU per operation beside wall time, since on a shared machine the
// wall clock also counts the time other work held the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
