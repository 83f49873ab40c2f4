package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
)

// logBuf is a slog destination tests can search.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count returns the number of log lines holding every one of subs.
func (l *logBuf) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(l.buf.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// storedSeeds returns the users of every stored item, in arrival order.
func storedSeeds(t *testing.T, s *BoltStore) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	err := s.LoadItems(func(it *StoredItem) error {
		for _, sd := range it.Seeds {
			out[it.ID] = append(out[it.ID], sd.User)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logItems returns the ids of the items with records in the store's log.
func logItems(t *testing.T, s *BoltStore) []string {
	t.Helper()
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := replayLog(tx)
		ids = b.Order
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func addBatch(adds map[string][]string) *Batch {
	b := newBatch()
	for _, id := range slices.Sorted(maps.Keys(adds)) {
		op := b.item(id)
		for i, u := range adds[id] {
			op.Add = append(op.Add, StoredSeed{User: u, TS: int64(i + 1)})
		}
		op.Last, op.Created = 7, 7
	}
	return b
}

// Finding 1 (second half): an item the store cannot write in place (here a
// key bbolt refuses, as a state folder of an older version may hold) never
// stops the other items from being checkpointed; it stays in the log with
// every acknowledged seed, is reported, and the store closes and reopens.
func TestCheckpointDefersUnwritableItem(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", bolt.MaxKeySize+1)
	s, err := OpenBoltStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(addBatch(map[string][]string{"a": {"u1", "u2"}, long: {"u1"}, "b": {"u3"}})); err != nil {
		t.Fatal(err)
	}
	var de *DeferredItemsError
	if err := s.Apply(newBatch()); !errors.As(err, &de) || len(de.Items) != 1 || !errors.Is(de.Items[long], bolt.ErrKeyTooLarge) {
		t.Fatalf("checkpoint: %v, want the long item deferred with ErrKeyTooLarge", err)
	}
	if msg := de.Error(); len(msg) > 300 || !strings.Contains(msg, "32769 bytes") {
		t.Errorf("deferred error message %q: want the id cut, with its length", msg)
	}
	if got := logItems(t, s); !slices.Equal(got, []string{long}) {
		t.Errorf("log holds %d items after the checkpoint, want only the deferred one", len(got))
	}
	// Later commits to the deferred item and the others, then a
	// checkpoint that is not due: the deferral is reported still.
	if err := s.Commit(addBatch(map[string][]string{"a": {"u4"}, long: {"u5"}})); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(); !errors.As(err, &de) {
		t.Errorf("Checkpoint (not due) = %v, want the deferral reported", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close with a deferred item: %v", err)
	}
	s, err = OpenBoltStore(dir)
	if err != nil {
		t.Fatalf("reopen with a deferred item: %v", err)
	}
	defer s.Close()
	want := map[string][]string{"a": {"u1", "u2", "u4"}, "b": {"u3"}, long: {"u1", "u5"}}
	if got := storedSeeds(t, s); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("after reopen: %d items %v, want every acknowledged seed", len(got), slices.Sorted(maps.Keys(got)))
	}
	// The fold of the others happened: only the long item is in the log.
	if got := logItems(t, s); !slices.Equal(got, []string{long}) {
		t.Errorf("log holds %d items after reopen, want only the deferred one", len(got))
	}
}

// Finding 1: an item the store refuses for a while (test hook) is retried at
// every checkpoint and written in place once the store takes it, with the
// deletes, evictions and drops that came meanwhile.
func TestDeferredItemRetried(t *testing.T) {
	s, err := OpenBoltStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(addBatch(map[string][]string{"a": {"u1", "u2", "u3"}, "b": {"u1"}, "c": {"u9"}})); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(newBatch()); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("injected: item refused")
	s.refuse = func(id string) error {
		if id == "a" || id == "c" {
			return refused
		}
		return nil
	}
	b := addBatch(map[string][]string{"a": {"u4"}, "b": {"u2"}})
	b.Items["a"].Evict = 1
	b.item("c").Reset, b.Items["c"].Remove = true, true
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	var de *DeferredItemsError
	if err := s.Apply(newBatch()); !errors.As(err, &de) || len(de.Items) != 2 || de.Items["a"] != refused {
		t.Fatalf("checkpoint: %v, want a and c deferred", err)
	}
	drop := newBatch()
	drop.item("a").Drop = map[string]bool{"u3": true}
	if err := s.Apply(drop); !errors.As(err, &de) {
		t.Fatalf("apply a drop to a deferred item: %v, want it deferred still", err)
	}
	want := map[string][]string{"a": {"u2", "u4"}, "b": {"u1", "u2"}}
	if got := storedSeeds(t, s); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("while deferred: %v, want %v", got, want)
	}
	s.refuse = nil
	if err := s.Apply(newBatch()); err != nil {
		t.Fatalf("retry once the store takes the items: %v", err)
	}
	if got := storedSeeds(t, s); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after the retry: %v, want %v", got, want)
	}
	if got := logItems(t, s); len(got) != 0 {
		t.Errorf("log still holds %v", got)
	}
}

// Finding 1: on the engine, an item the store cannot write gets the status
// failed with the reason (logged once), the others are written, the engine
// stays writable, closes and reopens with every acknowledged click, and the
// item recovers once the store takes it.
func TestEngineDeferredItemNeverPoisons(t *testing.T) {
	s, _ := testworld.Small(t)
	ctx := context.Background()
	dir := t.TempDir()
	var logs logBuf
	var refuse atomic.Bool
	refuse.Store(true)
	open := func() (*Engine, *BoltStore) {
		bst, err := openBoltStore(dir, func(id string) error {
			if id == "9002" && refuse.Load() {
				return errors.New("injected: key refused")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		return openTest(t, "", Options{Store: bst, Logger: logs.logger()}), bst
	}
	checkpoint := func(e *Engine, bst *BoltStore) {
		e.diskMu.Lock()
		defer e.diskMu.Unlock()
		if err := e.noteDeferred(bst.checkpoint()); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
	}
	want := map[string]int{}
	click := func(e *Engine, items ...string) {
		var batch []Click
		for _, id := range items {
			for range 3 {
				batch = append(batch, Click{UserID: s.UserID(want[id]), ItemID: id})
				want[id]++
			}
		}
		if res, err := e.Clicks(ctx, batch); err != nil || res.Accepted != len(batch) {
			t.Fatalf("clicks: %+v %v", res, err)
		}
	}
	check := func(e *Engine, when string, failed bool) {
		t.Helper()
		for id, n := range want {
			info, err := e.Item(ctx, id)
			if err != nil || info.Seeds != n {
				t.Fatalf("%s: item %s: %d seeds (%v), want %d", when, id, info.Seeds, err, n)
			}
			wantFailed := failed && id == "9002"
			if (info.Status == bundle.StatusFailed) != wantFailed || (info.Failure != "") != wantFailed {
				t.Errorf("%s: item %s: status %s %q", when, id, info.Status, info.Failure)
			}
			if wantFailed && !strings.Contains(info.Failure, "injected: key refused") {
				t.Errorf("%s: failure %q does not give the reason", when, info.Failure)
			}
		}
		if err := e.Ready(); err != nil {
			t.Errorf("%s: engine not ready: %v", when, err)
		}
	}

	e, bst := open()
	click(e, "9001", "9002", "9003")
	checkpoint(e, bst)
	check(e, "after the checkpoint", true)
	click(e, "9001", "9002") // writes go on, for the deferred item too
	checkpoint(e, bst)
	check(e, "after a second checkpoint", true)
	res, err := e.Score(ctx, s.UserID(1), []string{"9001", "9002"})
	if err != nil || res[0].Status != bundle.StatusCold || res[1].Status != bundle.StatusFailed {
		t.Errorf("score statuses %+v (%v), want cold, failed", res, err)
	}
	if st := e.Stats(); st.ItemsFailed != 1 {
		t.Errorf("stats count %d failed items, want 1", st.ItemsFailed)
	}
	if n := logs.count("ERROR", "9002", "injected"); n != 1 {
		t.Errorf("the deferred item was logged %d times, want once", n)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	e, bst = open()
	check(e, "after reopen", true)
	refuse.Store(false)
	checkpoint(e, bst)
	check(e, "after the store took it", false)
	if n := logs.count("INFO", "9002", "written"); n != 1 {
		t.Errorf("the recovery was logged %d times, want once", n)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, bst = open()
	defer e.Close()
	check(e, "after the last reopen", false)
	if got := logItems(t, bst); len(got) != 0 {
		t.Errorf("log still holds %v", got)
	}
}

func TestRetryBackoff(t *testing.T) {
	e := &Engine{opts: Options{ReclusterInterval: time.Minute}}
	long := &Engine{opts: Options{ReclusterInterval: 2 * time.Hour}}
	for _, tc := range []struct {
		e    *Engine
		n    int
		want time.Duration
	}{
		{e, 1, 2 * time.Minute},
		{e, 2, 4 * time.Minute},
		{e, 5, 32 * time.Minute},
		{e, 6, time.Hour},
		{e, 1000, time.Hour},
		{long, 1, 2 * time.Hour},
		{long, 50, 2 * time.Hour},
	} {
		if got := tc.e.retryBackoff(tc.n); got != tc.want {
			t.Errorf("interval %v, %d failures: backoff %v, want %v", tc.e.opts.ReclusterInterval, tc.n, got, tc.want)
		}
	}
}

// Finding 3 (second half): an item whose re-cluster fails gets the status
// failed with the reason, is logged once, and is not retried in a hot loop:
// not by Recluster calls without new clicks, again on new clicks, and on
// the interval with a growing backoff.
func TestFailedReclusterBacksOff(t *testing.T) {
	s, _ := testworld.Small(t)
	ctx := context.Background()
	var logs logBuf
	var broken atomic.Bool
	broken.Store(true)
	var attempts atomic.Int64
	opts := Options{
		Logger: logs.logger(),
		Hooks: Hooks{OnRecluster: func(ev ReclusterEvent) {
			if ev.ItemID == "9001" {
				attempts.Add(1)
			}
		}},
		reclusterFault: func(id string) error {
			if id == "9001" && broken.Load() {
				return errors.New("kmeans: point 3 is +Inf")
			}
			return nil
		},
	}
	clicks := func(e *Engine, from, n int) {
		t.Helper()
		var batch []Click
		for i := from; i < from+n; i++ {
			batch = append(batch, Click{UserID: s.UserID(i), ItemID: "9001"})
		}
		if _, err := e.Clicks(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("no retry without clicks", func(t *testing.T) {
		attempts.Store(0)
		e := openTest(t, t.TempDir(), opts) // interval 1 hour
		defer e.Close()
		clicks(e, 0, 12) // crosses MinSeeds: an urgent re-cluster, which fails
		waitFor(t, "the first re-cluster", 5*time.Second, func() bool { return attempts.Load() == 1 })
		for range 20 {
			if err := e.Recluster(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := attempts.Load(); n != 1 {
			t.Errorf("%d re-clusters without new clicks, want 1", n)
		}
		info, _ := e.Item(ctx, "9001")
		if info.Status != bundle.StatusFailed || !strings.Contains(info.Failure, "re-cluster failed: kmeans: point 3 is +Inf") {
			t.Errorf("item: status %s, failure %q", info.Status, info.Failure)
		}
		res, _ := e.Score(ctx, s.UserID(100), []string{"9001", "1"})
		if res[0].Status != bundle.StatusFailed || res[1].Status != bundle.StatusOK || math.IsNaN(float64(res[0].Score)) {
			t.Errorf("scores %+v, want failed (with the cold score) and ok", res)
		}
		clicks(e, 12, 1)
		if err := e.Recluster(ctx); err != nil {
			t.Fatal(err)
		}
		if n := attempts.Load(); n != 2 {
			t.Errorf("%d re-clusters after new clicks, want 2", n)
		}
		if n := logs.count("WARN", "re-cluster failed", "9001"); n != 1 {
			t.Errorf("the failure was logged %d times as a warning, want once", n)
		}
		broken.Store(false)
		clicks(e, 13, 1)
		if err := e.Recluster(ctx); err != nil {
			t.Fatal(err)
		}
		if info, _ := e.Item(ctx, "9001"); info.Status != bundle.StatusOK || info.Failure != "" {
			t.Errorf("after a good re-cluster: status %s, failure %q", info.Status, info.Failure)
		}
		broken.Store(true)
	})

	t.Run("backoff on the interval", func(t *testing.T) {
		attempts.Store(0)
		const interval, window = 20 * time.Millisecond, 700 * time.Millisecond
		o := opts
		o.ReclusterInterval = interval
		e := openTest(t, t.TempDir(), o)
		defer e.Close()
		start := time.Now()
		clicks(e, 0, 12)
		time.Sleep(window)
		e.Close()
		elapsed := time.Since(start)
		// Tries at 0, then after 2, 4, 8, 16, ... intervals: at most
		// 1 + log2(elapsed/interval) in all (a retry every interval would
		// be elapsed/interval, 35 here).
		limit := 1 + int64(math.Log2(float64(elapsed)/float64(interval)))
		if n := attempts.Load(); n < 2 || n > limit {
			t.Errorf("%d re-cluster tries in %v at an interval of %v, want 2..%d", n, elapsed, interval, limit)
		}
		t.Logf("%d tries in %v", attempts.Load(), elapsed)
	})
}

// Finding 10: a model folder's embedding that is not finite, or beyond
// MaxVectorNorm, is refused naming the user id, not the row.
func TestNonFiniteEmbeddingNamesUser(t *testing.T) {
	s, m := testworld.Small(t)
	for _, tc := range []struct {
		name string
		val  float32
		want string
	}{
		{"NaN", float32(math.NaN()), "not finite"},
		{"Inf", float32(math.Inf(-1)), "not finite"},
		{"huge", 3e38, "norm"},
	} {
		emb := *s.Emb
		emb.Vecs = slices.Clone(s.Emb.Vecs)
		emb.Vecs[3*emb.Dim+2] = tc.val
		b := testworld.Bundle(s, m)
		b.Embeddings = &emb
		_, err := openWithBundle(context.Background(), b, Options{DataDir: t.TempDir()})
		id := s.UserID(3)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("user %q", id)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: open = %v, want an error naming user %q and %q", tc.name, err, id, tc.want)
		}
	}
}

// closeCounter is a Store that counts its Close calls.
type closeCounter struct {
	Store
	closed atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return c.Store.Close() }

// TestOpenStateFolderFirst (issue 14, point 9): Open opens the seed store
// before it reads the model folder, so a state folder that cannot be used
// fails first, with the store's error; and a store given in Options is
// closed by an Open that fails.
func TestOpenStateFolderFirst(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := dir + "/file"
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	noModel := dir + "/no-model"
	held, err := OpenBoltStore(dir + "/held")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, tc := range []struct {
		name, data, want string
	}{
		{"state folder under a file", file + "/state", "open seed store"},
		{"state folder of another engine", dir + "/held", "locked by another process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, noModel, Options{DataDir: tc.data})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "model folder") {
				t.Errorf("Open: %v; want the seed store's error (%q), before the missing model folder's", err, tc.want)
			}
		})
	}
	t.Run("created state folder removed", func(t *testing.T) {
		state := dir + "/new-state"
		if _, err := Open(ctx, noModel, Options{DataDir: state}); err == nil {
			t.Fatal("Open of a missing model folder succeeded")
		}
		if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the failed Open left the state folder it created (%v)", err)
		}
		kept := t.TempDir() // an existing state folder stays
		if _, err := Open(ctx, noModel, Options{DataDir: kept}); err == nil {
			t.Fatal("Open of a missing model folder succeeded")
		}
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("the failed Open removed an existing state folder: %v", err)
		}
	})
	t.Run("given store closed", func(t *testing.T) {
		bst, err := OpenBoltStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		st := &closeCounter{Store: bst}
		if _, err := Open(ctx, noModel, Options{Store: st}); err == nil {
			t.Fatal("Open of a missing model folder succeeded")
		}
		if n := st.closed.Load(); n != 1 {
			t.Errorf("the given store was closed %d times by the failed Open, want once", n)
		}
	})
}
