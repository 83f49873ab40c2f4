package serve

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/redistest"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
)

// TestReplicaFailedReclusterStatus (issue 14, point 3; issue 12, Redis
// path): an item whose re-cluster by replica A's worker fails has the
// status failed with the reason in Item, Score and Stats on A and on
// replica B, which runs no worker (the failure is shared in Redis); A's
// worker does not try it again until its seeds change, and once a
// re-cluster succeeds both report it ok.
func TestReplicaFailedReclusterStatus(t *testing.T) {
	srv := redistest.Start(t)
	s, m := testworld.Small(t)
	b := testworld.Bundle(s, m)
	ctx := context.Background()
	cfg := redisstore.Config{URL: srv.URL(), Prefix: "failed"}
	var mu sync.Mutex
	broken, tries := true, 0
	ra := openTestReplica(t, b, cfg, ReplicaOptions{
		Workers: 1, MinSeeds: 10, MaxSeeds: 1000, ReclusterInterval: 20 * time.Millisecond,
		Hooks: Hooks{OnRecluster: func(ev ReclusterEvent) {
			if ev.ItemID == "9001" {
				mu.Lock()
				tries++
				mu.Unlock()
			}
		}},
		buildFault: func(id string) error {
			mu.Lock()
			defer mu.Unlock()
			if id == "9001" && broken {
				return errors.New("kmeans: point 3 is +Inf")
			}
			return nil
		},
	})
	rb := openTestReplica(t, b, cfg, ReplicaOptions{MinSeeds: 10, MaxSeeds: 1000})
	count := func() int { mu.Lock(); defer mu.Unlock(); return tries }
	clicks := func(from, to int) {
		t.Helper()
		var batch []Click
		for i := from; i < to; i++ {
			batch = append(batch, Click{UserID: s.UserID(i), ItemID: "9001"})
		}
		if res, err := ra.Clicks(ctx, batch); err != nil || res.Accepted != len(batch) {
			t.Fatalf("clicks: %+v %v", res, err)
		}
	}
	clicks(0, 12)
	waitFor(t, "the first re-cluster", 10*time.Second, func() bool { return count() == 1 })
	const reason = "re-cluster failed: kmeans: point 3 is +Inf"
	for _, r := range []struct {
		name string
		r    *Replica
	}{{"A (its worker failed)", ra}, {"B (no worker)", rb}} {
		waitFor(t, "replica "+r.name+" reports the failure", 5*time.Second, func() bool { return r.r.Stats().ItemsFailed == 1 })
		info, err := r.r.Item(ctx, "9001")
		if err != nil || info.Status != bundle.StatusFailed || info.Failure != reason || info.Seeds != 12 || info.Pending || info.Centroids != 0 {
			t.Errorf("replica %s: item %+v (%v), want status failed with the reason, 12 seeds, not pending", r.name, info, err)
		}
		sc, err := r.r.Score(ctx, s.UserID(40), []string{"9001"})
		if err != nil || len(sc) != 1 || sc[0].Status != bundle.StatusFailed || sc[0].Score != 0 {
			t.Errorf("replica %s: score %+v (%v), want status failed with score 0 (nothing built)", r.name, sc, err)
		}
		if _, err := r.r.Audience(ctx, "9001", 5); !errors.Is(err, bundle.ErrUnknownItem) || !strings.Contains(err.Error(), reason) {
			t.Errorf("replica %s: audience error %v, want an unknown item that names the failure", r.name, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // 25 intervals
	if n := count(); n != 1 {
		t.Errorf("%d re-clusters without new clicks, want 1", n)
	}
	mu.Lock()
	broken = false
	mu.Unlock()
	clicks(12, 13)
	for _, r := range []*Replica{ra, rb} {
		waitFor(t, "a good re-cluster after the change", 10*time.Second, func() bool {
			info, err := r.Item(ctx, "9001")
			return err == nil && info.Status == bundle.StatusOK && info.Failure == "" && info.Seeds == 13
		})
		if st := r.Stats(); st.ItemsFailed != 0 {
			t.Errorf("stats count %d failed items after the good re-cluster", st.ItemsFailed)
		}
		if sc, err := r.Score(ctx, s.UserID(40), []string{"9001"}); err != nil || sc[0].Status != bundle.StatusOK || sc[0].Score == 0 {
			t.Errorf("score after the good re-cluster: %+v (%v)", sc, err)
		}
	}
}

// TestReplicaSwitchPastFailedBuild (issue 12): a new model is published
// while one item's build fails on every try with it. The replica still
// switches to the new generation (the failed state counts for the switch),
// every response during the switch comes whole from one model (the old
// one, or the new one with the item failed and scored 0, never its old
// state), and the item reports the failure. Without the shared failed
// state the replica stays on the old model for good.
func TestReplicaSwitchPastFailedBuild(t *testing.T) {
	s, m1, dir1, dir2 := twoModelFolders(t)
	items := allItems(testworld.Bundle(s, m1))
	bad := items[0]
	for _, tc := range []struct {
		name  string
		redis func(t *testing.T) redisstore.Config
	}{
		{"standalone", func(t *testing.T) redisstore.Config { return redisstore.Config{URL: redistest.Start(t).URL()} }},
		{"cluster", func(t *testing.T) redisstore.Config {
			return redisstore.Config{ClusterAddrs: redistest.StartCluster(t, 3).Addrs()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			broken := false
			r, err := OpenReplica(ctx, dir1, ReplicaOptions{Redis: tc.redis(t), Workers: 1, MinSeeds: 10, MaxSeeds: 1000,
				ReclusterInterval: time.Hour, MirrorBlock: 50 * time.Millisecond, WorkerBatch: 100,
				buildFault: func(id string) error {
					mu.Lock()
					defer mu.Unlock()
					if id == bad && broken {
						return errors.New("kmeans: point 3 is +Inf")
					}
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			uid := s.UserID(3)
			score := func() []bundle.ItemScore {
				sc, err := r.Score(ctx, uid, items)
				if err != nil {
					t.Fatal(err)
				}
				return sc
			}
			var first []bundle.ItemScore
			waitFor(t, "every item ok with the first model", 20*time.Second, func() bool {
				first = score()
				return !slices.ContainsFunc(first, func(x bundle.ItemScore) bool { return x.Status != bundle.StatusOK })
			})
			gen1 := r.Generation()
			mu.Lock()
			broken = true // every build of the item from now on: with the second model
			mu.Unlock()
			done := make(chan error, 1)
			go func() { done <- r.Reload(ctx, dir2) }()
			var seen [][]bundle.ItemScore
			deadline := time.Now().Add(20 * time.Second)
			for r.Generation() == gen1 {
				if time.Now().After(deadline) {
					items, at := r.mirror.Coverage(gen1 + 1)
					t.Fatalf("the replica did not switch to the new generation in 20 s (%d of %d items have a state of it)", at, items)
				}
				seen = append(seen, score())
				time.Sleep(time.Millisecond)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			final := score()
			for i, x := range final {
				want := bundle.StatusOK
				if x.ItemID == bad {
					want = bundle.StatusFailed
				}
				if x.Status != want || (x.ItemID == bad) != (x.Score == 0) {
					t.Errorf("after the switch: item %d %+v, want status %s (score 0 only for the failed item)", i, x, want)
				}
			}
			if slices.Equal(final[1:], first[1:]) {
				t.Fatal("the second model scores like the first: the test cannot tell them apart")
			}
			for i, sc := range seen {
				if !slices.Equal(sc, first) && !slices.Equal(sc, final) {
					t.Fatalf("response %d of %d during the switch mixes models:\n%v\nfirst %v\nfinal %v", i, len(seen), sc, first, final)
				}
			}
			info, err := r.Item(ctx, bad)
			if err != nil || info.Status != bundle.StatusFailed || !strings.Contains(info.Failure, "kmeans: point 3 is +Inf") || info.Centroids != 0 {
				t.Errorf("failed item after the switch: %+v (%v)", info, err)
			}
			if st := r.Stats(); st.ItemsFailed != 1 || st.ItemsOK != len(items)-1 {
				t.Errorf("stats after the switch: %d failed, %d ok of %d items", st.ItemsFailed, st.ItemsOK, len(items))
			}
			t.Logf("%d responses during the switch, each from one model", len(seen))
		})
	}
}
