package serve

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ralmlab/ralm/lookalike"
)

// item is one item's seeds and published state within a world.
//
// The seeds form a ring of user indices in arrival order (oldest first),
// capped at Options.MaxSeeds; set holds the same users for duplicate checks.
// Everything but view, nseeds and last is guarded by mu and written only by
// the committer (and the re-cluster worker, for the view).
type item struct {
	id string

	mu      sync.Mutex
	ring    []int32 // capacity grows up to maxSeeds
	head    int     // index of the oldest seed once the ring is full
	set     map[int32]struct{}
	version uint64 // bumped on every change of the seeds
	created int64  // wall-clock Unix ns of the first click
	deleted bool

	nseeds atomic.Int32
	last   atomic.Int64 // wall-clock Unix ns of the latest click
	view   atomic.Pointer[itemView]
}

// itemView is the immutable published state of an item: what readers see.
type itemView struct {
	// state is the look-alike state built at the last re-cluster (nil before
	// the first one).
	state *lookalike.ItemState
	// mean is the unit-length mean seed embedding, for the cold fallback
	// (nil if the item has no seeds).
	mean []float32
	// builtAt and builtSeeds describe the last re-cluster.
	builtAt    time.Time
	builtSeeds int
	version    uint64 // item version the state was built from
}

func newItem(id string, created int64) *item {
	it := &item{id: id, set: make(map[int32]struct{}), created: created}
	it.view.Store(&itemView{})
	return it
}

// add appends user u as the newest seed. It reports whether u was new and, if
// the ring was full, the evicted user (-1 if none). Caller holds mu.
func (it *item) add(u int32, maxSeeds int) (added bool, evicted int32) {
	if _, dup := it.set[u]; dup {
		return false, -1
	}
	evicted = -1
	if len(it.ring) < maxSeeds {
		it.ring = append(it.ring, u)
	} else {
		evicted = it.ring[it.head]
		delete(it.set, evicted)
		it.ring[it.head] = u
		it.head = (it.head + 1) % len(it.ring)
	}
	it.set[u] = struct{}{}
	it.version++
	it.nseeds.Store(int32(len(it.ring)))
	return true, evicted
}

// seeds returns the seeds in arrival order (a copy). Caller holds mu.
func (it *item) seeds() []int32 {
	out := make([]int32, 0, len(it.ring))
	out = append(out, it.ring[it.head:]...)
	return append(out, it.ring[:it.head]...)
}

// publish replaces the view under mu. Caller holds mu.
func (it *item) publish(v *itemView) { it.view.Store(v) }

// meanOf returns the unit-length mean of the given users' embeddings, or nil
// if there are none.
func meanOf(s *userSnap, dim int, users []int32) []float32 {
	if len(users) == 0 {
		return nil
	}
	acc := make([]float64, dim)
	for _, u := range users {
		for j, x := range s.vec(u, dim) {
			acc[j] += float64(x)
		}
	}
	var nn float64
	for _, x := range acc {
		nn += x * x
	}
	out := make([]float32, dim)
	if nn == 0 {
		return out
	}
	inv := 1 / math.Sqrt(nn)
	for j, x := range acc {
		out[j] = float32(x * inv)
	}
	return out
}

// cosineUnit returns cos(u, m) for a unit-length m.
func cosineUnit(u, m []float32) float32 {
	if len(m) != len(u) {
		return 0
	}
	var d, uu float32
	for j, x := range u {
		d += x * m[j]
		uu += x * x
	}
	if uu == 0 {
		return 0
	}
	return d / float32(math.Sqrt(float64(uu)))
}
