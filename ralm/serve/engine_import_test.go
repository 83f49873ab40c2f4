package serve

import (
	"cmp"
	"context"
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
