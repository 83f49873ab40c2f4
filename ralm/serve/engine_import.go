package serve

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ralmlab/ralm/internal/shard"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// importGroupSeeds is about how many training clicks one import
// transaction carries (whole items: an item's clicks are never split).
const importGroupSeeds = 1 << 20

// importLogEvery is how often the import of training seeds logs its progress.
const importLogEvery = 5 * time.Second

// seedClick is one training click of an import: the user's index in the
// user table of the world it was grouped in, and the click time (Unix ns).
type seedClick struct {
	u   int32
	seq int32 // position among the item's clicks in the click log: ties of ts keep that order
	ts  int64
}

// importItem is the training clicks of one item, oldest first (ties in
// the order of the click log).
type importItem struct {
	id    string
	seeds []seedClick
}

// importFingerprint is the clicks fingerprint a bundle's import is recorded
// under (computed if the manifest has none).
func importFingerprint(b *bundle.Bundle) string {
	if b.ClicksFingerprint != "" {
		return b.ClicksFingerprint
	}
	return bundle.FingerprintClicks(b.Seeds)
}

// importSeeds imports a bundle's training clicks (fingerprint fp) unless
// that click log was imported before (always when fresh: the store's
// first import, whose leftovers restore discarded). The clicks are grouped
// by item in one linear pass and sorted by time within each item (on every
// core), then applied item by item through the committer, which appends
// each item's clicks to its seeds exactly as the same clicks sent in time
// order as click batches would (latest MaxSeeds distinct users), and
// writes them in place in large transactions (Store.Apply) of whole items
// in key order. The imported marker goes last, in its own transaction
// (with the bundle id on a fresh store), so an import cut short is done
// again: from scratch on a fresh store (see restore); on a store with
// items (a new folder served on an old store, Reload), the clicks merge
// into the items' seeds and the items already done see their clicks
// again, as duplicates. Clicks by users without an embedding are skipped
// with a warning.
func (e *Engine) importSeeds(ctx context.Context, b *bundle.Bundle, fp string, fresh bool) error {
	if !fresh {
		done, err := e.store.Imported(fp)
		if err != nil || done {
			return err
		}
	}
	start := time.Now()
	w := e.world.Load()
	groups, skipped := groupSeeds(w, b)
	total := 0
	for _, g := range groups {
		total += len(g.seeds)
	}
	e.log.Info("importing the model folder's training seeds", "clicks", total, "items", len(groups))
	var done atomic.Int64
	stopLog := logEvery(importLogEvery, func() {
		n, s := done.Load(), time.Since(start).Seconds()
		e.log.Info("importing training seeds", "clicks", n, "of", total, "seconds", int(s), "clicks_per_s", int(float64(n)/s))
	})
	err := e.submitImport(ctx, w, groups, &done, &skipped)
	stopLog()
	if err != nil {
		return fmt.Errorf("import training seeds: %w", err)
	}
	if skipped > 0 {
		e.log.Warn("training seeds by users without an embedding were skipped", "clicks", skipped)
	}
	r := &commitReq{op: opImported, fp: fp}
	if fresh {
		r.bundle = b.ID
	}
	if err := e.submit(ctx, r); err != nil {
		return fmt.Errorf("import training seeds: %w", err)
	}
	if r.err != nil {
		return fmt.Errorf("import training seeds: %w", r.err)
	}
	took := time.Since(start).Seconds()
	e.log.Info("training seeds imported", "clicks", total, "items", len(groups), "seconds", took, "clicks_per_s", int(float64(total)/took))
	return nil
}

// submitImport sends the grouped clicks to the committer in requests of
// about importGroupSeeds clicks, counting the clicks sent in done and the
// ones the committer refused in skipped.
func (e *Engine) submitImport(ctx context.Context, w *world, groups []importItem, done *atomic.Int64, skipped *int) error {
	for off := 0; off < len(groups); {
		end, n := off, 0
		for end < len(groups) && (end == off || n+len(groups[end].seeds) <= importGroupSeeds) {
			n += len(groups[end].seeds)
			end++
		}
		r := &commitReq{op: opSeeds, seeds: groups[off:end], nseeds: n, from: w}
		if err := e.submit(ctx, r); err != nil {
			return err
		}
		if r.err != nil {
			return r.err
		}
		*skipped += len(r.res.Rejected)
		done.Add(int64(n))
		off = end
	}
	return nil
}

// groupSeeds groups a bundle's training clicks by item: one entry per item
// with clicks by users of w's table, in item key order (byte-wise, the
// store's), each item's clicks sorted by time (stable: ties keep the click
// log's order). It also returns the number of clicks by users without an
// embedding, which it leaves out. Linear apart from the per-item sorts,
// which run on every core.
func groupSeeds(w *world, b *bundle.Bundle) ([]importItem, int) {
	c := b.Seeds
	snap := w.users.load()
	// The click log's user indices in w's table (-1: no embedding).
	user := make([]int32, c.Users.Len())
	for i := range user {
		if u, ok := w.users.lookup(snap, c.Users.ID(int32(i))); ok {
			user[i] = u
		} else {
			user[i] = -1
		}
	}
	nItems := c.Items.Len()
	start := make([]int, nItems+1) // counting sort by item
	skipped := 0
	for k, it := range c.Item {
		if user[c.User[k]] < 0 {
			skipped++
			continue
		}
		start[it+1]++
	}
	for i := range nItems {
		start[i+1] += start[i]
	}
	all := make([]seedClick, start[nItems])
	fill := slices.Clone(start[:nItems])
	for k, it := range c.Item {
		if u := user[c.User[k]]; u >= 0 {
			all[fill[it]] = seedClick{u: u, seq: int32(fill[it] - start[it]), ts: c.TS[k]}
			fill[it]++
		}
	}
	groups := make([]importItem, 0, nItems)
	for i := range nItems {
		if start[i] < start[i+1] {
			groups = append(groups, importItem{id: c.Items.ID(int32(i)), seeds: all[start[i]:start[i+1]:start[i+1]]})
		}
	}
	_ = shard.Chunks(context.Background(), "sort training seeds", len(groups), 64, func() func(lo, hi int) error {
		return func(lo, hi int) error {
			for _, g := range groups[lo:hi] {
				slices.SortFunc(g.seeds, func(a, b seedClick) int {
					return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq))
				})
			}
			return nil
		}
	}) // never fails: no error, no deadline
	slices.SortFunc(groups, func(a, b importItem) int { return strings.Compare(a.id, b.id) })
	return groups, skipped
}
