package serve

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
)

// TestBulkImportMatchesClicks: the bulk first import of a folder's
// training seeds gives every item the seeds (same users, same order) that
// the same clicks sent in time order through Clicks give, with MaxSeeds
// trimming, repeated users and ties of time in the log; a restart restores
// them unchanged.
func TestBulkImportMatchesClicks(t *testing.T) {
	s, m := testworld.Small(t)
	ctx := context.Background()
	c := s.Clicks
	// Add repeated clicks and ties of time: every 7th click again, at the
	// time of the click before it.
	mixed := &data.Clicks{Users: c.Users, Items: c.Items,
		User: slices.Clone(c.User), Item: slices.Clone(c.Item), TS: slices.Clone(c.TS)}
	for k := 7; k < c.Len(); k += 7 {
		mixed.User = append(mixed.User, c.User[k])
		mixed.Item = append(mixed.Item, c.Item[k])
		mixed.TS = append(mixed.TS, c.TS[k-1])
	}
	b := testworld.Bundle(s, m)
	b.Seeds = mixed
	opts := Options{MinSeeds: 5, MaxSeeds: 7, ReclusterInterval: time.Hour}

	bulkDir := t.TempDir()
	opts.DataDir = bulkDir
	bulk, err := openWithBundle(ctx, b, opts)
	if err != nil {
		t.Fatal(err)
	}

	empty := testworld.Bundle(s, m)
	empty.Seeds = &data.Clicks{Users: c.Users, Items: c.Items}
	opts.DataDir = t.TempDir()
	ref, err := openWithBundle(ctx, empty, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	order := make([]int, mixed.Len())
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(mixed.TS[a], mixed.TS[b]) })
	var batch []Click
	for _, k := range order {
		batch = append(batch, Click{UserID: c.Users.ID(mixed.User[k]), ItemID: c.Items.ID(mixed.Item[k]), Time: time.Unix(0, mixed.TS[k])})
	}
	for len(batch) > 0 {
		n := min(len(batch), 500)
		if _, err := ref.Clicks(ctx, batch[:n]); err != nil {
			t.Fatal(err)
		}
		batch = batch[n:]
	}

	check := func(what string, e *Engine) {
		t.Helper()
		full := 0
		defer func() {
			if full == 0 {
				t.Fatalf("%s: no item reached MaxSeeds: the trimming is not exercised", what)
			}
		}()
		for i := range c.Items.Len() {
			id := c.Items.ID(int32(i))
			got, want := seedSet(t, e, id), seedSet(t, ref, id)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: item %s: seeds %v, through Clicks %v", what, id, got, want)
			}
			if len(got) == opts.MaxSeeds {
				full++
			}
		}
	}
	check("bulk import", bulk)
	if err := bulk.Close(); err != nil {
		t.Fatal(err)
	}
	opts.DataDir = bulkDir
	again, err := openWithBundle(ctx, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	check("after a restart", again)
}

// markerFails is a store whose writes of the imported marker fail: the
// training seeds of a first import are written, the marker is not.
type markerFails struct{ Store }

var errMarker = errors.New("marker write failed (test)")

func (s markerFails) Commit(b *Batch) error {
	if len(b.Imports) > 0 {
		return errMarker
	}
	return s.Store.Commit(b)
}

func (s markerFails) Apply(b *Batch) error {
	if len(b.Imports) > 0 {
		return errMarker
	}
	return s.Store.Apply(b)
}

// TestCutShortImportRedone: a first import cut short after its seeds were
// written but before its marker leaves a store that the next start
// imports into from scratch: started on another folder (here: one with
// half the training clicks), every item ends with that folder's seeds
// alone, as on a store that never saw the first.
func TestCutShortImportRedone(t *testing.T) {
	s, m := testworld.Small(t)
	ctx := context.Background()
	b := testworld.Bundle(s, m)
	c := s.Clicks
	half := testworld.Bundle(s, m)
	half.Seeds = &data.Clicks{Users: c.Users, Items: c.Items}
	for k := 0; k < c.Len(); k += 2 {
		half.Seeds.User = append(half.Seeds.User, c.User[k])
		half.Seeds.Item = append(half.Seeds.Item, c.Item[k])
		half.Seeds.TS = append(half.Seeds.TS, c.TS[k])
	}
	opts := Options{MinSeeds: 5, MaxSeeds: 1000, ReclusterInterval: time.Hour} // no trimming: leftovers would stay

	opts.DataDir = t.TempDir()
	ref, err := openWithBundle(ctx, half, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()

	dir := t.TempDir()
	st, err := OpenBoltStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	cut := opts
	cut.DataDir, cut.Store = "", markerFails{st}
	if e, err := openWithBundle(ctx, b, cut); !errors.Is(err, errMarker) {
		if e != nil {
			e.Close()
		}
		t.Fatalf("open with a failing marker write: %v, want %v", err, errMarker)
	}
	// the seeds were written: the store holds items but no import
	left, err := OpenBoltStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	if err := left.LoadItems(func(*StoredItem) error { stored++; return nil }); err != nil {
		t.Fatal(err)
	}
	done, err := left.Imported(importFingerprint(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := left.Close(); err != nil {
		t.Fatal(err)
	}
	if stored == 0 || done {
		t.Fatalf("after the cut: %d stored items, imported %v; want leftovers and no marker", stored, done)
	}

	opts.DataDir = dir
	again, err := openWithBundle(ctx, half, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	compared := 0
	for i := range c.Items.Len() {
		id := c.Items.ID(int32(i))
		got, want := seedSet(t, again, id), seedSet(t, ref, id)
		if !slices.Equal(got, want) {
			t.Fatalf("item %s after the re-import: seeds %v, want %v", id, got, want)
		}
		compared += len(want)
	}
	if compared == 0 {
		t.Fatal("no seeds compared")
	}
}
