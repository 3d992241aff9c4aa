package bench

import (
	"math"
	"slices"
	"time"
)

// Never stands for a latency that was never observed: a message not
// delivered by the end of a run. It sorts after every real latency, so a
// percentile that lands on it means "longer than the run waited".
const Never = time.Duration(math.MaxInt64)

// Dist summarises a sample of durations.
type Dist struct {
	N                  int
	Min, P50, P99, Max time.Duration
}

// Summarise returns the minimum, median, 99th percentile (nearest rank) and maximum
// of xs, which it sorts.
func Summarise(xs []time.Duration) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	slices.Sort(xs)
	return Dist{N: len(xs), Min: xs[0], P50: rank(xs, 0.50), P99: rank(xs, 0.99), Max: xs[len(xs)-1]}
}

// rank is the nearest-rank percentile of sorted xs.
func rank(xs []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(xs))+0.999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// Median returns the median of xs, which it sorts.
func Median(xs []time.Duration) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
