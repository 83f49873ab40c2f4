package serve

import (
	"context"
	"testing"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
	"github.com/ralmlab/ralm/ralm/offline"
)

// TestOfflineOnlineParity checks that the engine (no click ingested) and
// offline scoring give bit-identical scores, statuses and audiences for the
// same model folder: both build an item's state from its seeds in user id
// order with lookalike.Model.NewItem, although the engine receives the seeds
// in click order. Warm items and, with a high MinSeeds, cold ones.
func TestOfflineOnlineParity(t *testing.T) {
	s, m := testworld.Small(t)
	b := testworld.Bundle(s, m)
	var items []string
	for i := range b.Seeds.Items.Len() {
		items = append(items, b.Seeds.Items.ID(int32(i)))
	}
	items = append(items, "123456") // unknown
	cases := []struct {
		name     string
		minSeeds int
		status   bundle.Status
	}{
		{"warm", 10, bundle.StatusOK},
		{"cold", 31, bundle.StatusCold},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := openTest(t, t.TempDir(), Options{MinSeeds: tc.minSeeds, MaxSeeds: 64})
			defer e.Close()
			opt := offline.Options{MinSeeds: tc.minSeeds}
			for _, u := range []int{0, 7, 123} {
				uid := s.UserID(u)
				got, err := e.Score(ctx, uid, items)
				if err != nil {
					t.Fatal(err)
				}
				want, err := offline.ScoreItems(ctx, b, uid, items, opt)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("user %s item %s: engine %+v, offline %+v", uid, items[i], got[i], want[i])
					}
				}
				if got[0].Status != tc.status {
					t.Fatalf("item %s: status %s, want %s", items[0], got[0].Status, tc.status)
				}
			}
			for _, id := range items[:3] {
				a, err := e.Audience(ctx, id, 50)
				if err != nil {
					t.Fatal(err)
				}
				x, err := offline.ExpandItem(ctx, b, id, 50, opt)
				if err != nil {
					t.Fatal(err)
				}
				if a.Status != x.Status || len(a.Users) != len(x.Users) || a.Seeds != x.Seeds {
					t.Fatalf("item %s: engine %s %d users %d seeds, offline %s %d users %d seeds",
						id, a.Status, len(a.Users), a.Seeds, x.Status, len(x.Users), x.Seeds)
				}
				for r := range a.Users {
					if a.Users[r] != x.Users[r] {
						t.Fatalf("item %s rank %d: engine %+v, offline %+v", id, r+1, a.Users[r], x.Users[r])
					}
				}
			}
		})
	}
}
