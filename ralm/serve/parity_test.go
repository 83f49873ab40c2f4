package serve

import (
	"context"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
	"github.com/ralmlab/ralm/ralm/offline"
)

// newAttrItem is an item with attributes and no click in the features case.
const newAttrItem = "777777"

// TestOfflineOnlineParity checks that the engine (no click ingested) and
// offline scoring give bit-identical scores, statuses and audiences for the
// same model folder: both build an item's state from its seeds in user id
// order with lookalike.Model.NewItem, although the engine receives the seeds
// in click order. Warm items; with a high MinSeeds, cold ones; and with
// attributes (the engine's SetItemAttributes, offline's Options.Attributes
// with the same values) features items, one of them without clicks, beside
// cold ones.
func TestOfflineOnlineParity(t *testing.T) {
	s, m := testworld.Small(t)
	cs := testworld.SmallColdStart(t)
	b := testworld.BundleWithColdStart(s, m, cs)
	var items []string
	for i := range b.Seeds.Items.Len() {
		items = append(items, b.Seeds.Items.ID(int32(i)))
	}
	items = append(items, "123456") // unknown
	// attributes: every even item of the folder, and one new item
	attrs := testworld.ItemsTable(s)
	comm := attrs.Columns[0]
	attrs.Keys.MustAdd(newAttrItem)
	comm.Codes = append(comm.Codes, 1)
	comm.Offsets = append(comm.Offsets, int32(len(comm.Codes)))
	attrs.Columns[0] = comm
	evenAttrs := &data.Table{Keys: data.NewVocab(attrs.Keys.Kind()), Columns: []data.Column{{Name: comm.Name, Kind: comm.Kind, Values: comm.Values, Offsets: []int32{0}}}}
	ec := &evenAttrs.Columns[0]
	for r := range attrs.Rows() {
		if id := attrs.Keys.ID(int32(r)); r%2 == 0 || id == newAttrItem {
			evenAttrs.Keys.MustAdd(id)
			ec.Codes = append(ec.Codes, comm.Row(r)...)
			ec.Offsets = append(ec.Offsets, int32(len(ec.Codes)))
		}
	}
	cases := []struct {
		name     string
		minSeeds int
		attrs    *data.Table
		status   []bundle.Status // of items[0], items[1] and the last item scored
	}{
		{"warm", 10, nil, []bundle.Status{bundle.StatusOK, bundle.StatusOK, bundle.StatusUnknownItem}},
		{"cold", 31, nil, []bundle.Status{bundle.StatusCold, bundle.StatusCold, bundle.StatusUnknownItem}},
		{"features", 31, evenAttrs, []bundle.Status{bundle.StatusFeatures, bundle.StatusCold, bundle.StatusFeatures}},
		{"warm with attributes", 10, evenAttrs, []bundle.Status{bundle.StatusOK, bundle.StatusOK, bundle.StatusFeatures}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := openColdStart(t, t.TempDir(), Options{MinSeeds: tc.minSeeds, MaxSeeds: 64})
			defer e.Close()
			ids := items
			if tc.attrs != nil {
				ids = append(ids[:len(ids):len(ids)], newAttrItem)
				for r := range tc.attrs.Rows() {
					vals := map[string][]string{comm.Name: {comm.Values.ID(tc.attrs.Columns[0].Row(r)[0])}}
					if _, err := e.SetItemAttributes(ctx, tc.attrs.Keys.ID(int32(r)), vals); err != nil {
						t.Fatal(err)
					}
				}
			}
			opt := offline.Options{MinSeeds: tc.minSeeds, Attributes: tc.attrs}
			for _, u := range []int{0, 7, 123} {
				uid := s.UserID(u)
				got, err := e.Score(ctx, uid, ids)
				if err != nil {
					t.Fatal(err)
				}
				want, err := offline.ScoreItems(ctx, b, uid, ids, opt)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("user %s item %s: engine %+v, offline %+v", uid, ids[i], got[i], want[i])
					}
				}
				for i, st := range []bundle.Status{got[0].Status, got[1].Status, got[len(got)-1].Status} {
					if st != tc.status[i] {
						t.Fatalf("status %d: %s, want %s (%+v)", i, st, tc.status[i], got)
					}
				}
			}
			audIDs := append(ids[:3:3], ids[len(ids)-1])
			for _, id := range audIDs {
				a, errE := e.Audience(ctx, id, 50)
				x, errO := offline.ExpandItem(ctx, b, id, 50, opt)
				if (errE != nil) != (errO != nil) {
					t.Fatalf("item %s: engine error %v, offline error %v", id, errE, errO)
				}
				if errE != nil {
					continue // unknown in both
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
