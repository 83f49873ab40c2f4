package serve

import (
	"context"
	"fmt"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
	"testing"
	"time"
)

// openTest opens an engine on the small bundle with test-friendly options.
func openTest(tb testing.TB, dir string, opts Options) *Engine {
	tb.Helper()
	s, m := testworld.Small(tb)
	opts.DataDir = dir
	if opts.ReclusterInterval == 0 {
		opts.ReclusterInterval = time.Hour
	}
	e, err := openWithBundle(context.Background(), testworld.Bundle(s, m), opts)
	if err != nil {
		tb.Fatalf("open engine: %v", err)
	}
	return e
}

// seedSet returns the external ids of an item's seeds in arrival order.
func seedSet(tb testing.TB, e *Engine, itemID string) []string {
	tb.Helper()
	w := e.world.Load()
	v, ok := w.items.Load(itemID)
	if !ok {
		return nil
	}
	it := v.(*item)
	it.mu.Lock()
	defer it.mu.Unlock()
	snap := w.users.load()
	var out []string
	for _, u := range it.seeds() {
		out = append(out, snap.id(u))
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func itemID(i int) string { return fmt.Sprint(i) }
