package serve

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
)

// workerLoop is the asynchronous stage: it re-clusters changed items every
// ReclusterInterval, items that just reached MinSeeds at once, and expires
// idle items.
// It starts with the start-up build of w's items in list (startBuild).
func (e *Engine) workerLoop(w *world, list []*item) {
	defer close(e.workerDone)
	e.startBuild(w, list)
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

// startLogEvery is how often the start-up build logs its progress.
const startLogEvery = 5 * time.Second

// startBuild is the start-up build: it clusters the items of the world
// Open published that wait for their first state (list), logging
// its progress with a rate, and then stops on-demand builds (world.lazy).
func (e *Engine) startBuild(w *world, list []*item) {
	total := len(list)
	stopLog := logEvery(startLogEvery, func() {
		p := e.startProgress()
		rate := float64(p.Built) / p.Elapsed.Seconds()
		args := []any{"built", p.Built, "items", p.Items, "items_per_s", int(rate)}
		if rate > 0 {
			args = append(args, "eta", (time.Duration(float64(p.Items-p.Built)/rate) * time.Second).Round(time.Second))
		}
		e.log.Info("building item states in the background (requests build the items they need first)", args...)
	})
	err := e.buildList(e.ctx, w, list)
	stopLog()
	w.lazy.Store(false)
	took := time.Since(e.startAt)
	e.startTook.Store(int64(took))
	close(e.startDone)
	if err == nil && total > 0 {
		p := e.startProgress()
		e.log.Info("item states built", "items", p.Built, "seconds", took.Seconds(), "items_per_s", int(float64(p.Built)/took.Seconds()))
	}
}

// logEvery calls fn every period on its own goroutine until the returned
// stop is called; stop returns once fn is no longer running.
func logEvery(period time.Duration, fn func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(quit); <-done }
}

// StartBuild returns the progress of the start-up build (see Open), as
// Stats.StartBuild does, without Stats' scan over every item.
func (e *Engine) StartBuild() BuildProgress { return e.startProgress() }

// startProgress returns the progress of the start-up build.
func (e *Engine) startProgress() BuildProgress {
	p := BuildProgress{Items: int(e.startItems.Load()), Built: int(e.startBuilt.Load())}
	p.Built = min(p.Built, p.Items) // items that crossed MinSeeds meanwhile count too
	select {
	case <-e.startDone:
		p.Done = true
		p.Elapsed = time.Duration(e.startTook.Load())
	default:
		p.Elapsed = time.Since(e.startAt)
	}
	return p
}

// WaitBuilt waits until the start-up build (see Open) has clustered every
// item, or ctx is done, or the engine is closed (ErrClosed).
func (e *Engine) WaitBuilt(ctx context.Context) error {
	select {
	case <-e.startDone:
		select {
		case <-e.quit:
			return ErrClosed
		default:
			return nil
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ensureBuilt builds the first state of an item that has MinSeeds seeds but
// no state yet while the start-up build runs, before a request uses it, so
// the request gets the answer of a full build. The build runs once:
// concurrent callers, and the background build, wait on it.build and find
// the state built.
func (e *Engine) ensureBuilt(w *world, it *item) {
	if !w.lazy.Load() {
		return
	}
	if v := it.view.Load(); v.state() != nil || v.failure != "" || int(it.nseeds.Load()) < e.opts.MinSeeds {
		return
	}
	e.buildItem(e.ctx, w, it, true)
}

// maxReclusterBackoff caps the wait before an item whose re-cluster failed
// is tried again without new clicks (or ReclusterInterval if longer).
const maxReclusterBackoff = time.Hour

// retryBackoff is the wait after the n-th failed re-cluster in a row:
// ReclusterInterval doubled n times, capped at maxReclusterBackoff.
func (e *Engine) retryBackoff(n int) time.Duration {
	d := e.opts.ReclusterInterval
	limit := max(maxReclusterBackoff, d)
	for range n {
		if d >= limit/2 {
			return limit
		}
		d *= 2
	}
	return d
}

// buildPending re-clusters the urgent items of w and, if includeDirty, every
// dirty one and every failed one due for a retry, with opts.Workers
// goroutines; urgent items go first, even if they arrive while a round is
// running. An item whose re-cluster fails is not retried before new clicks
// arrive or its backoff (retryBackoff) passes. It returns the context's
// error if the round was cut short.
func (e *Engine) buildPending(ctx context.Context, w *world, includeDirty bool) error {
	var list []*item
	if includeDirty {
		now := time.Now()
		w.dirtyMu.Lock()
		for it := range w.dirty {
			list = append(list, it)
			delete(w.retry, it)
		}
		clear(w.dirty)
		for it := range w.retry {
			if !it.view.Load().retryAt.After(now) {
				list = append(list, it)
				delete(w.retry, it)
			}
		}
		w.dirtyMu.Unlock()
	}
	return e.buildList(ctx, w, list)
}

// buildList re-clusters w's urgent items and the items of list, with
// opts.Workers goroutines, urgent items first (see buildPending).
func (e *Engine) buildList(ctx context.Context, w *world, list []*item) error {
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
				if err := e.buildItem(ctx, w, it, false); err != nil && ctx.Err() != nil {
					w.markDirty(it, false) // cut short: build in a later round
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
// the result. With first it builds only an item without a state (or a
// failure): the on-demand build of ensureBuilt.
func (e *Engine) buildItem(ctx context.Context, w *world, it *item, first bool) error {
	it.build.Lock()
	defer it.build.Unlock()
	it.mu.Lock()
	old := it.view.Load()
	if it.deleted || len(it.ring) < e.opts.MinSeeds || (old.state() != nil && old.version == it.version) ||
		(first && (old.state() != nil || old.failure != "")) {
		it.mu.Unlock()
		return nil
	}
	users := it.seeds()
	ver := it.version
	it.mu.Unlock()

	start := time.Now()
	snap := w.users.load()
	li, err := w.model.NewItem(ctx, w.usersOf(snap), users, lookalike.ItemOptions{Prev: old.state()})
	if f := e.opts.reclusterFault; err == nil && f != nil {
		if err = f(it.id); err != nil {
			li = nil
		}
	}
	dur := time.Since(start)
	if e.opts.Hooks.OnRecluster != nil {
		e.opts.Hooks.OnRecluster(ReclusterEvent{ItemID: it.id, Seeds: len(users), Duration: dur, Err: err})
	}
	counted := old.state() == nil && w.lazy.Load()
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			e.reclusterFailed(w, it, len(users), err)
			if counted {
				e.startBuilt.Add(1)
			}
		}
		return err
	}
	if counted {
		e.startBuilt.Add(1)
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

// reclusterFailed records a failed re-cluster of it: the item gets the
// status failed with the reason and waits for new clicks or its backoff
// before the next try. The first failure in a row is logged as a warning,
// the retries at debug level.
func (e *Engine) reclusterFailed(w *world, it *item, seeds int, err error) {
	e.nRecluErr.Add(1)
	msg := redisstore.FailureReason(err) // short, no paths: the same rule as replicas
	it.mu.Lock()
	if it.view.Load().item == nil && !it.deleted {
		// nothing to score with yet (a restored item): the cold state
		e.refreshCold(w, w.users.load(), it)
	}
	cur := it.view.Load()
	nv := *cur
	nv.failure, nv.failures = msg, cur.failures+1
	nv.retryAt = time.Now().Add(e.retryBackoff(nv.failures))
	deleted := it.deleted
	if !deleted {
		it.publish(&nv)
	}
	it.mu.Unlock()
	if deleted {
		return
	}
	if cur.failure == "" {
		e.log.Warn("re-cluster failed; the item has status failed until a re-cluster succeeds (retried on new clicks or after a backoff)", "item", shortID(it.id), "seeds", seeds, "err", err, "retry_in", e.retryBackoff(nv.failures))
	} else {
		e.log.Debug("re-cluster failed again", "item", shortID(it.id), "seeds", seeds, "failures", nv.failures, "err", err)
	}
	w.dirtyMu.Lock()
	w.retry[it] = struct{}{}
	w.dirtyMu.Unlock()
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
// It first waits for the start-up build (WaitBuilt).
func (e *Engine) Recluster(ctx context.Context) error {
	if err := e.WaitBuilt(ctx); err != nil {
		return err
	}
	return e.buildPending(ctx, e.world.Load(), true)
}
