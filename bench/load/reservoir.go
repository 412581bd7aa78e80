package load

import (
	"math/rand/v2"
	"slices"
	"sync"
)

// Reservoir keeps a uniform sample of up to n of the items added to it,
// whatever their number (Vitter's algorithm R): the ids a preload returns,
// the acknowledged creates a soak reads back. It is safe for concurrent use.
type Reservoir[T any] struct {
	mu    sync.Mutex
	n     int
	count int64
	items []T
	r     *rand.Rand
}

// NewReservoir keeps up to n items.
func NewReservoir[T any](n int) *Reservoir[T] {
	return &Reservoir[T]{n: n, r: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// Add offers items to the sample.
func (rs *Reservoir[T]) Add(items ...T) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, it := range items {
		rs.count++
		if len(rs.items) < rs.n {
			rs.items = append(rs.items, it)
		} else if j := rs.r.Int64N(rs.count); j < int64(rs.n) {
			rs.items[j] = it
		}
	}
}

// Seen is how many items were offered.
func (rs *Reservoir[T]) Seen() int64 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.count
}

// Kept is the sample.
func (rs *Reservoir[T]) Kept() []T {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.items)
}
