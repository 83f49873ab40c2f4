package serve

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ralmlab/ralm/data"
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

	// build serialises the re-clusters of the item (buildItem holds it
	// throughout), so that a request building a state on demand and the
	// background build never build the same state twice: the second waits
	// for the first and finds its state published. Lock order: build →
	// mu.
	build sync.Mutex

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
	// item is the item's scoring state (lookalike.Model.NewItem): warm,
	// built by the re-cluster worker from the seeds of version (warm-started
	// from the previous state), or cold (ItemOptions.Cold) over the current
	// seeds for an item with fewer than MinSeeds seeds or not yet
	// re-clustered. nil only before the item has a seed.
	item *lookalike.Item
	// builtAt and builtSeeds describe the last re-cluster.
	builtAt    time.Time
	builtSeeds int
	version    uint64 // item version the warm state was built from
	// failure is the error of the last re-cluster if it failed ("" if it
	// succeeded or none ran yet); failures counts the failed re-clusters in
	// a row, and retryAt is when the worker tries again without new clicks
	// (capped exponential backoff).
	failure  string
	failures int
	retryAt  time.Time
}

// state returns the look-alike state of the last re-cluster, nil if none
// (a cold item's state, built on the click path, does not count).
func (v *itemView) state() *lookalike.ItemState {
	if v.item == nil || v.item.Status != lookalike.ItemWarm {
		return nil
	}
	return v.item.State
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

// snapUsers is the engine's lookalike.Users: the rows of a user snapshot,
// ordered by external id (data.CompareIDs) as the offline path orders them.
type snapUsers struct {
	snap *userSnap
	dim  int
	kind data.IDKind
}

// Len implements lookalike.Users.
func (u snapUsers) Len() int { return u.snap.n }

// Vec implements lookalike.Users.
func (u snapUsers) Vec(i int32) []float32 { return u.snap.vec(i, u.dim) }

// Compare implements lookalike.Users.
func (u snapUsers) Compare(a, b int32) int {
	return data.CompareIDs(u.kind, u.snap.id(a), u.snap.id(b))
}

// usersOf returns the lookalike.Users of snapshot s of w.
func (w *world) usersOf(s *userSnap) snapUsers {
	return snapUsers{snap: s, dim: w.dim, kind: w.userKind}
}

// coldItem is the cold fallback state of an item over seeds, users of snap;
// it fails only when no seed is left.
func (w *world) coldItem(ctx context.Context, snap *userSnap, seeds []int32) (*lookalike.Item, error) {
	return w.model.NewItem(ctx, w.usersOf(snap), seeds, lookalike.ItemOptions{Cold: true})
}
