package serve

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// scoreBufs are pooled per-request buffers of Score.
type scoreBufs struct {
	states []*lookalike.ItemState
	pos    []int
	out    []float32
}

var scorePool = sync.Pool{New: func() any { return new(scoreBufs) }}

// Score scores one user against items. The user must have an embedding
// (from the model folder or UpsertUser); otherwise the error is an *IDError
// matching ErrUnknownUser. Every item gets a score and a status; unknown
// items are not an error.
func (e *Engine) Score(ctx context.Context, userID string, itemIDs []string) ([]bundle.ItemScore, error) {
	w := e.world.Load()
	snap := w.users.load()
	u, ok := w.users.lookup(snap, userID)
	if !ok {
		return nil, &bundle.IDError{What: "user", ID: userID, Err: bundle.ErrUnknownUser}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return e.scoreVec(w, snap.vec(u, w.dim), itemIDs), nil
}

// ScoreVector scores an arbitrary user embedding (of the model's width)
// against items, like Score.
func (e *Engine) ScoreVector(ctx context.Context, vec []float32, itemIDs []string) ([]bundle.ItemScore, error) {
	w := e.world.Load()
	if len(vec) != w.dim {
		return nil, badInput(fmt.Errorf("score: vector has %d values, the model's embeddings have %d", len(vec), w.dim))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return e.scoreVec(w, vec, itemIDs), nil
}

func (e *Engine) scoreVec(w *world, uv []float32, itemIDs []string) []bundle.ItemScore {
	res := make([]bundle.ItemScore, len(itemIDs))
	b := scorePool.Get().(*scoreBufs)
	b.states, b.pos = b.states[:0], b.pos[:0]
	minSeeds := int32(e.opts.MinSeeds)
	for i, id := range itemIDs {
		res[i].ItemID = id
		v, ok := w.items.Load(id)
		if !ok {
			res[i].Status = bundle.StatusUnknownItem
			continue
		}
		it := v.(*item)
		view := it.view.Load()
		if view.state != nil && it.nseeds.Load() >= minSeeds {
			b.states = append(b.states, view.state)
			b.pos = append(b.pos, i)
			res[i].Status = bundle.StatusOK
			continue
		}
		res[i].Status = bundle.StatusCold
		res[i].Score = cosineUnit(uv, view.mean)
	}
	if len(b.states) > 0 {
		b.out = slices.Grow(b.out[:0], len(b.states))[:len(b.states)]
		w.model.Score(uv, b.states, b.out)
		for k, i := range b.pos {
			res[i].Score = b.out[k]
		}
	}
	clear(b.states) // drop references to item states
	scorePool.Put(b)
	return res
}

// ItemInfo describes one item.
type ItemInfo struct {
	ID     string
	Seeds  int
	Status bundle.Status
	// LastRecluster is the time of the last re-cluster (zero if none yet);
	// ReclusterSeeds and Centroids describe the state it built.
	LastRecluster  time.Time
	ReclusterSeeds int
	Centroids      int
	// Pending reports that the seeds changed since the last re-cluster.
	Pending   bool
	LastClick time.Time
	Created   time.Time
}

// Item describes an item, or fails with an *IDError matching ErrUnknownItem.
func (e *Engine) Item(ctx context.Context, itemID string) (ItemInfo, error) {
	w := e.world.Load()
	v, ok := w.items.Load(itemID)
	if !ok {
		return ItemInfo{}, &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
	}
	it := v.(*item)
	it.mu.Lock()
	version, created := it.version, it.created
	it.mu.Unlock()
	view := it.view.Load()
	info := ItemInfo{
		ID: itemID, Seeds: int(it.nseeds.Load()), Status: e.status(it),
		LastRecluster: view.builtAt, ReclusterSeeds: view.builtSeeds,
		Pending:   view.state == nil || view.version != version,
		LastClick: time.Unix(0, it.last.Load()),
		Created:   time.Unix(0, created),
	}
	if view.state != nil {
		info.Centroids = view.state.K
	}
	if info.Seeds < e.opts.MinSeeds {
		info.Pending = false // cold items are not re-clustered
	}
	return info, nil
}

// Items calls fn for every item id (in no particular order) until fn returns false.
func (e *Engine) Items(fn func(id string) bool) {
	e.world.Load().items.Range(func(k, _ any) bool { return fn(k.(string)) })
}

// Audience is the result of an audience scan.
type Audience struct {
	ItemID string
	// Status tells how the scores were computed (StatusOK: look-alike model,
	// StatusCold: mean-seed cosine fallback).
	Status bundle.Status
	// Seeds is the number of seeds excluded from the scan.
	Seeds int
	// Users are the top users, best first.
	Users []bundle.ScoredUser
}

// Audience returns the n users who look most like the item's seeds, best
// first, excluding the seeds themselves, by scanning every user embedding in
// parallel. It fails with an *IDError matching ErrUnknownItem for an item
// without seeds.
func (e *Engine) Audience(ctx context.Context, itemID string, n int) (*Audience, error) {
	if n < 1 {
		return nil, badInput(fmt.Errorf("audience: n = %d, want at least 1", n))
	}
	w := e.world.Load()
	v, ok := w.items.Load(itemID)
	if !ok {
		return nil, &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
	}
	it := v.(*item)
	snap := w.users.load()
	it.mu.Lock()
	seeds := it.seeds()
	it.mu.Unlock()
	excl := make([]uint64, (snap.n+63)/64)
	for _, u := range seeds {
		if int(u) < snap.n {
			excl[u/64] |= 1 << (u % 64)
		}
	}
	view := it.view.Load()
	status := bundle.StatusCold
	if view.state != nil && len(seeds) >= e.opts.MinSeeds {
		status = bundle.StatusOK
	}
	one := []*lookalike.ItemState{view.state} // read-only, shared by the scan goroutines
	scoreUser := func(uv []float32, out []float32) float32 {
		if status == bundle.StatusOK {
			w.model.Score(uv, one, out[:1])
			return out[0]
		}
		return cosineUnit(uv, view.mean)
	}

	nchunks := len(snap.chunks)
	workers := min(runtime.GOMAXPROCS(0), max(nchunks, 1))
	heaps := make([]topN, workers)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			h := &heaps[g]
			h.n = n
			var out [1]float32
			for c := g; c < nchunks; c += workers {
				if ctx.Err() != nil {
					return
				}
				base := c * chunkUsers
				rows := min(chunkUsers, snap.n-base)
				chunk := snap.chunks[c]
				for r := range rows {
					u := int32(base + r)
					if excl[u/64]&(1<<(u%64)) != 0 {
						continue
					}
					s := scoreUser(chunk[r*w.dim:(r+1)*w.dim], out[:])
					if math.IsNaN(float64(s)) {
						continue
					}
					h.offer(u, s)
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audience %q: %w", itemID, err)
	}
	var all []scored
	for g := range heaps {
		all = append(all, heaps[g].items...)
	}
	slices.SortFunc(all, func(a, b scored) int {
		if c := cmp.Compare(b.s, a.s); c != 0 {
			return c
		}
		return cmp.Compare(a.u, b.u)
	})
	all = all[:min(n, len(all))]
	res := &Audience{ItemID: itemID, Status: status, Seeds: len(seeds), Users: make([]bundle.ScoredUser, len(all))}
	for i, x := range all {
		res.Users[i] = bundle.ScoredUser{UserID: snap.id(x.u), Score: x.s}
	}
	return res, nil
}

type scored struct {
	u int32
	s float32
}

// topN keeps the n best (highest score, then lowest index) entries in a min-heap.
type topN struct {
	n     int
	items []scored
}

func (t *topN) Len() int { return len(t.items) }
func (t *topN) Less(i, j int) bool {
	a, b := t.items[i], t.items[j]
	if a.s != b.s {
		return a.s < b.s
	}
	return a.u > b.u
}
func (t *topN) Swap(i, j int) { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topN) Push(x any)    { t.items = append(t.items, x.(scored)) }
func (t *topN) Pop() any {
	x := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return x
}

// offer adds (u, s) if it beats the worst kept entry.
func (t *topN) offer(u int32, s float32) {
	if len(t.items) < t.n {
		heap.Push(t, scored{u, s})
		return
	}
	w := t.items[0]
	if s > w.s || (s == w.s && u < w.u) {
		t.items[0] = scored{u, s}
		heap.Fix(t, 0)
	}
}
