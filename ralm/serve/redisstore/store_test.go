package redisstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ralmlab/ralm/internal/redistest"
)

// backend is one Redis deployment the tests run against.
type backend struct {
	name string
	cfg  func(prefix string) Config
	open func(t *testing.T, prefix string) *Store
	kill func() // SIGKILL every server
	boot func() // restart every server after kill
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backends starts a standalone server and a 3-node Cluster.
func backends(t *testing.T) []backend {
	sa := redistest.Start(t)
	cl := redistest.StartCluster(t, 3)
	return []backend{
		{
			name: "standalone",
			cfg:  func(p string) Config { return Config{URL: sa.URL(), Prefix: p} },
			open: func(t *testing.T, p string) *Store { return openStore(t, Config{URL: sa.URL(), Prefix: p}) },
			kill: sa.Kill, boot: sa.Restart,
		},
		{
			name: "cluster",
			cfg:  func(p string) Config { return Config{ClusterAddrs: cl.Addrs(), Prefix: p} },
			open: func(t *testing.T, p string) *Store { return openStore(t, Config{ClusterAddrs: cl.Addrs(), Prefix: p}) },
			kill: func() {
				for _, n := range cl.Nodes {
					n.Kill()
				}
			},
			boot: func() {
				for _, n := range cl.Nodes {
					n.Restart()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := cl.WaitOK(ctx); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
}

// meanBuilder is a test Builder: the first min(n, 2) seeds are the
// centroids (each of weight 1) and Global is the seeds' mean.
func meanBuilder(_ context.Context, m Model, _ string, ids []string, seeds []float32, _ *State) (*State, error) {
	d, n := m.Dim, len(ids)
	mean := make([]float32, d)
	for i := range n {
		for j := range d {
			mean[j] += seeds[i*d+j] / float32(n)
		}
	}
	st := &State{Global: mean}
	if n >= 2 {
		st.K = 2
		st.Centroids = append([]float32(nil), seeds[:2*d]...)
		st.Weights = []float32{1, 1}
	}
	return st, nil
}

// publishUsers publishes users u0..u(n-1) with vector (i, 1, -i).
func publishUsers(t *testing.T, s *Store, model string, n int) Model {
	t.Helper()
	ids := make([]string, n)
	vecs := make([]float32, 0, 3*n)
	for i := range ids {
		ids[i] = "u" + strconv.Itoa(i)
		vecs = append(vecs, float32(i), 1, -float32(i))
	}
	m, err := s.Publish(context.Background(), model, ids, vecs, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newWorker(t *testing.T, s *Store, name string, mut func(*WorkerConfig)) *Worker {
	t.Helper()
	cfg := WorkerConfig{Name: name, MaxSeeds: 5, MinSeeds: 2, ReclusterInterval: 200 * time.Millisecond,
		ClaimIdle: 300 * time.Millisecond, Build: meanBuilder}
	if mut != nil {
		mut(&cfg)
	}
	w, err := NewWorker(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// runWorker runs w until the test ends.
func runWorker(t *testing.T, w *Worker) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond every 20 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			n := 0
			prefix := func() string { n++; return fmt.Sprintf("t%d", n) }
			t.Run("Users", func(t *testing.T) { testUsers(t, b.open(t, prefix())) })
			t.Run("UpsertedAcrossModels", func(t *testing.T) { testUpsertedAcrossModels(t, b.open(t, prefix())) })
			t.Run("Seeds", func(t *testing.T) { testSeeds(t, b.open(t, prefix())) })
			t.Run("ReclusterOnce", func(t *testing.T) { testReclusterOnce(t, b.open(t, prefix())) })
			t.Run("Delete", func(t *testing.T) { testDelete(t, b.open(t, prefix())) })
			t.Run("ProducerXADD", func(t *testing.T) { p := prefix(); testProducerXADD(t, b.open(t, p), p) })
			t.Run("ClaimCrashedWorker", func(t *testing.T) { testClaim(t, b.open(t, prefix())) })
			for _, stage := range []string{stageRead, stageApplied} {
				t.Run("KillWorkerAt_"+stage, func(t *testing.T) { testKillWorker(t, b, prefix(), stage) })
			}
			t.Run("Replicas", func(t *testing.T) { p := prefix(); testReplicas(t, b.open(t, p), b.open(t, p)) })
			t.Run("RedisRestart", func(t *testing.T) { testRestart(t, b, prefix()) })
		})
	}
}

// TestClusterSlots: an item's keys share one Cluster slot; users spread.
func TestClusterSlots(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	c := cl.Client()
	s := &Store{p: DefaultPrefix}
	ctx := context.Background()
	for _, item := range []string{"1", "item-42", "x:y"} {
		var slots []int64
		for _, k := range []string{s.keySeeds(item), s.keyItemMeta(item), s.keyState(item)} {
			slot, err := c.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			slots = append(slots, slot)
		}
		if slots[0] != slots[1] || slots[1] != slots[2] {
			t.Errorf("item %q keys on slots %v, want one", item, slots)
		}
	}
	seen := map[int64]bool{}
	for i := range 20 {
		slot, _ := c.ClusterKeySlot(ctx, s.keyUser(1, strconv.Itoa(i))).Result()
		seen[slot] = true
	}
	if len(seen) < 10 {
		t.Errorf("20 users on %d slots: user keys should spread", len(seen))
	}
}

func testUsers(t *testing.T, s *Store) {
	ctx := context.Background()
	m := publishUsers(t, s, "model-a", 3)
	if m.Gen != 1 || m.Dim != 3 {
		t.Fatalf("first publish: %+v", m)
	}
	got, err := s.Users(ctx, m.Gen, []string{"u2", "nobody", "u0"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], []float32{2, 1, -2}) || got[1] != nil || !slices.Equal(got[2], []float32{0, 1, 0}) {
		t.Fatalf("Users = %v", got)
	}
	// Another replica upserts u2: this store's cached copy goes with the event.
	other := &Store{cfg: s.cfg, rdb: s.rdb, p: s.p, cache: newUserCache(10)}
	from, err := s.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.UpsertUser(ctx, m.Gen, "u2", []float32{9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Users(ctx, m.Gen, []string{"u2"}); !slices.Equal(v[0], []float32{2, 1, -2}) {
		t.Fatalf("before the event the cache answers; got %v", v[0])
	}
	fctx, cancel := context.WithCancel(ctx)
	var evs []Event
	s.Follow(fctx, from, 100*time.Millisecond, func(e Event) error {
		evs = append(evs, e)
		if e.Kind == EventUser {
			s.InvalidateUser(e.Key)
			cancel()
		}
		return nil
	})
	if len(evs) != 1 || evs[0].Key != "u2" || evs[0].Gen != m.Gen {
		t.Fatalf("events = %+v", evs)
	}
	if v, _ := s.Users(ctx, m.Gen, []string{"u2"}); !slices.Equal(v[0], []float32{9, 9, 9}) {
		t.Fatalf("after invalidation got %v, want the upsert", v[0])
	}
	// A new model is a new generation; the previous one's vectors stay
	// (replicas finish serving it), the one before is dropped.
	m2 := publishUsers(t, s, "model-b", 2)
	if m2.Gen != 2 || m2.ID != "model-b" {
		t.Fatalf("second publish: %+v", m2)
	}
	if cur, _ := s.CurrentModel(ctx); cur != m2 {
		t.Fatalf("current model %+v, want %+v", cur, m2)
	}
	s.ClearUserCache() // the cache may still hold generation 1 vectors
	if prev, _ := s.Users(ctx, m.Gen, []string{"u0", "u1"}); prev[0] == nil || prev[1] == nil {
		t.Fatalf("generation %d vectors dropped after one publish: %v", m.Gen, prev)
	}
	m3 := publishUsers(t, s, "model-c", 2)
	s.ClearUserCache()
	old, _ := s.Users(ctx, m.Gen, []string{"u0", "u1"})
	if old[0] != nil || old[1] != nil {
		t.Fatalf("generation 1 vectors still there after generation %d: %v", m3.Gen, old)
	}
	if prev, _ := s.Users(ctx, m2.Gen, []string{"u0", "u1"}); prev[0] == nil || prev[1] == nil {
		t.Fatalf("generation %d vectors dropped: %v", m2.Gen, prev)
	}
	// The cache stays bounded.
	small := &Store{cfg: s.cfg, rdb: s.rdb, p: s.p, cache: newUserCache(1)}
	small.Users(ctx, m3.Gen, []string{"u0", "u1"})
	if n := small.cache.len(); n != 1 {
		t.Fatalf("cache of 1 holds %d", n)
	}
}

// testUpsertedAcrossModels: users upserted into one generation that the
// next model does not embed are carried over to it (as the embedded
// engine keeps them across a reload); users it embeds take its vector; an
// upsert into the generation still served after the switch reaches the new
// one too; a model of another dim carries nothing over.
func testUpsertedAcrossModels(t *testing.T, s *Store) {
	ctx := context.Background()
	m1 := publishUsers(t, s, "m1", 3) // u0 u1 u2
	for id, v := range map[string][]float32{"new1": {7, 7, 7}, "u1": {8, 8, 8}} {
		if err := s.UpsertUser(ctx, m1.Gen, id, v); err != nil {
			t.Fatal(err)
		}
	}
	m2 := publishUsers(t, s, "m2", 2) // u0 u1: u2 leaves, u1 is embedded again
	if pub, _ := s.rdb.HExists(ctx, s.keyMeta(), metaPubGen).Result(); pub {
		t.Fatalf("%s still names a generation being published after the switch", s.keyMeta())
	}
	s.ClearUserCache()
	got, err := s.Users(ctx, m2.Gen, []string{"new1", "u1", "u2"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], []float32{7, 7, 7}) || !slices.Equal(got[1], []float32{1, 1, -1}) || got[2] != nil {
		t.Fatalf("generation %d: new1 %v (want the upsert), u1 %v (want the model's), u2 %v (want none)", m2.Gen, got[0], got[1], got[2])
	}
	// A replica still serving m1 upserts after the switch: m2 gets it too.
	if err := s.UpsertUser(ctx, m1.Gen, "late", []float32{5, 5, 5}); err != nil {
		t.Fatal(err)
	}
	s.ClearUserCache()
	if got, _ := s.Users(ctx, m2.Gen, []string{"late"}); !slices.Equal(got[0], []float32{5, 5, 5}) {
		t.Fatalf("upsert into generation %d after the switch: generation %d has %v", m1.Gen, m2.Gen, got[0])
	}
	// u1 is the model's now: a model without it does not carry m2's vector.
	m3 := publishUsers(t, s, "m3", 1) // u0
	s.ClearUserCache()
	got, _ = s.Users(ctx, m3.Gen, []string{"new1", "late", "u1"})
	if !slices.Equal(got[0], []float32{7, 7, 7}) || !slices.Equal(got[1], []float32{5, 5, 5}) || got[2] != nil {
		t.Fatalf("generation %d: new1 %v, late %v (want both carried again), u1 %v (want none)", m3.Gen, got[0], got[1], got[2])
	}
	m4, err := s.Publish(ctx, "m4", []string{"u0"}, []float32{1, 2, 3, 4}, 4)
	if err != nil {
		t.Fatal(err)
	}
	s.ClearUserCache()
	if got, _ := s.Users(ctx, m4.Gen, []string{"new1"}); got[0] != nil {
		t.Fatalf("a dim-3 upsert was carried into the dim-4 generation %d: %v", m4.Gen, got[0])
	}
}

func testSeeds(t *testing.T, s *Store) {
	ctx := context.Background()
	publishUsers(t, s, "m", 10)
	var clicks []Click
	for _, u := range []int{0, 1, 2, 1, 3, 4, 5, 6, 0} { // duplicates keep their place
		clicks = append(clicks, Click{Item: "it", User: "u" + strconv.Itoa(u), Time: time.UnixMilli(1_700_000_000_000)})
	}
	clicks = append(clicks, Click{Item: "it", User: "ghost"}) // unknown: skipped by the worker
	if err := s.Append(ctx, clicks); err != nil {
		t.Fatal(err)
	}
	w := newWorker(t, s, "w1", nil)
	runWorker(t, w)
	want := []string{"u2", "u3", "u4", "u5", "u6"} // the latest 5 distinct
	eventually(t, 5*time.Second, "seeds and state", func() bool {
		got, _ := s.Seeds(ctx, "it")
		st, _ := s.LoadState(ctx, "it")
		return slices.Equal(got, want) && st != nil && st.Seeds == 5
	})
	st, _ := s.LoadState(ctx, "it")
	if st.K != 2 || st.Model != "m" || st.Gen != 1 || len(st.Centroids) != 6 || math.Abs(float64(st.Global[0]-4)) > 1e-6 {
		t.Fatalf("state %+v", st)
	}
	if ws := w.Stats(); ws.Rejected != 1 || ws.Applied != 9 {
		t.Fatalf("worker stats %+v, want 9 applied and 1 rejected", ws)
	}
	eventually(t, 5*time.Second, "no backlog", func() bool {
		ss, err := s.Stats(ctx)
		return err == nil && ss.Lag == 0 && ss.Pending == 0
	})
}

// testReclusterOnce: with two workers claiming at once, every due item is
// re-clustered by exactly one of them.
func testReclusterOnce(t *testing.T, s *Store) {
	ctx := context.Background()
	publishUsers(t, s, "m", 4)
	var clicks []Click
	const items = 40
	for i := range items {
		for u := range 3 {
			clicks = append(clicks, Click{Item: "i" + strconv.Itoa(i), User: "u" + strconv.Itoa(u)})
		}
	}
	if err := s.Append(ctx, clicks); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	builds := map[string]int{}
	count := func(c *WorkerConfig) {
		c.Batch = 1000
		c.OnBuild = func(item string, _ int, _ time.Duration, err error) {
			mu.Lock()
			builds[item]++
			mu.Unlock()
		}
	}
	w1, w2 := newWorker(t, s, "w1", count), newWorker(t, s, "w2", count)
	if err := w1.ensureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w1.readOnce(ctx, time.Second); err != nil { // applies and schedules everything
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, w := range []*Worker{w1, w2} {
		wg.Go(func() {
			if err := w.reclusterDue(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(builds) != items {
		t.Fatalf("%d items built, want %d", len(builds), items)
	}
	for it, n := range builds {
		if n != 1 {
			t.Errorf("item %s built %d times", it, n)
		}
	}
	if w1.Stats().Built == 0 || w2.Stats().Built == 0 {
		t.Logf("one worker built everything (w1 %d, w2 %d)", w1.Stats().Built, w2.Stats().Built)
	}
}

func testDelete(t *testing.T, s *Store) {
	ctx := context.Background()
	publishUsers(t, s, "m", 6)
	addClicks(t, s, "a", 0, 1, 2)
	addClicks(t, s, "b", 0, 1)
	if err := s.DeleteItem(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	addClicks(t, s, "a", 4, 5)
	if err := s.DeleteItem(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	from, _ := s.LastEventID(ctx)
	runWorker(t, newWorker(t, s, "w1", nil))
	eventually(t, 5*time.Second, "a's fresh seeds and state", func() bool {
		got, _ := s.Seeds(ctx, "a")
		st, _ := s.LoadState(ctx, "a")
		return slices.Equal(got, []string{"u4", "u5"}) && st != nil && st.Seeds == 2
	})
	if got, _ := s.Seeds(ctx, "b"); len(got) != 0 {
		t.Fatalf("deleted item b has seeds %v", got)
	}
	if st, _ := s.LoadState(ctx, "b"); st != nil {
		t.Fatalf("deleted item b has a state")
	}
	var items []string
	s.Items(ctx, func(id string) bool { items = append(items, id); return true })
	if !slices.Equal(items, []string{"a"}) {
		t.Fatalf("indexed items %v, want [a]", items)
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	deleted := false
	s.Follow(fctx, from, 100*time.Millisecond, func(e Event) error {
		if e.Kind == EventDelete && e.Key == "b" {
			deleted = true
			cancel()
		}
		return nil
	})
	if !deleted {
		t.Fatal("no delete event for b")
	}
}

// testProducerXADD: a click pipeline that bypasses HTTP with a plain XADD
// of the documented key and fields (item, user, ts; op delete) is applied
// like Append.
func testProducerXADD(t *testing.T, s *Store, prefix string) {
	ctx := context.Background()
	publishUsers(t, s, "m", 4)
	key := prefix + ":{clicks}:stream" // as documented, not through StreamKey
	xadd := func(fields ...any) {
		t.Helper()
		if err := s.rdb.Do(ctx, append([]any{"XADD", key, "*"}, fields...)...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	xadd("item", "42", "user", "u0", "ts", "1733000000000")
	xadd("item", "42", "user", "u1")
	xadd("item", "43", "user", "u2")
	xadd("item", "43", "op", "delete")
	xadd("item", "42", "user", "u3", "ts", "1733000000001")
	runWorker(t, newWorker(t, s, "w1", nil))
	eventually(t, 5*time.Second, "the producer's clicks applied", func() bool {
		got, _ := s.Seeds(ctx, "42")
		st, _ := s.LoadState(ctx, "42")
		ss, err := s.Stats(ctx)
		return slices.Equal(got, []string{"u0", "u1", "u3"}) && st != nil && st.Seeds == 3 && err == nil && ss.Lag == 0 && ss.Pending == 0
	})
	if got, _ := s.Seeds(ctx, "43"); len(got) != 0 {
		t.Fatalf("item 43 deleted by the producer has seeds %v", got)
	}
}

// testClaim: a worker that read entries and died before acknowledging them
// leaves them pending; a live worker claims and applies them.
func testClaim(t *testing.T, s *Store) {
	ctx := context.Background()
	publishUsers(t, s, "m", 5)
	dead := newWorker(t, s, "dead", nil)
	if err := dead.ensureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	var cs []Click
	for u := range 5 {
		cs = append(cs, Click{Item: "c", User: "u" + strconv.Itoa(u)})
	}
	if err := s.Append(ctx, cs); err != nil {
		t.Fatal(err)
	}
	// What a crash between reading and acknowledging leaves: entries
	// delivered to "dead", pending, not applied.
	res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: groupName, Consumer: "dead", Streams: []string{s.keyStream(), ">"}, Count: 100}).Result()
	if err != nil || len(res[0].Messages) != 5 {
		t.Fatalf("dead worker read %v, %v", res, err)
	}
	if ss, _ := s.Stats(ctx); ss.Pending != 5 {
		t.Fatalf("pending %d, want 5", ss.Pending)
	}
	live := newWorker(t, s, "live", nil)
	runWorker(t, live)
	eventually(t, 5*time.Second, "claimed entries applied", func() bool {
		got, _ := s.Seeds(ctx, "c")
		ss, _ := s.Stats(ctx)
		return len(got) == 5 && ss.Pending == 0
	})
	eventually(t, 5*time.Second, "state of c", func() bool {
		st, _ := s.LoadState(ctx, "c")
		return st != nil && st.Seeds == 5
	})
}

// testRestart: clicks acknowledged before redis-server is SIGKILLed are in
// the seeds after it restarts (appendfsync always); Append fails while it
// is down, and the worker resumes by itself.
func testRestart(t *testing.T, b backend, prefix string) {
	ctx := context.Background()
	s := b.open(t, prefix)
	publishUsers(t, s, "m", 5)
	w := newWorker(t, s, "w1", func(c *WorkerConfig) { c.MaxSeeds = 100 })
	runWorker(t, w)
	mir := runMirror(t, s)
	var acked []string
	for u := range 5 {
		if err := s.Append(ctx, []Click{{Item: "r", User: "u" + strconv.Itoa(u)}}); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, "u"+strconv.Itoa(u))
	}
	eventually(t, 5*time.Second, "the mirror holds r's state", func() bool {
		st := mir.State("r")
		return st != nil && st.Seeds == 5
	})
	b.kill()
	eventually(t, 5*time.Second, "the mirror reports stale", func() bool { return mir.Health().Stale })
	if st := mir.State("r"); st == nil || st.Seeds != 5 {
		t.Fatalf("a stale mirror must keep answering; state %+v", st)
	}
	if h := mir.Health(); h.Err == nil {
		t.Fatalf("stale without an error: %+v", h)
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := s.Append(actx, []Click{{Item: "r", User: "u0"}})
	cancel()
	if err == nil {
		t.Fatal("Append succeeded with Redis down")
	}
	b.boot()
	eventually(t, 15*time.Second, "every acknowledged click in the seeds", func() bool {
		got, _ := s.Seeds(ctx, "r")
		slices.Sort(got)
		return slices.Equal(got, acked)
	})
	eventually(t, 10*time.Second, "the mirror recovers by itself", func() bool { return !mir.Health().Stale })
	if err := s.Append(ctx, []Click{{Item: "r2", User: "u1"}, {Item: "r2", User: "u2"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a state written after recovery reaches the mirror", func() bool {
		st := mir.State("r2")
		return st != nil && st.Seeds == 2
	})
}

func runMirror(t *testing.T, s *Store) *Mirror {
	t.Helper()
	m := NewMirror(s, MirrorOptions{Block: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := m.WaitSynced(wctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// testReplicas: clicks for a brand-new item appended through replica A
// reach replica B's mirror within the re-cluster interval + 1 s, and both
// replicas hold the same state; a new model generation reaches both.
func testReplicas(t *testing.T, a, b *Store) {
	ctx := context.Background()
	publishUsers(t, a, "m", 6)
	ma, mb := runMirror(t, a), runMirror(t, b)
	const interval = 200 * time.Millisecond
	runWorker(t, newWorker(t, a, "wa", func(c *WorkerConfig) { c.MinSeeds = 3; c.ReclusterInterval = interval }))
	runWorker(t, newWorker(t, b, "wb", func(c *WorkerConfig) { c.MinSeeds = 3; c.ReclusterInterval = interval }))
	var cs []Click
	for u := range 4 {
		cs = append(cs, Click{Item: "new", User: "u" + strconv.Itoa(u)})
	}
	start := time.Now()
	if err := a.Append(ctx, cs); err != nil {
		t.Fatal(err)
	}
	eventually(t, interval+time.Second, "replica B sees the new item ok", func() bool {
		st := mb.State("new")
		return st != nil && st.K > 0 && st.Seeds == 4
	})
	t.Logf("state on replica B %v after the clicks on A", time.Since(start).Round(time.Millisecond))
	eventually(t, time.Second, "replica A holds the same state", func() bool {
		sa, sb := ma.State("new"), mb.State("new")
		return sa != nil && sa.Ver == sb.Ver && slices.Equal(sa.Centroids, sb.Centroids) && slices.Equal(sa.Global, sb.Global)
	})
	m2 := publishUsers(t, b, "m2", 6)
	eventually(t, 2*time.Second, "both replicas switch model and get a state of it", func() bool {
		sa, sb := ma.State("new"), mb.State("new")
		return ma.Model() == m2 && mb.Model() == m2 && sa != nil && sb != nil && sa.Gen == m2.Gen && sb.Gen == m2.Gen
	})
	if age := ma.OldestState(time.Now()); age <= 0 || age > time.Minute {
		t.Fatalf("oldest state age %v", age)
	}
}

// TestMain silences go-redis's own dial-retry log lines (servers are
// killed on purpose here), and runs a worker child (testKillWorker) when
// the test binary is re-executed as one.
func TestMain(m *testing.M) {
	SetClientLogger(nil)
	if os.Getenv(workerChildEnv) != "" {
		os.Exit(runWorkerChild())
	}
	os.Exit(m.Run())
}

// workerChildEnv holds the JSON workerChild of a re-executed test binary.
const workerChildEnv = "RALM_REDISSTORE_WORKER_CHILD"

// workerChild configures a worker subprocess that stops at a crash point.
type workerChild struct {
	Config Config
	Stage  string // stageRead or stageApplied
}

// runWorkerChild runs one worker that, at its first batch, prints
// "stopped at STAGE N" (N entries) and hangs there until it is killed.
func runWorkerChild() int {
	var c workerChild
	if err := json.Unmarshal([]byte(os.Getenv(workerChildEnv)), &c); err != nil {
		fmt.Fprintln(os.Stderr, "worker child config:", err)
		return 2
	}
	ctx := context.Background()
	s, err := Open(ctx, c.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w, err := NewWorker(s, WorkerConfig{Name: "doomed", MaxSeeds: 100, MinSeeds: 2,
		ReclusterInterval: 200 * time.Millisecond, Batch: 1000, Build: meanBuilder})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w.hook = func(stage string, n int) {
		if stage == c.Stage {
			fmt.Printf("stopped at %s %d\n", stage, n)
			select {} // until SIGKILL
		}
	}
	w.Run(ctx)
	return 1
}

// testKillWorker: a worker process SIGKILLed between reading entries and
// acknowledging them (before it applied them, or after it wrote the seeds
// but before it scheduled the items) leaves them pending; a live worker
// claims them (XAUTOCLAIM) and finishes them: every click is in the seeds
// and the item gets its state.
func testKillWorker(t *testing.T, b backend, prefix, stage string) {
	ctx := context.Background()
	s := b.open(t, prefix)
	publishUsers(t, s, "m", 10)
	var cs []Click
	var want []string
	for u := range 10 {
		cs = append(cs, Click{Item: "k", User: "u" + strconv.Itoa(u)})
		want = append(want, "u"+strconv.Itoa(u))
	}
	if err := s.Append(ctx, cs); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(workerChild{Config: b.cfg(prefix), Stage: stage})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerChildEnv+"="+string(raw))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case l := <-line:
		if l != fmt.Sprintf("stopped at %s 10", stage) {
			t.Fatalf("worker child said %q; stderr: %s", l, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("worker child did not reach %s in 20 s; stderr: %s", stage, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if ss, err := s.Stats(ctx); err != nil || ss.Pending != 10 || ss.Lag != 0 {
		t.Fatalf("after the kill: %+v, %v; want 10 pending, none undelivered", ss, err)
	}
	seeds, _ := s.Seeds(ctx, "k")
	if wantSeeds := map[string]int{stageRead: 0, stageApplied: 10}[stage]; len(seeds) != wantSeeds {
		t.Fatalf("killed at %s: %d seeds written, want %d", stage, len(seeds), wantSeeds)
	}
	if st, _ := s.LoadState(ctx, "k"); st != nil {
		t.Fatalf("killed at %s: the item has a state already", stage)
	}
	live := newWorker(t, s, "live", func(c *WorkerConfig) { c.MaxSeeds = 100 })
	runWorker(t, live)
	eventually(t, 10*time.Second, "the live worker finishes the killed worker's entries", func() bool {
		got, _ := s.Seeds(ctx, "k")
		slices.Sort(got)
		st, _ := s.LoadState(ctx, "k")
		ss, err := s.Stats(ctx)
		return slices.Equal(got, want) && st != nil && st.Seeds == 10 && err == nil && ss.Pending == 0
	})
	if ws := live.Stats(); ws.Applied != 10 {
		t.Fatalf("live worker applied %d entries, want the 10 it claimed", ws.Applied)
	}
}

// TestUserCacheInvalidationRace: a vector read before an invalidation that
// lands during the read is not cached.
func TestUserCacheInvalidationRace(t *testing.T) {
	c := newUserCache(10)
	e := c.epoch()
	c.drop("u1") // the user event arrives while the read is in flight
	c.putIf(e, 1, "u1", []float32{1})
	if _, ok := c.get(1, "u1"); ok {
		t.Fatal("a vector read before the invalidation was cached")
	}
	c.putIf(c.epoch(), 1, "u1", []float32{2})
	if v, ok := c.get(1, "u1"); !ok || v[0] != 2 {
		t.Fatalf("got %v %v, want the fresh vector cached", v, ok)
	}
}

// TestClientLogger: the go-redis client's log lines go to the slog logger
// at debug level.
func TestClientLogger(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clientLogger{l}.Printf(context.Background(), "dial %s failed", "127.0.0.1:1")
	if got := buf.String(); !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, `msg="redis client: dial 127.0.0.1:1 failed"`) {
		t.Fatalf("logged %q", got)
	}
}

// addClicks appends one click of item by each of the users u<i>.
func addClicks(t *testing.T, s *Store, item string, users ...int) {
	t.Helper()
	var cs []Click
	for _, u := range users {
		cs = append(cs, Click{Item: item, User: "u" + strconv.Itoa(u)})
	}
	if err := s.Append(context.Background(), cs); err != nil {
		t.Fatal(err)
	}
}
