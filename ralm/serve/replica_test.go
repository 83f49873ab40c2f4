package serve

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/redistest"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
)

// openTestReplica opens a replica on the small bundle.
func openTestReplica(tb testing.TB, b *bundle.Bundle, cfg redisstore.Config, opts ReplicaOptions) *Replica {
	tb.Helper()
	opts.Redis = cfg
	if opts.MirrorBlock == 0 {
		opts.MirrorBlock = 50 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := openReplica(ctx, b, "", opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// allItems lists the bundle's items.
func allItems(b *bundle.Bundle) []string {
	var items []string
	for i := range b.Seeds.Items.Len() {
		items = append(items, b.Seeds.Items.ID(int32(i)))
	}
	return items
}

// TestReplicaEngineParity checks that Redis mode and the embedded engine
// give bit-identical scores, statuses and audiences for the same model and
// seeds (the bundle's training seeds, built once from scratch by each):
// both build item states with lookalike.Model.NewItem in user id order.
func TestReplicaEngineParity(t *testing.T) {
	srv := redistest.Start(t)
	s, m := testworld.Small(t)
	b := testworld.Bundle(s, m)
	items := append(allItems(b), "123456") // the last one is unknown
	for _, tc := range []struct {
		name     string
		minSeeds int
		status   bundle.Status
	}{
		{"warm", 10, bundle.StatusOK},
		{"cold", 31, bundle.StatusCold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := openTest(t, t.TempDir(), Options{MinSeeds: tc.minSeeds, MaxSeeds: 1000})
			defer e.Close()
			r := openTestReplica(t, b, redisstore.Config{URL: srv.URL(), Prefix: "parity-" + tc.name},
				ReplicaOptions{Workers: 1, MinSeeds: tc.minSeeds, MaxSeeds: 1000, ReclusterInterval: time.Hour})
			waitFor(t, "every item built in redis", 20*time.Second, func() bool {
				st := r.Stats()
				return st.Items == len(items)-1
			})
			for _, u := range []int{0, 7, 123} {
				uid := s.UserID(u)
				want, err := e.Score(ctx, uid, items)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Score(ctx, uid, items)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] || math.Float32bits(got[i].Score) != math.Float32bits(want[i].Score) {
						if st := r.mirror.State(items[i]); st != nil {
							t.Logf("state seeds %d ver %d k %d; worker %+v", st.Seeds, st.Ver, st.K, r.workers[0].Stats())
						}
						t.Fatalf("user %s item %s: redis %+v, engine %+v", uid, items[i], got[i], want[i])
					}
				}
				if got[0].Status != tc.status || got[len(got)-1].Status != bundle.StatusUnknownItem {
					t.Fatalf("statuses %s and %s", got[0].Status, got[len(got)-1].Status)
				}
			}
			for _, id := range items[:3] {
				want, err := e.Audience(ctx, id, 50)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Audience(ctx, id, 50)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != want.Status || got.Seeds != want.Seeds || !slices.Equal(got.Users, want.Users) {
					t.Fatalf("item %s audience: redis %v %d %v, engine %v %d %v", id, got.Status, got.Seeds, got.Users[:3], want.Status, want.Seeds, want.Users[:3])
				}
			}
		})
	}
}
