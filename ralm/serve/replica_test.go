package serve

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/redistest"
	"github.com/ralmlab/ralm/lookalike"
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

// TestReplicaReloadNoMix publishes a second model (Reload with a new
// folder) while a client scores without pause: every response comes whole
// from the first model or whole from the second, never a mix, and the
// replica ends on the second generation with every item ok, still
// knowing a user upserted before the switch.
func TestReplicaReloadNoMix(t *testing.T) {
	srv := redistest.Start(t)
	s, m1, dir1, dir2 := twoModelFolders(t)
	ctx := context.Background()
	opts := ReplicaOptions{Redis: redisstore.Config{URL: srv.URL()}, Workers: 1, MinSeeds: 10, MaxSeeds: 1000,
		ReclusterInterval: time.Hour, MirrorBlock: 50 * time.Millisecond, WorkerBatch: 100}
	r, err := OpenReplica(ctx, dir1, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	items := allItems(testworld.Bundle(s, m1))
	uid := s.UserID(3)
	allOK := func() ([]bundle.ItemScore, bool) {
		sc, err := r.Score(ctx, uid, items)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range sc {
			if x.Status != bundle.StatusOK {
				return sc, false
			}
		}
		return sc, true
	}
	var first []bundle.ItemScore
	waitFor(t, "every item ok with the first model", 20*time.Second, func() bool {
		var ok bool
		first, ok = allOK()
		return ok
	})
	gen1 := r.Generation()
	// A user upserted on the first model that neither model embeds is
	// served by the second too (carried over, as the embedded engine does).
	const upserted = "999001"
	vec := make([]float32, s.Emb.Dim)
	for j := range vec {
		vec[j] = 0.05 * float32(j%7)
	}
	if err := r.UpsertUser(ctx, upserted, UserInput{Vector: vec}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Reload(ctx, dir2) }()
	var seen [][]bundle.ItemScore
	deadline := time.Now().Add(20 * time.Second)
	for r.Generation() == gen1 {
		if time.Now().After(deadline) {
			t.Fatal("the replica did not switch to the new generation in 20 s")
		}
		sc, _ := allOK()
		seen = append(seen, sc)
		time.Sleep(time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	final, ok := allOK()
	if !ok || r.ModelID() == testworld.Bundle(s, m1).ID {
		t.Fatalf("after the switch: model %s, scores %v", r.ModelID(), final)
	}
	if slices.Equal(final, first) {
		t.Fatal("the second model scores like the first: the test cannot tell them apart")
	}
	if _, err := r.Score(ctx, upserted, items); err != nil {
		t.Fatalf("upserted user after the new model: %v", err)
	}
	for i, sc := range seen {
		if !slices.Equal(sc, first) && !slices.Equal(sc, final) {
			t.Fatalf("response %d of %d during the switch mixes models:\n%v\nfirst %v\nfinal %v", i, len(seen), sc, first, final)
		}
	}
	t.Logf("%d responses during the switch, each from one model", len(seen))
}

// TestReplicasStartTogether starts three replicas at once on an empty
// Redis: one publishes the model, the others wait for it, and all serve
// generation 1.
func TestReplicasStartTogether(t *testing.T) {
	srv := redistest.Start(t)
	s, m := testworld.Small(t)
	b := testworld.Bundle(s, m)
	var wg sync.WaitGroup
	gens := make([]int64, 3)
	for i := range gens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := openReplica(context.Background(), b, "", ReplicaOptions{Redis: redisstore.Config{URL: srv.URL()}, MinSeeds: 10, MaxSeeds: 1000})
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			gens[i] = r.Generation()
		}()
	}
	wg.Wait()
	if !slices.Equal(gens, []int64{1, 1, 1}) {
		t.Fatalf("generations served: %v, want 1 for all", gens)
	}
}

// TestReplicaAudienceLimit: an audience over AudienceUsers users is refused
// with an error naming the limit (not as a Redis failure).
func TestReplicaAudienceLimit(t *testing.T) {
	srv := redistest.Start(t)
	s, m := testworld.Small(t)
	b := testworld.Bundle(s, m)
	r := openTestReplica(t, b, redisstore.Config{URL: srv.URL()}, ReplicaOptions{Workers: 1, MinSeeds: 10, MaxSeeds: 1000, AudienceUsers: 50})
	item := allItems(b)[0]
	waitFor(t, "item built", 20*time.Second, func() bool { return r.mirror.State(item) != nil })
	_, err := r.Audience(context.Background(), item, 10)
	if err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "more than 50 users") {
		t.Fatalf("err = %v, want the AudienceUsers limit", err)
	}
}

// twoModelFolders trains a second model of testworld.Small's users and
// writes both models' folders: the world, the first model and the folders.
func twoModelFolders(t *testing.T) (s *testworld.Synth, m1 *lookalike.Model, dir1, dir2 string) {
	t.Helper()
	s, m1 = testworld.Small(t)
	m2, err := testworld.TrainModel(s, 4, 1) // another model of the same users
	if err != nil {
		t.Fatal(err)
	}
	dir1, dir2 = t.TempDir()+"/m1", t.TempDir()+"/m2"
	for _, x := range []struct {
		dir string
		m   *lookalike.Model
	}{{dir1, m1}, {dir2, m2}} {
		if err := bundle.Write(x.dir, &bundle.Bundle{LookAlike: x.m, Embeddings: s.Emb, Seeds: s.Clicks}); err != nil {
			t.Fatal(err)
		}
	}
	return s, m1, dir1, dir2
}
