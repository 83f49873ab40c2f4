package offline

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
)

// TestColdOnOkScale checks issue #13's one score scale on planted data
// (users in 4 communities, each training item clicked by 30 users of one
// community): for users of community 0, a cold item whose 3 seeds are
// users of their community (their neighbours) scores exactly as an ok item
// of those seeds would, so it ranks above every ok item of another
// community; a cold item of 3 seeds from another community ranks below
// every ok item of their own community.
func TestColdOnOkScale(t *testing.T) {
	s, m := testworld.Small(t)
	b := *testworld.Bundle(s, m)
	ctx := context.Background()
	members := [][]int{s.Members(0), s.Members(1)}
	// two new items of 3 seeds each: near (community 0), far (community 1)
	const near, far = "9001", "9002"
	seeds := *b.Seeds
	seeds.Items = seeds.Items.Clone()
	seeds.User, seeds.Item, seeds.TS = slices.Clone(seeds.User), slices.Clone(seeds.Item), slices.Clone(seeds.TS)
	for c, id := range []string{near, far} {
		it := seeds.Items.MustAdd(id)
		for _, u := range members[c][:3] {
			seeds.User, seeds.Item, seeds.TS = append(seeds.User, int32(u)), append(seeds.Item, it), append(seeds.TS, 1)
		}
	}
	b.Seeds = &seeds

	var relevant, other []string // ok items of community 0, of the others
	for i := range s.Clicks.Items.Len() {
		if id := s.Clicks.Items.ID(int32(i)); i%s.NComm == 0 {
			relevant = append(relevant, id)
		} else {
			other = append(other, id)
		}
	}
	ids := slices.Concat([]string{near, far}, relevant, other)
	users := members[0][3:23] // 20 users of community 0, none a seed of near
	for _, u := range users {
		uid := strconv.Itoa(1000 + u)
		res, err := ScoreItems(ctx, &b, uid, ids, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ok, err := ScoreItems(ctx, &b, uid, ids[:2], Options{MinSeeds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for k := range 2 {
			if res[k].Status != bundle.StatusCold || ok[k].Status != bundle.StatusOK ||
				math.Float32bits(res[k].Score) != math.Float32bits(ok[k].Score) {
				t.Fatalf("user %s item %s: cold %+v, as an ok item %+v", uid, ids[k], res[k], ok[k])
			}
		}
		minRel, maxOther := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, r := range res[2:] {
			if r.Status != bundle.StatusOK {
				t.Fatalf("item %s: status %s", r.ItemID, r.Status)
			}
			if slices.Contains(relevant, r.ItemID) {
				minRel = min(minRel, r.Score)
			} else {
				maxOther = max(maxOther, r.Score)
			}
		}
		if !(res[0].Score > maxOther) {
			t.Errorf("user %s: cold item of neighbours %v does not outrank the other communities' ok items (best %v)", uid, res[0].Score, maxOther)
		}
		if !(res[1].Score < minRel) {
			t.Errorf("user %s: unrelated cold item %v outranks a relevant ok item (worst %v)", uid, res[1].Score, minRel)
		}
	}
}

// TestScoreItemsFeatures: with Options.Attributes, an item with fewer than
// MinSeeds seeds and a row scores ScoreOfLogit of the cold-start logit
// (status features), an ok item is unchanged, an item without a row keeps
// its status, and a table that does not fit the cold-start model is an
// error naming the column.
func TestScoreItemsFeatures(t *testing.T) {
	s, m := testworld.Small(t)
	cs := testworld.SmallColdStart(t)
	b := testworld.BundleWithColdStart(s, m, cs)
	ctx := context.Background()
	attrs := testworld.ItemsTable(s)
	uid := s.UserID(5)
	ids := []string{"1", "2", "424242"}
	plain, err := ScoreItems(ctx, b, uid, ids, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		minSeeds int
		want     []bundle.Status
	}{
		{"ok", 10, []bundle.Status{bundle.StatusOK, bundle.StatusOK, bundle.StatusUnknownItem}},
		{"features", 31, []bundle.Status{bundle.StatusFeatures, bundle.StatusFeatures, bundle.StatusUnknownItem}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ScoreItems(ctx, b, uid, ids, Options{MinSeeds: tc.minSeeds, Attributes: attrs})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Status != tc.want[i] {
					t.Fatalf("item %s: status %s, want %s", r.ItemID, r.Status, tc.want[i])
				}
				switch r.Status {
				case bundle.StatusOK:
					if r != plain[i] {
						t.Fatalf("item %s: %+v with attributes, %+v without", r.ItemID, r, plain[i])
					}
				case bundle.StatusFeatures:
					row, _ := attrs.Keys.Index(r.ItemID)
					a, _, _ := cs.Encoder().Row(attrs, int(row))
					it, _ := cs.Item(a)
					if want := m.ScoreOfLogit(cs.Logit(s.Emb.Vec(5), it)); math.Float32bits(r.Score) != math.Float32bits(want) {
						t.Fatalf("item %s: features score %v, ScoreOfLogit of the cold-start logit %v", r.ItemID, r.Score, want)
					}
				}
			}
		})
	}
	bad := *attrs
	bad.Columns = slices.Clone(attrs.Columns)
	bad.Columns[0].Name = "genre"
	if _, err := ScoreItems(ctx, b, uid, ids, Options{MinSeeds: 31, Attributes: &bad}); err == nil || !strings.Contains(err.Error(), "no column community") {
		t.Fatalf("a table without the model's column: %v", err)
	}
}
