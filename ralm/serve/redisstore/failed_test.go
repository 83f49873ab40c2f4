package redisstore

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/redistest"
)

// TestFailedBuildNotRetried (issue 14, point 3): an item whose re-cluster
// fails is counted and logged, keeps no new state, and is not tried again
// until it changes, however many intervals pass; the other items are built.
func TestFailedBuildNotRetried(t *testing.T) {
	sa := redistest.Start(t)
	s := openStore(t, Config{URL: sa.URL(), Prefix: "failed"})
	ctx := context.Background()
	publishUsers(t, s, "m", 6)
	var broken atomic.Bool
	broken.Store(true)
	var mu sync.Mutex
	tries := map[string]int{}
	count := func(item string) int { mu.Lock(); defer mu.Unlock(); return tries[item] }
	const interval = 20 * time.Millisecond
	w := newWorker(t, s, "w1", func(c *WorkerConfig) {
		c.ReclusterInterval = interval
		c.Build = func(ctx context.Context, m Model, item string, ids []string, seeds []float32, prev *State) (*State, error) {
			if item == "bad" && broken.Load() {
				return nil, errors.New("kmeans: point 0 is +Inf")
			}
			return meanBuilder(ctx, m, item, ids, seeds, prev)
		}
		c.OnBuild = func(item string, _ int, _ time.Duration, _ error) { mu.Lock(); tries[item]++; mu.Unlock() }
	})
	add := func(item string, users ...int) {
		t.Helper()
		var cs []Click
		for _, u := range users {
			cs = append(cs, Click{Item: item, User: "u" + strconv.Itoa(u)})
		}
		if err := s.Append(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	add("bad", 0, 1, 2)
	add("good", 0, 1, 2)
	runWorker(t, w)
	eventually(t, 5*time.Second, "both items tried", func() bool { return count("bad") == 1 && count("good") == 1 })
	time.Sleep(30 * interval) // a retry every interval would be 30 more tries
	if n := count("bad"); n != 1 || w.Stats().Failed != 1 {
		t.Errorf("failed item tried %d times without a change (failed count %d), want once", n, w.Stats().Failed)
	}
	if st, _ := s.LoadState(ctx, "bad"); st != nil {
		t.Errorf("failed item has a state: %+v", st)
	}
	if st, _ := s.LoadState(ctx, "good"); st == nil || st.Seeds != 3 {
		t.Errorf("good item's state %+v, want 3 seeds", st)
	}
	add("bad", 3) // a change: tried again, and fails again
	eventually(t, 5*time.Second, "a retry after the change", func() bool { return count("bad") == 2 })
	broken.Store(false)
	add("bad", 4)
	eventually(t, 5*time.Second, "the item built once it builds", func() bool {
		st, _ := s.LoadState(ctx, "bad")
		return st != nil && st.Seeds == 5
	})
	if n := w.Stats().Failed; n != 2 {
		t.Errorf("failed count %d, want 2", n)
	}
}
