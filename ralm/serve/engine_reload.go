package serve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ralmlab/ralm/ralm/bundle"
)

// Reload swaps in the model folder at modelDir ("" = the folder given to
// Open or the last Reload) without a restart. The new models are loaded and
// every item is re-clustered in the new model's space while the old world
// keeps serving scores and ingesting clicks; the swap itself is atomic and
// pauses ingestion only to carry over seeds that arrived meanwhile. Items
// that changed during the reload are re-clustered by the worker afterwards.
// The new folder's training seeds are imported if they were not before.
// Upserted users that the new folder embeds are dropped (the folder is
// newer); seeds of users the new world has no embedding for are dropped.
func (e *Engine) Reload(ctx context.Context, modelDir string) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if modelDir == "" {
		modelDir = e.modelDir
	}
	if modelDir == "" {
		return errors.New("reload: no model folder (the engine was not opened from one)")
	}
	b, err := bundle.Open(ctx, modelDir)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if err := e.reload(ctx, b); err != nil {
		return fmt.Errorf("reload %s: %w", modelDir, err)
	}
	e.modelDir = modelDir
	return nil
}

// snapItem is an item as seen when a reload started.
type snapItem struct {
	it      *item
	users   []int32
	version uint64
}

// reload swaps in bundle b. Caller holds reloadMu.
func (e *Engine) reload(ctx context.Context, b *bundle.Bundle) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if err := checkEmbeddings(b); err != nil {
		return err
	}
	if err := e.failure(); err != nil {
		return err
	}
	select {
	case <-e.quit:
		return ErrClosed
	default:
	}
	old := e.world.Load()
	nw := newWorld(b)
	// Snapshot the old world's items.
	e.wmu.Lock()
	old.users.startLog()
	oldSnap := old.users.load()
	snaps := make(map[string]*snapItem)
	old.items.Range(func(k, v any) bool {
		it := v.(*item)
		it.mu.Lock()
		snaps[k.(string)] = &snapItem{it: it, users: it.seeds(), version: it.version}
		it.mu.Unlock()
		return true
	})
	// Wait for a store write in flight: every upsert applied before the log
	// started is then on disk, and every later one is in the log.
	e.diskMu.Lock()
	e.diskMu.Unlock()
	e.wmu.Unlock()
	abort := func(err error) error {
		old.users.takeLog()
		return err
	}
	stale := map[string]bool{}
	err := e.store.LoadUsers(func(id string, vec []float32) error {
		if _, ok := b.Embeddings.Users.Index(id); ok {
			stale[id] = true
		} else if len(vec) == nw.dim {
			nw.users.upsert(id, vec)
		}
		return nil
	})
	if err != nil {
		return abort(err)
	}

	// Build the new items from the snapshot, outside any lock.
	remap := remapUsers(old.users, oldSnap, nw.users, nil)
	nsnap := nw.users.load()
	built := make(map[string]*item, len(snaps))
	var toBuild []*item
	for id, s := range snaps {
		nit := rebuildItem(id, s.it, s.users, remap, e.opts.MaxSeeds)
		if len(nit.ring) == 0 {
			continue
		}
		built[id] = nit
		if len(nit.ring) >= e.opts.MinSeeds {
			toBuild = append(toBuild, nit) // built below; cold only if that fails (reclusterFailed)
		} else {
			e.refreshCold(nw, nsnap, nit)
		}
	}
	if err := e.buildAll(ctx, nw, toBuild); err != nil {
		return abort(err)
	}

	// Swap: carry over what changed meanwhile, then publish the new world.
	e.wmu.Lock()
	defer e.wmu.Unlock()
	for _, u := range old.users.takeLog() {
		if len(u.Vec) == nw.dim {
			nw.users.upsert(u.ID, u.Vec) // newer than the folder: kept
			delete(stale, u.ID)
		}
	}
	finalOld := old.users.load()
	remap = remapUsers(old.users, finalOld, nw.users, remap)
	nsnap = nw.users.load()
	sb := newBatch()
	sb.Bundle = b.ID
	old.items.Range(func(k, v any) bool {
		id, oit := k.(string), v.(*item)
		oit.mu.Lock()
		defer oit.mu.Unlock()
		s := snaps[id]
		nit := built[id]
		changed := s == nil || s.it != oit || s.version != oit.version
		users := oit.seeds()
		if changed {
			prev := nit
			nit = rebuildItem(id, oit, users, remap, e.opts.MaxSeeds)
			if len(nit.ring) > 0 {
				e.refreshCold(nw, nsnap, nit)
				if prev != nil && prev.view.Load().state() != nil {
					// Keep the state built during the reload (stale but in
					// the new space) until the worker rebuilds it.
					v := *nit.view.Load()
					pv := prev.view.Load()
					v.item, v.builtAt, v.builtSeeds = pv.item, pv.builtAt, pv.builtSeeds
					nit.publish(&v)
				}
			}
		}
		if drop := droppedUsers(finalOld, users, remap); len(drop) > 0 {
			op := sb.item(id)
			if nit == nil || len(nit.ring) == 0 {
				op.Reset, op.Remove = true, true
			} else {
				op.Drop = drop
			}
		}
		if nit == nil || len(nit.ring) == 0 {
			return true
		}
		nw.items.Store(id, nit)
		if len(nit.ring) >= e.opts.MinSeeds && (changed || nit.view.Load().state() == nil) {
			nw.markDirty(nit, nit.view.Load().state() == nil)
		}
		return true
	})
	e.diskMu.Lock()
	err = e.noteDeferred(e.store.Apply(sb))
	if err == nil {
		err = e.store.DeleteUsers(slices.Collect(maps.Keys(stale)))
	}
	e.diskMu.Unlock()
	if err != nil {
		e.fail(err)
		return err
	}
	e.world.Store(nw)
	select {
	case e.kick <- struct{}{}:
	default:
	}
	e.log.Info("model reloaded", "bundle", b.ID, "items", len(built), "users", nsnap.n)
	// The committer is free again once wmu is released; import afterwards.
	go func() {
		if err := e.importSeeds(e.ctx, b, importFingerprint(b), false); err != nil && !errors.Is(err, ErrClosed) && e.ctx.Err() == nil {
			e.log.Error("import training seeds of the reloaded model", "err", err)
		}
	}()
	return nil
}

// remapUsers maps the old table's user indices to the new table's (-1 for
// users without an embedding in the new world), extending prev.
func remapUsers(oldT *userTable, oldSnap *userSnap, newT *userTable, prev []int32) []int32 {
	nsnap := newT.load()
	out := append(prev, make([]int32, oldSnap.n-len(prev))...)
	for i := len(prev); i < oldSnap.n; i++ {
		if j, ok := newT.lookup(nsnap, oldSnap.id(int32(i))); ok {
			out[i] = j
		} else {
			out[i] = -1
		}
	}
	return out
}

// rebuildItem makes a new-world item from old seed indices.
func rebuildItem(id string, old *item, users []int32, remap []int32, maxSeeds int) *item {
	nit := newItem(id, old.created)
	nit.last.Store(old.last.Load())
	for _, u := range users {
		if j := remap[u]; j >= 0 {
			nit.add(j, maxSeeds)
		}
	}
	nit.version = 1
	return nit
}

// droppedUsers returns the external ids of seeds that have no new-world user.
func droppedUsers(s *userSnap, users []int32, remap []int32) map[string]bool {
	var drop map[string]bool
	for _, u := range users {
		if remap[u] < 0 {
			if drop == nil {
				drop = make(map[string]bool)
			}
			drop[s.id(u)] = true
		}
	}
	return drop
}

// buildAll re-clusters items of a world that is not yet published, in
// parallel, with no warm start. An item that fails stays cold and is queued
// for the worker; only cancellation is an error.
func (e *Engine) buildAll(ctx context.Context, w *world, items []*item) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range e.opts.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return
				}
				// A failed re-cluster schedules its own retry (reclusterFailed).
				e.buildItem(ctx, w, items[i], false)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}
