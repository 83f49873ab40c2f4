package serve

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ralmlab/ralm/lookalike"
)

// workerLoop is the asynchronous stage: it re-clusters changed items every
// ReclusterInterval, items that just reached MinSeeds at once, and expires
// idle items.
func (e *Engine) workerLoop() {
	defer close(e.workerDone)
	tick := time.NewTicker(e.opts.ReclusterInterval)
	defer tick.Stop()
	var expC <-chan time.Time
	if e.opts.ExpireAfter > 0 {
		period := min(max(e.opts.ExpireAfter/10, 10*time.Millisecond), time.Minute)
		t := time.NewTicker(period)
		defer t.Stop()
		expC = t.C
	}
	for {
		select {
		case <-e.quit:
			return
		case <-e.kick:
			e.buildPending(e.ctx, e.world.Load(), false)
		case <-tick.C:
			e.buildPending(e.ctx, e.world.Load(), true)
		case <-expC:
			e.expire()
		}
	}
}

// buildPending re-clusters the urgent items of w and, if includeDirty, every
// dirty one, with opts.Workers goroutines; urgent items go first, even if
// they arrive while a round is running. It returns the context's error if
// the round was cut short.
func (e *Engine) buildPending(ctx context.Context, w *world, includeDirty bool) error {
	var list []*item
	if includeDirty {
		w.dirtyMu.Lock()
		for it := range w.dirty {
			list = append(list, it)
		}
		clear(w.dirty)
		w.dirtyMu.Unlock()
	}
	var next atomic.Int64
	pop := func() *item {
		w.dirtyMu.Lock()
		for it := range w.urgent {
			delete(w.urgent, it)
			w.dirtyMu.Unlock()
			return it
		}
		w.dirtyMu.Unlock()
		if i := next.Add(1) - 1; i < int64(len(list)) {
			return list[i]
		}
		return nil
	}
	var wg sync.WaitGroup
	for range e.opts.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				it := pop()
				if it == nil {
					return
				}
				if err := e.buildItem(ctx, w, it); err != nil && ctx.Err() == nil {
					w.markDirty(it, false) // retry at the next interval
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		// Put back whatever was not built so a later round sees it.
		for i := next.Load(); i < int64(len(list)); i++ {
			w.markDirty(list[i], false)
		}
		return err
	}
	return nil
}

// buildItem re-clusters one item from its current seeds (put in user id
// order by NewItem, so that the state equals the one offline scoring builds
// from the same seeds), warm-started from its previous state, and publishes
// the result.
func (e *Engine) buildItem(ctx context.Context, w *world, it *item) error {
	it.mu.Lock()
	old := it.view.Load()
	if it.deleted || len(it.ring) < e.opts.MinSeeds || (old.state() != nil && old.version == it.version) {
		it.mu.Unlock()
		return nil
	}
	users := it.seeds()
	ver := it.version
	it.mu.Unlock()

	start := time.Now()
	snap := w.users.load()
	li, err := w.model.NewItem(ctx, w.usersOf(snap), users, lookalike.ItemOptions{Prev: old.state()})
	dur := time.Since(start)
	if e.opts.Hooks.OnRecluster != nil {
		e.opts.Hooks.OnRecluster(ReclusterEvent{ItemID: it.id, Seeds: len(users), Duration: dur, Err: err})
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			e.nRecluErr.Add(1)
			e.log.Warn("re-cluster failed", "item", it.id, "seeds", len(users), "err", err)
		}
		return err
	}
	e.nRecluster.Add(1)
	now := time.Now()
	e.lastReclust.Store(now.UnixNano())
	it.mu.Lock()
	if cur := it.view.Load(); !it.deleted && (cur.state() == nil || cur.version <= ver) {
		it.publish(&itemView{item: li, builtAt: now, builtSeeds: len(users), version: ver})
	}
	it.mu.Unlock()
	return nil
}

// expire deletes the items idle for longer than ExpireAfter.
func (e *Engine) expire() {
	w := e.world.Load()
	idle := time.Now().Add(-e.opts.ExpireAfter).UnixNano()
	var ids []string
	w.items.Range(func(k, v any) bool {
		if v.(*item).last.Load() < idle {
			ids = append(ids, k.(string))
		}
		return true
	})
	if len(ids) == 0 {
		return
	}
	r := &commitReq{op: opExpire, items: ids, idleNano: idle}
	if err := e.submit(e.ctx, r); err != nil && !errors.Is(err, ErrClosed) && e.ctx.Err() == nil {
		e.log.Warn("expire items", "err", err)
	}
}

// Recluster re-clusters every item whose seeds changed since its last
// re-cluster now, without waiting for the interval, and returns when done.
func (e *Engine) Recluster(ctx context.Context) error {
	return e.buildPending(ctx, e.world.Load(), true)
}
