package main

import (
	"math"
	"slices"
	"time"
)

// durStats summarises a sample of durations.
type durStats struct {
	N                     int
	Median, P95, P99, Max time.Duration
}

func summarize(ds []time.Duration) durStats {
	if len(ds) == 0 {
		return durStats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return durStats{N: len(s), Median: median(s), P95: rank(s, 0.95), P99: rank(s, 0.99), Max: s[len(s)-1]}
}

// median of a sorted sample.
func median(s []time.Duration) time.Duration {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// rank is the nearest-rank percentile q of a sorted sample.
func rank(s []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mb is bytes in MiB.
func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// sub is a-b for counters that may go down when a thread exits.
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}
