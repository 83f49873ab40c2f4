package serve

import (
	"context"
	"testing"
)

// countingStore is a Store that counts the engine's calls into another one.
type countingStore struct {
	Store
	commits, closes int
}

func (c *countingStore) Commit(b *Batch) error { c.commits++; return c.Store.Commit(b) }
func (c *countingStore) Close() error          { c.closes++; return c.Store.Close() }

// TestOptionsStore checks that an engine given Options.Store writes through
// it (not through a store of its own), closes it once, and finds the clicks
// there when reopened on the same store backend.
func TestOptionsStore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for _, round := range []struct {
		name      string
		click     bool
		wantSeeds int
	}{
		{"first open", true, 1},
		{"reopen", false, 1},
	} {
		bst, err := OpenBoltStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		cs := &countingStore{Store: bst}
		e := openTest(t, "", Options{Store: cs})
		if round.click {
			if err := e.Click(ctx, Click{UserID: "1000", ItemID: "9001"}); err != nil {
				t.Fatalf("%s: click: %v", round.name, err)
			}
		}
		if got := len(seedSet(t, e, "9001")); got != round.wantSeeds {
			t.Errorf("%s: item 9001 has %d seeds, want %d", round.name, got, round.wantSeeds)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if round.click && cs.commits == 0 {
			t.Errorf("%s: the click was not committed through Options.Store", round.name)
		}
		if cs.closes != 1 {
			t.Errorf("%s: store closed %d times, want 1", round.name, cs.closes)
		}
	}
}
