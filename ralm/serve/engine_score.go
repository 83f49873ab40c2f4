package serve

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// scoreBufs are pooled per-request buffers of Score.
type scoreBufs struct {
	items []*lookalike.Item
	pos   []int
	out   []float32
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
	b.items, b.pos = b.items[:0], b.pos[:0]
	for i, id := range itemIDs {
		res[i].ItemID = id
		v, ok := w.items.Load(id)
		nseeds := 0
		if ok {
			nseeds = int(v.(*item).nseeds.Load())
		}
		if nseeds < e.opts.MinSeeds {
			if fi := e.featureItem(w, id); fi != nil {
				res[i].Status = bundle.StatusFeatures
				b.items = append(b.items, fi)
				b.pos = append(b.pos, i)
				continue
			}
		}
		if !ok {
			res[i].Status = bundle.StatusUnknownItem
			continue
		}
		it := v.(*item)
		e.ensureBuilt(w, it)
		res[i].Status = e.status(it)
		if li := it.view.Load().item; li != nil {
			b.items = append(b.items, li)
			b.pos = append(b.pos, i)
		}
	}
	if len(b.items) > 0 {
		b.out = slices.Grow(b.out[:0], len(b.items))[:len(b.items)]
		w.model.ScoreItems(uv, b.items, b.out)
		for k, i := range b.pos {
			res[i].Score = b.out[k]
		}
	}
	clear(b.items) // drop references to item states
	scorePool.Put(b)
	return res
}

// ItemInfo describes one item.
type ItemInfo struct {
	ID     string
	Seeds  int
	Status bundle.Status
	// Failure is the reason of StatusFailed ("" otherwise): the error of
	// the last re-cluster, or why the store could not write the item.
	Failure string
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
		if e.featureItem(w, itemID) != nil { // attributes, no click yet
			return ItemInfo{ID: itemID, Status: bundle.StatusFeatures}, nil
		}
		return ItemInfo{}, &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
	}
	it := v.(*item)
	e.ensureBuilt(w, it)
	it.mu.Lock()
	version, created := it.version, it.created
	it.mu.Unlock()
	view := it.view.Load()
	info := ItemInfo{
		ID: itemID, Seeds: int(it.nseeds.Load()), Status: e.featureStatus(w, itemID, int(it.nseeds.Load()), e.status(it)), Failure: e.itemFailure(it),
		LastRecluster: view.builtAt, ReclusterSeeds: view.builtSeeds,
		Pending:   view.state() == nil || view.version != version,
		LastClick: time.Unix(0, it.last.Load()),
		Created:   time.Unix(0, created),
	}
	if st := view.state(); st != nil {
		info.Centroids = st.K
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
	// Status tells how the scores were computed (StatusOK: look-alike
	// model; StatusCold: the look-alike model over fewer than MinSeeds
	// seeds; StatusFeatures: the cold-start model on the look-alike scale).
	Status bundle.Status
	// Seeds is the number of seeds excluded from the scan.
	Seeds int
	// Users are the top users, best first.
	Users []bundle.ScoredUser
}

// Audience returns the n users who look most like the item's seeds, best
// first (score descending, then user id ascending: lookalike.Model.Audience,
// the tie rule offline expansion shares), by scanning every user embedding
// in parallel. An item with status features (attributes, fewer than
// MinSeeds seeds) gets the top users of the cold-start model instead. It leaves out the item's current seeds and the seeds its
// published state was built from: the scan excludes the latter itself, and
// seeds newer than the state are passed as AudienceOptions.Skip. It fails
// with an *IDError matching ErrUnknownItem for an item without seeds.
func (e *Engine) Audience(ctx context.Context, itemID string, n int) (*Audience, error) {
	if n < 1 {
		return nil, badInput(fmt.Errorf("audience: n = %d, want at least 1", n))
	}
	w := e.world.Load()
	v, ok := w.items.Load(itemID)
	var it *item
	if ok {
		it = v.(*item)
	}
	if a, done, err := e.featureAudience(ctx, w, itemID, it, n); done { // status features
		return a, err
	}
	if !ok {
		return nil, &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
	}
	e.ensureBuilt(w, it)
	snap := w.users.load()
	users := w.usersOf(snap)
	it.mu.Lock()
	seeds := it.seeds()
	it.mu.Unlock()
	status := e.status(it)
	li := it.view.Load().item
	if li == nil {
		var err error
		if li, err = w.coldItem(ctx, snap, seeds); err != nil {
			return nil, &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
		}
	}
	cur := make([]uint64, (snap.n+63)/64)
	for _, u := range seeds {
		if int(u) < snap.n {
			cur[u/64] |= 1 << (u % 64)
		}
	}
	top, err := w.model.Audience(ctx, users, li, n, lookalike.AudienceOptions{
		Skip: func(u int32) bool { return cur[u/64]&(1<<(u%64)) != 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("audience %q: %w", itemID, err)
	}
	res := &Audience{ItemID: itemID, Status: status, Seeds: len(seeds), Users: make([]bundle.ScoredUser, len(top))}
	for i, x := range top {
		res.Users[i] = bundle.ScoredUser{UserID: snap.id(x.User), Score: x.Score}
	}
	return res, nil
}
