package ralm

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/ralmlab/ralm/data"
)

// TestItemClickersMatchesFirstOccurrence checks ItemClickers against the
// plain definition (each item's distinct clickers' rows in order of first
// click) on a random log with repeated clicks and a shuffled row order.
func TestItemClickersMatchesFirstOccurrence(t *testing.T) {
	for _, size := range []struct{ users, items, clicks int }{{1, 1, 3}, {50, 7, 400}, {2000, 300, 20000}} {
		t.Run(strconv.Itoa(size.clicks), func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, uint64(size.clicks)))
			c := &data.Clicks{Users: data.NewVocab(data.IDString), Items: data.NewVocab(data.IDString)}
			for i := range size.items + 2 { // two items nobody clicks
				c.Items.MustAdd("i" + strconv.Itoa(i))
			}
			for range size.clicks {
				c.User = append(c.User, c.Users.MustAdd("u"+strconv.Itoa(r.IntN(size.users))))
				c.Item = append(c.Item, int32(r.IntN(size.items)))
				c.TS = append(c.TS, 0)
			}
			emb := data.NewVocab(data.IDString)
			for _, u := range r.Perm(c.Users.Len()) {
				emb.MustAdd(c.Users.ID(int32(u)))
			}
			want := make([][]int32, c.Items.Len())
			seen := map[[2]int32]bool{}
			for k, u := range c.User {
				row, _ := emb.Index(c.Users.ID(u))
				if key := [2]int32{c.Item[k], row}; !seen[key] {
					seen[key] = true
					want[c.Item[k]] = append(want[c.Item[k]], row)
				}
			}
			got, err := ItemClickers(c, emb)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("clickers differ from the first-occurrence listing")
			}
		})
	}
}
