package main

import (
	"math/bits"
	"time"
)

// The histogram keeps 2^subBits buckets per power of two, so a recorded
// latency is known to within 1/2^subBits (under 1%), from 1 ns up to
// 2^maxExp ns (about 18 minutes); longer ones count as 2^maxExp-1.
const (
	subBits = 7
	subSize = 1 << subBits
	maxExp  = 40
	buckets = (maxExp - subBits + 1) * subSize
)

// Histogram counts latencies in logarithmic buckets, as HdrHistogram does:
// recording is a few shifts and an increment, never an allocation, so the
// generator can record every request. It is not safe for concurrent use;
// each connection of the generator keeps its own and they are merged at the
// end.
type Histogram struct {
	counts [buckets]uint64
	n      uint64
	max    time.Duration
}

// bucketOf returns the bucket that holds v nanoseconds.
func bucketOf(v uint64) int {
	if v >= 1<<maxExp {
		v = 1<<maxExp - 1
	}
	if v < subSize {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [subSize, 2*subSize)
	return (e+1)<<subBits + int(v>>e) - subSize
}

// bucketHigh returns the largest value that bucket i holds.
func bucketHigh(i int) uint64 {
	if i < subSize {
		return uint64(i)
	}
	e := i>>subBits - 1
	m := uint64(i&(subSize-1) + subSize)
	return (m+1)<<e - 1
}

// Record counts one latency.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

// Merge adds the counts of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count returns the number of latencies recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest latency recorded, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the latency that a fraction q (0 < q ≤ 1) of the
// recorded ones do not exceed, rounded up to the top of its bucket (never
// above Max). It is 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketHigh(i)), h.max)
		}
	}
	return h.max
}
