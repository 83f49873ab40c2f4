package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/redistest"
)

// TestFailedBuildNotRetried (issue 14, point 3): an item whose re-cluster
// fails is counted and logged, gets a failed state (nothing built), and is
// not tried again until it changes, however many intervals pass; the other
// items are built.
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
	addClicks(t, s, "bad", 0, 1, 2)
	addClicks(t, s, "good", 0, 1, 2)
	runWorker(t, w)
	eventually(t, 5*time.Second, "both items tried", func() bool { return count("bad") == 1 && count("good") == 1 })
	time.Sleep(30 * interval) // a retry every interval would be 30 more tries
	if n := count("bad"); n != 1 || w.Stats().Failed != 1 {
		t.Errorf("failed item tried %d times without a change (failed count %d), want once", n, w.Stats().Failed)
	}
	if st, _ := s.LoadState(ctx, "bad"); st == nil || st.Failed == nil || st.Built() || st.K != 0 {
		t.Errorf("failed item's state %+v, want a failed state with nothing built", st)
	}
	if st, _ := s.LoadState(ctx, "good"); st == nil || st.Seeds != 3 {
		t.Errorf("good item's state %+v, want 3 seeds", st)
	}
	addClicks(t, s, "bad", 3) // a change: tried again, and fails again
	eventually(t, 5*time.Second, "a retry after the change", func() bool { return count("bad") == 2 })
	broken.Store(false)
	addClicks(t, s, "bad", 4)
	eventually(t, 5*time.Second, "the item built once it builds", func() bool {
		st, _ := s.LoadState(ctx, "bad")
		return st != nil && st.Seeds == 5 && st.Failed == nil
	})
	if n := w.Stats().Failed; n != 2 {
		t.Errorf("failed count %d, want 2", n)
	}
}

// TestFailedState (issue 12): a build that fails on one worker is written
// as a failed state of the generation, with the reason (paths cut), the
// seed version and count; another replica's mirror has it and counts it
// for the generation's coverage, so a new model's coverage completes while
// the item keeps failing; the state built with the previous generation is
// kept aside for the replicas still serving it, and one built before with
// the same generation is carried in the failed state. A later successful
// build replaces it.
func TestFailedState(t *testing.T) {
	sa := redistest.Start(t)
	a := openStore(t, Config{URL: sa.URL(), Prefix: "fstate"})
	b := openStore(t, Config{URL: sa.URL(), Prefix: "fstate"})
	ctx := context.Background()
	m1 := publishUsers(t, a, "m1", 6)
	var broken atomic.Int64 // the generation whose builds of "bad" fail (0: none)
	w := newWorker(t, a, "wa", func(c *WorkerConfig) {
		c.ReclusterInterval = 20 * time.Millisecond
		c.Build = func(ctx context.Context, m Model, item string, ids []string, seeds []float32, prev *State) (*State, error) {
			if item == "bad" && broken.Load() == m.Gen {
				return nil, errors.New("open /var/lib/ralm/m2/users.parquet: kmeans: point 0 is +Inf")
			}
			return meanBuilder(ctx, m, item, ids, seeds, prev)
		}
	})
	mb := runMirror(t, b) // replica B: no worker of its own
	runWorker(t, w)
	for _, c := range []Click{{Item: "bad", User: "u0"}, {Item: "bad", User: "u1"}, {Item: "good", User: "u2"}, {Item: "good", User: "u3"}} {
		if err := a.Append(ctx, []Click{c}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "both items built with the first model", func() bool {
		items, at := mb.Coverage(m1.Gen)
		return items == 2 && at == 2
	})
	old := mb.StateAt("bad", m1.Gen)
	broken.Store(m1.Gen + 1)
	m2 := publishUsers(t, a, "m2", 6)
	eventually(t, 5*time.Second, "coverage of the new model complete on replica B", func() bool {
		items, at := mb.Coverage(m2.Gen)
		return items == 2 && at == 2
	})
	st := mb.State("bad")
	const reason = "open users.parquet: kmeans: point 0 is +Inf"
	meta, ok, err := a.ItemMeta(ctx, "bad")
	if err != nil || !ok {
		t.Fatalf("item meta: %v, %v", ok, err)
	}
	// the seed version is the item's (1 or 2: the two clicks may be applied
	// in one batch or in two)
	if st == nil || st.Gen != m2.Gen || st.Model != "m2" || st.Failed == nil || st.Failed.Reason != reason ||
		st.Failed.Seeds != 2 || st.Failed.Ver != meta.Ver || st.Failed.At.IsZero() || st.Built() || st.K != 0 || len(st.Global) != 0 {
		t.Fatalf("replica B's state of the failed item: %+v (failure %+v), want a failed state of generation %d with nothing built", st, st.Failed, m2.Gen)
	}
	if got := mb.StateAt("bad", m1.Gen); got != old || got.Failed != nil {
		t.Errorf("state of the previous generation %+v, want the one built before (%+v)", got, old)
	}
	if n := w.Stats().Failed; n != 1 {
		t.Errorf("failed count %d, want 1", n)
	}
	// A failure after a state of the same generation was built keeps it.
	broken.Store(0)
	if err := a.Append(ctx, []Click{{Item: "bad", User: "u4"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a successful build replaces the failed state", func() bool {
		st := mb.State("bad")
		return st != nil && st.Failed == nil && st.Gen == m2.Gen && st.Seeds == 3 && st.K == 2
	})
	built := mb.State("bad")
	broken.Store(m2.Gen)
	if err := a.Append(ctx, []Click{{Item: "bad", User: "u5"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a failed state carrying the last built one", func() bool {
		st := mb.State("bad")
		return st != nil && st.Failed != nil && st.Failed.Seeds == 4
	})
	st = mb.State("bad")
	if !st.Built() || st.Seeds != 3 || st.Ver != built.Ver || !st.BuiltAt.Equal(built.BuiltAt) || st.K != 2 || !slices.Equal(st.Centroids, built.Centroids) {
		t.Errorf("failed state %+v, want the built state %+v carried", st, built)
	}
	if st.Failed.Ver != built.Ver+1 {
		t.Errorf("failed build of seed version %d, want %d", st.Failed.Ver, built.Ver+1)
	}
}

// TestFailureReason: a failure reason keeps the error's text, cuts file
// paths to their base name and is at most MaxReason bytes (+ "...").
func TestFailureReason(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	for _, tc := range []struct{ err, want string }{
		{"kmeans: point 3 is +Inf", "kmeans: point 3 is +Inf"},
		{"open /data/models/m2/users.parquet: no such file or directory", "open users.parquet: no such file or directory"},
		{`load "./m2/bundle.json", and ~/x/y.bin (../z/w.txt)`, `load "bundle.json", and y.bin (w.txt)`},
		{"ratio 3/4 of a/b", "ratio 3/4 of a/b"},
		{long, strings.Repeat("é", 150) + "..."},
	} {
		if got := FailureReason(errors.New(tc.err)); got != tc.want {
			t.Errorf("FailureReason(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestNoModelNotFailed: a worker whose Builder cannot build with the
// model generation (ErrNoModel, e.g. its model folder holds another model)
// writes no failed state and gives the item back; it claims no item for
// NoModelRetry, so a worker that has the model builds it, and tries again
// after that.
func TestNoModelNotFailed(t *testing.T) {
	sa := redistest.Start(t)
	s := openStore(t, Config{URL: sa.URL(), Prefix: "nomodel"})
	ctx := context.Background()
	publishUsers(t, s, "m", 6)
	var tries atomic.Int64
	const retry = 300 * time.Millisecond
	wa := newWorker(t, s, "wa", func(c *WorkerConfig) {
		c.NoModelRetry = retry
		c.Build = func(context.Context, Model, string, []string, []float32, *State) (*State, error) {
			tries.Add(1)
			return nil, fmt.Errorf("%w: load generation 1: open m2/bundle.json: no such file", ErrNoModel)
		}
	})
	runWorker(t, wa)
	if err := s.Append(ctx, []Click{{Item: "it", User: "u0"}, {Item: "it", User: "u1"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a first try", func() bool { return tries.Load() == 1 })
	time.Sleep(retry / 2)
	if n := tries.Load(); n != 1 {
		t.Errorf("%d tries within NoModelRetry, want 1", n)
	}
	eventually(t, 5*time.Second, "a try after NoModelRetry", func() bool { return tries.Load() >= 2 })
	if st, _ := s.LoadState(ctx, "it"); st != nil {
		t.Fatalf("state %+v (failure %+v) after ErrNoModel, want none", st, st.Failed)
	}
	if n := wa.Stats().Failed; n != 0 {
		t.Errorf("failed count %d, want 0", n)
	}
	wb := newWorker(t, s, "wb", nil)
	runWorker(t, wb)
	eventually(t, 5*time.Second, "the item built by the worker with the model", func() bool {
		st, _ := s.LoadState(ctx, "it")
		return st != nil && st.Failed == nil && st.Seeds == 2
	})
}
