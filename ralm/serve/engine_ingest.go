package serve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/shard"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/userrep"
)

// Click is one click of a user on an item. A zero Time means now.
type Click struct {
	UserID string
	ItemID string
	Time   time.Time
}

// Rejection is a click that was refused, with the reason.
type Rejection struct {
	Index int   // position in the batch
	Err   error // an *IDError matching ErrUnknownUser or ErrBadID
}

// IngestResult reports what happened to a batch of clicks.
type IngestResult struct {
	// Accepted counts the clicks that are durably recorded (synced to the
	// seed store) — duplicates included, since the user already is a seed.
	Accepted int
	// Duplicates counts the accepted clicks whose user already was a seed
	// of the item (they change nothing).
	Duplicates int
	// Rejected lists the refused clicks in batch order.
	Rejected []Rejection
}

type opKind uint8

const (
	opClicks opKind = iota
	opUpsert
	opDelete
	opExpire
	opImported
	opSeeds
)

// commitReq is one mutation waiting for the committer.
type commitReq struct {
	op       opKind
	clicks   []Click
	valid    []bool // per click: passed validation before queueing
	user     StoredUser
	items    []string // delete / expire
	idleNano int64    // expire: only items whose last click is before this
	fp       string   // imported fingerprint
	bundle   string   // opImported: the bundle id, written with the marker (first import)
	seeds    []importItem
	nseeds   int    // clicks in seeds
	from     *world // the world whose user table the seeds' user indices index

	res  IngestResult
	err  error
	done chan struct{}
}

// Click ingests one click; it returns once the click is durable. A click by a
// user without an embedding fails with an *IDError matching ErrUnknownUser.
// A duplicate click (the user already is a seed of the item) succeeds.
func (e *Engine) Click(ctx context.Context, c Click) error {
	return clickOne(ctx, e.Clicks, c)
}

// clickOne ingests c through a batch ingest and returns its rejection, if any.
func clickOne(ctx context.Context, clicks func(context.Context, []Click) (IngestResult, error), c Click) error {
	res, err := clicks(ctx, []Click{c})
	if err != nil {
		return err
	}
	if len(res.Rejected) > 0 {
		return res.Rejected[0].Err
	}
	return nil
}

// Clicks ingests a batch of clicks: each accepted click appends its user to
// the item's seeds (latest MaxSeeds kept; duplicates ignored), creating the
// item if new. Clicks returns once every accepted click is synced to the
// seed store (concurrent calls share one transaction: group commit).
// Refused clicks (unknown user, malformed id) are listed in the result; the
// error is for the batch as a whole (engine closed, store failure, ctx).
func (e *Engine) Clicks(ctx context.Context, batch []Click) (IngestResult, error) {
	w := e.world.Load()
	valid := make([]bool, len(batch))
	var rej []Rejection
	for i, c := range batch {
		if err := checkID(w.userKind, "user", c.UserID); err != nil {
			rej = append(rej, Rejection{Index: i, Err: err})
			continue
		}
		if err := checkID(w.itemKind, "item", c.ItemID); err != nil {
			rej = append(rej, Rejection{Index: i, Err: err})
			continue
		}
		valid[i] = true
	}
	r := &commitReq{op: opClicks, clicks: batch, valid: valid}
	if err := e.submit(ctx, r); err != nil {
		return IngestResult{}, err
	}
	res := r.res
	if len(rej) > 0 {
		e.nRejected.Add(uint64(len(rej)))
		res.Rejected = append(res.Rejected, rej...)
		slices.SortFunc(res.Rejected, func(a, b Rejection) int { return cmp.Compare(a.Index, b.Index) })
	}
	return res, r.err
}

// UserInput is the embedding source for UpsertUser: either a vector (of the
// model's embedding width) or raw features for the user model.
type UserInput struct {
	// Vector is the user embedding itself.
	Vector []float32
	// Features are raw user features by column name (as in the users table),
	// embedded with the user model; Clicked lists the items the user clicked
	// (ids), which feed the user model's click-derived fields.
	Features map[string]any
	Clicked  []string
}

// UpsertUser adds a user (or replaces its embedding) so that its clicks are
// accepted and it can be scored. It returns once the user is durable.
func (e *Engine) UpsertUser(ctx context.Context, id string, in UserInput) error {
	w := e.world.Load()
	vec, err := upsertVector(w.userKind, w.userModel, w.dim, id, in)
	if err != nil {
		return err
	}
	r := &commitReq{op: opUpsert, user: StoredUser{ID: id, Vec: append([]float32(nil), vec...)}}
	if err := e.submit(ctx, r); err != nil {
		return err
	}
	return r.err
}

// upsertVector checks an UpsertUser request against the served model (id
// kind, user model, dimension) and returns the user's vector: the given
// one, or one computed from features by the user model.
func upsertVector(kind data.IDKind, um *userrep.Model, dim int, id string, in UserInput) ([]float32, error) {
	if err := checkID(kind, "user", id); err != nil {
		return nil, err
	}
	vec := in.Vector
	switch {
	case vec != nil && in.Features != nil:
		return nil, badInput(errors.New("upsert user: give a vector or features, not both"))
	case vec != nil:
	case in.Features != nil || in.Clicked != nil:
		if um == nil {
			return nil, badInput(fmt.Errorf("upsert user %q: %w", id, ErrNoUserModel))
		}
		var err error
		if vec, err = embedRaw(um, in.Features, in.Clicked); err != nil {
			return nil, badInput(fmt.Errorf("upsert user %q: %w", id, err))
		}
	default:
		return nil, badInput(fmt.Errorf("upsert user %q: no vector and no features", id))
	}
	if err := checkVector(id, vec, dim); err != nil {
		return nil, err
	}
	return vec, nil
}

// Delete removes an item, its seeds and its attributes (SetItemAttributes).
// It fails with an *IDError matching ErrUnknownItem if the item has neither.
func (e *Engine) Delete(ctx context.Context, itemID string) error {
	if err := checkID(e.world.Load().itemKind, "item", itemID); err != nil {
		return err
	}
	r := &commitReq{op: opDelete, items: []string{itemID}}
	if err := e.submit(ctx, r); err != nil {
		return err
	}
	if r.err != nil {
		if errors.Is(r.err, bundle.ErrUnknownItem) && e.HasAttributes(itemID) {
			return e.deleteItemAttrs(itemID) // an item with attributes only
		}
		return r.err
	}
	return e.deleteItemAttrs(itemID) // its attributes too (engine_coldstart.go)
}

// submit queues r for the committer and waits until it is committed.
func (e *Engine) submit(ctx context.Context, r *commitReq) error {
	if err := e.failure(); err != nil {
		return err
	}
	r.done = make(chan struct{})
	select {
	case e.reqs <- r:
	case <-e.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
		return nil
	case <-e.committerDone:
		select {
		case <-r.done:
			return nil
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return fmt.Errorf("waiting for commit (the change may still be applied): %w", ctx.Err())
	}
}

// commitLoop is the single writer: it gathers queued requests into one batch,
// applies them to memory, writes them in one synced transaction and then
// acknowledges them all.
func (e *Engine) commitLoop() {
	defer close(e.committerDone)
	tick := time.NewTicker(checkpointAge)
	defer tick.Stop()
	var batch []*commitReq
	for {
		batch = batch[:0]
		select {
		case <-tick.C:
			e.maybeCheckpoint()
			continue
		case r := <-e.reqs:
			batch = append(batch, r)
		case <-e.quit:
			// Flush whatever is still queued, then stop.
			for {
				select {
				case r := <-e.reqs:
					batch = append(batch, r)
					if len(batch) >= 64 {
						e.commit(batch)
						batch = batch[:0]
					}
				default:
					if len(batch) > 0 {
						e.commit(batch)
					}
					return
				}
			}
		}
		n := batch[0].size()
	gather:
		for n < e.opts.MaxBatch {
			select {
			case r := <-e.reqs:
				batch = append(batch, r)
				n += r.size()
			default:
				break gather
			}
		}
		e.commit(batch)
		e.maybeCheckpoint()
	}
}

// maybeCheckpoint lets the store compact its log when that is due (see
// Store.Checkpoint). Runs on the committer goroutine.
func (e *Engine) maybeCheckpoint() {
	if e.failure() != nil {
		return
	}
	e.diskMu.Lock()
	err := e.noteDeferred(e.store.Checkpoint())
	e.diskMu.Unlock()
	if err != nil {
		e.fail(err)
	}
}

func (r *commitReq) size() int { return max(1, len(r.clicks), r.nseeds) }

// commit applies and persists one batch, then acknowledges its requests.
func (e *Engine) commit(batch []*commitReq) {
	start := time.Now()
	if err := e.failure(); err != nil {
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
		return
	}
	e.wmu.Lock()
	sb := e.apply(batch, start.UnixNano())
	e.diskMu.Lock()
	e.wmu.Unlock()
	var err error
	if slices.ContainsFunc(batch, func(r *commitReq) bool { return r.op == opSeeds }) {
		// an import: written in place in bulk (Store.Apply), not logged
		err = e.noteDeferred(e.store.Apply(sb))
	} else {
		err = e.store.Commit(sb)
	}
	e.diskMu.Unlock()
	if err != nil {
		e.fail(err)
	}
	var ev CommitEvent
	for _, r := range batch {
		if err != nil {
			r.err = err
		} else if r.op == opClicks {
			ev.Accepted += r.res.Accepted
			ev.Duplicates += r.res.Duplicates
			ev.Rejected += len(r.res.Rejected)
		}
	}
	if err == nil {
		e.nAccepted.Add(uint64(ev.Accepted))
		e.nDuplicate.Add(uint64(ev.Duplicates))
		e.nRejected.Add(uint64(ev.Rejected))
		if e.opts.Hooks.OnCommit != nil && (ev.Accepted > 0 || ev.Rejected > 0) {
			ev.Duration = time.Since(start)
			e.opts.Hooks.OnCommit(ev)
		}
	}
	for _, r := range batch {
		close(r.done)
	}
}

// touch records an item's seed count before a batch changed it.
type touch struct {
	prev    int    // seed count
	version uint64 // item version
}

// clickedItem returns the item id of w that a click at now goes to (created
// if new) and its store changes in sb, noting the click's time and, in
// touched, the item's state before this batch. Caller holds wmu.
func clickedItem(w *world, sb *Batch, touched map[*item]*touch, id string, now int64) (*item, *ItemOps) {
	op := sb.item(id)
	v, ok := w.items.Load(id)
	var it *item
	if ok {
		it = v.(*item)
	} else {
		it = newItem(id, now)
		w.items.Store(id, it)
		op.Created = now
	}
	op.Remove = false
	op.Last = now
	it.last.Store(now)
	if touched[it] == nil {
		it.mu.Lock()
		touched[it] = &touch{prev: len(it.ring), version: it.version}
		it.mu.Unlock()
	}
	return it, op
}

// addSeed appends user u of snap clicked at ts to the item's seeds and
// records the store change in op; it reports whether u was new (false: a
// duplicate, nothing changes). Caller holds it.mu.
func addSeed(it *item, op *ItemOps, u int32, snap *userSnap, ts int64, maxSeeds int) bool {
	added, ev := it.add(u, maxSeeds)
	if !added {
		return false
	}
	op.Add = append(op.Add, StoredSeed{User: snap.id(u), TS: ts})
	if ev >= 0 {
		op.Evict++
		if op.Created != 0 && op.Evict > 1024 && op.Evict >= len(op.Add)/2 {
			// a new item: the seeds it evicted were never stored (amortised O(1))
			op.Add, op.Evict = op.Add[:copy(op.Add, op.Add[op.Evict:])], 0
		}
	}
	return true
}

// apply performs the batch's mutations on the current world and returns the
// store writes. Caller holds wmu.
func (e *Engine) apply(batch []*commitReq, now int64) *Batch {
	w := e.world.Load()
	sb := newBatch()
	snap := w.users.load()
	touched := make(map[*item]*touch)
	maxSeeds := e.opts.MaxSeeds
	for _, r := range batch {
		switch r.op {
		case opClicks:
			for i, c := range r.clicks {
				if !r.valid[i] {
					continue
				}
				u, ok := w.users.lookup(snap, c.UserID)
				if !ok {
					r.res.Rejected = append(r.res.Rejected, Rejection{Index: i, Err: &bundle.IDError{What: "user", ID: c.UserID, Err: bundle.ErrUnknownUser}})
					continue
				}
				it, op := clickedItem(w, sb, touched, c.ItemID, now)
				ts := now
				if !c.Time.IsZero() {
					ts = c.Time.UnixNano()
				}
				it.mu.Lock()
				added := addSeed(it, op, u, snap, ts, maxSeeds)
				it.mu.Unlock()
				r.res.Accepted++
				if !added {
					r.res.Duplicates++
				}
			}
		case opSeeds:
			from := r.from.users.load()
			for _, g := range r.seeds {
				it, op := clickedItem(w, sb, touched, g.id, now)
				it.mu.Lock()
				for _, sd := range g.seeds {
					u := sd.u
					if r.from != w { // a reload swapped the world since the import grouped the seeds
						id := from.id(u)
						var ok bool
						if u, ok = w.users.lookup(snap, id); !ok {
							r.res.Rejected = append(r.res.Rejected, Rejection{Err: &bundle.IDError{What: "user", ID: id, Err: bundle.ErrUnknownUser}})
							continue
						}
					}
					addSeed(it, op, u, snap, sd.ts, maxSeeds)
				}
				it.mu.Unlock()
				if op.Created != 0 {
					// a new item: the seeds it evicted were never stored
					op.Add, op.Evict = op.Add[op.Evict:], 0
				}
			}
		case opUpsert:
			w.users.upsert(r.user.ID, r.user.Vec)
			sb.Users = append(sb.Users, r.user)
			snap = w.users.load()
		case opDelete, opExpire:
			for _, id := range r.items {
				v, ok := w.items.Load(id)
				if !ok {
					if r.op == opDelete {
						r.err = &bundle.IDError{What: "item", ID: id, Err: bundle.ErrUnknownItem}
					}
					continue
				}
				it := v.(*item)
				if r.op == opExpire && it.last.Load() >= r.idleNano {
					continue // clicked since the expiry scan
				}
				w.items.Delete(id)
				it.mu.Lock()
				it.deleted = true
				it.mu.Unlock()
				delete(touched, it)
				op := sb.item(id)
				*op = ItemOps{Reset: true, Remove: true}
				if r.op == opExpire {
					e.nExpired.Add(1)
				}
			}
		case opImported:
			sb.Imports = append(sb.Imports, r.fp)
			if r.bundle != "" {
				sb.Bundle = r.bundle
			}
		}
	}
	type touchedItem struct {
		it *item
		t  *touch
	}
	list := make([]touchedItem, 0, len(touched))
	for it, t := range touched {
		list = append(list, touchedItem{it, t})
	}
	// Items are independent here (each under its own mu): the cold states
	// of a large batch (an import) are built on every core.
	_ = shard.Chunks(context.Background(), "refresh items", len(list), 256, func() func(lo, hi int) error {
		return func(lo, hi int) error {
			for _, x := range list[lo:hi] {
				e.settle(w, snap, x.it, x.t)
			}
			return nil
		}
	}) // never fails: no error, no deadline
	return sb
}

// settle publishes a cold state for an item a batch changed that has fewer
// than MinSeeds seeds, or queues it for a re-cluster (at once if it just
// crossed MinSeeds). Caller holds wmu.
func (e *Engine) settle(w *world, snap *userSnap, it *item, t *touch) {
	it.mu.Lock()
	n, changed := len(it.ring), it.version != t.version
	if n < e.opts.MinSeeds && changed {
		e.refreshCold(w, snap, it)
	}
	it.mu.Unlock()
	if n < e.opts.MinSeeds {
		return
	}
	if changed || it.view.Load().state() == nil {
		w.markDirty(it, t.prev < e.opts.MinSeeds)
		if t.prev < e.opts.MinSeeds {
			select {
			case e.kick <- struct{}{}:
			default:
			}
		}
	}
}

// embedRaw embeds one user from raw feature values (users-table column
// names) and the ids of the items the user clicked, with the user model's
// inference path. Clicked items unknown to the user model are ignored.
func embedRaw(m *userrep.Model, features map[string]any, clicked []string) ([]float32, error) {
	fs, ok := m.Features().(*data.FeatureSet)
	if !ok || fs == nil {
		return nil, errors.New("the user model carries no feature set for raw features; give a vector instead")
	}
	var idx []int32
	for _, id := range clicked {
		if i, ok := fs.Items().Index(id); ok {
			idx = append(idx, i)
		}
	}
	var ft data.Features
	if err := fs.BuildRaw(features, idx, &ft); err != nil {
		return nil, err
	}
	v, err := m.Embed(&ft)
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	return v, nil
}
