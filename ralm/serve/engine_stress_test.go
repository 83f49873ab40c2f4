package serve

import (
	"bufio"
	"context"
	"fmt"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ralmlab/ralm/ralm/bundle"
)

// TestConcurrentStress runs ingestion, scoring, audience scans, upserts,
// deletes, re-clustering and a reload at once (meant for go test -race) and
// then checks the engine's invariants.
func TestConcurrentStress(t *testing.T) {
	s, m := testworld.Small(t)
	dir := t.TempDir()
	e := openTest(t, dir, Options{ReclusterInterval: 2 * time.Millisecond, MaxSeeds: 50, MinSeeds: 5, MaxBatch: 64})
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var clicks, scores, errs atomic.Int64
	fail := func(err error) {
		if errs.Add(1) <= 5 {
			t.Error(err)
		}
	}
	for g := range 4 { // ingestion
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for ctx.Err() == nil {
				batch := make([]Click, 1+rng.IntN(20))
				for i := range batch {
					batch[i] = Click{UserID: s.UserID(rng.IntN(400)), ItemID: strconv.Itoa(1 + rng.IntN(40))}
				}
				if _, err := e.Clicks(ctx, batch); err != nil && ctx.Err() == nil {
					fail(err)
				}
				clicks.Add(int64(len(batch)))
			}
		})
	}
	for g := range 3 { // scoring
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			ids := make([]string, 50)
			for ctx.Err() == nil {
				for i := range ids {
					ids[i] = strconv.Itoa(1 + rng.IntN(45))
				}
				res, err := e.Score(ctx, s.UserID(rng.IntN(400)), ids)
				if err != nil && ctx.Err() == nil {
					fail(err)
					continue
				}
				for _, r := range res {
					if r.Status == bundle.StatusOK && (r.Score != r.Score || r.Score < -1.01 || r.Score > 1.01) {
						fail(fmt.Errorf("item %s: score %v", r.ItemID, r.Score))
					}
				}
				scores.Add(1)
			}
		})
	}
	wg.Go(func() { // audience scans and item info
		for i := 0; ctx.Err() == nil; i++ {
			id := strconv.Itoa(1 + i%40)
			if _, err := e.Audience(ctx, id, 10); err != nil && ctx.Err() == nil && !isUnknownItem(err) {
				fail(err)
			}
			e.Item(ctx, id)
			e.Stats()
		}
	})
	wg.Go(func() { // upserts and deletes
		rng := rand.New(rand.NewPCG(9, 3))
		for i := 0; ctx.Err() == nil; i++ {
			vec := make([]float32, 8)
			for j := range vec {
				vec[j] = float32(rng.NormFloat64())
			}
			if err := e.UpsertUser(ctx, strconv.Itoa(5000+i%30), UserInput{Vector: vec}); err != nil && ctx.Err() == nil {
				fail(err)
			}
			if err := e.Click(ctx, Click{UserID: strconv.Itoa(5000 + i%30), ItemID: "41"}); err != nil && ctx.Err() == nil {
				fail(err)
			}
			if i%7 == 0 {
				if err := e.Delete(ctx, strconv.Itoa(1+rng.IntN(40))); err != nil && ctx.Err() == nil && !isUnknownItem(err) {
					fail(err)
				}
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Go(func() { // explicit re-clusters and a reload of the same model
		time.Sleep(200 * time.Millisecond)
		if err := e.reload(ctx, testworld.Bundle(s, m)); err != nil && ctx.Err() == nil {
			fail(err)
		}
		for ctx.Err() == nil {
			e.Recluster(ctx)
			time.Sleep(5 * time.Millisecond)
		}
	})
	wg.Wait()
	if clicks.Load() == 0 || scores.Load() == 0 {
		t.Fatalf("no work done: %d clicks, %d scores", clicks.Load(), scores.Load())
	}
	// Invariants: ring, set and count agree; no duplicates; cap respected.
	w := e.world.Load()
	w.items.Range(func(k, v any) bool {
		it := v.(*item)
		it.mu.Lock()
		defer it.mu.Unlock()
		seen := map[int32]bool{}
		for _, u := range it.seeds() {
			if seen[u] {
				t.Errorf("item %s: duplicate seed %d", k, u)
			}
			seen[u] = true
			if _, ok := it.set[u]; !ok {
				t.Errorf("item %s: seed %d missing from the set", k, u)
			}
		}
		if len(it.set) != len(it.ring) || int(it.nseeds.Load()) != len(it.ring) || len(it.ring) > 50 {
			t.Errorf("item %s: ring %d set %d count %d", k, len(it.ring), len(it.set), it.nseeds.Load())
		}
		return true
	})
	// Memory and store agree after a restart. (Close first: it commits
	// requests still queued when their callers' context ended.)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	w.items.Range(func(k, _ any) bool {
		want[k.(string)] = seedSet(t, e, k.(string))
		return true
	})
	e2 := openTest(t, dir, Options{MaxSeeds: 50, MinSeeds: 5})
	defer e2.Close()
	n := 0
	e2.world.Load().items.Range(func(k, _ any) bool {
		n++
		if got := seedSet(t, e2, k.(string)); strings.Join(got, ",") != strings.Join(want[k.(string)], ",") {
			t.Errorf("item %s after restart: %v, want %v", k, got, want[k.(string)])
		}
		return true
	})
	if n != len(want) {
		t.Errorf("%d items after restart, want %d", n, len(want))
	}
	t.Logf("%d clicks, %d score calls", clicks.Load(), scores.Load())
}

func isUnknownItem(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unknown item")
}

const crashEnv = "RALM_CRASH_CHILD_DIR"

// TestCrashChild is the child of TestCrashDurability: it ingests clicks and
// prints each acknowledged batch until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashDurability")
	}
	e, err := Open(context.Background(), filepath.Join(dir, "model"), Options{DataDir: filepath.Join(dir, "state"), ReclusterInterval: 5 * time.Millisecond})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	fmt.Fprintln(out, "READY")
	out.Flush()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for b := 0; ; b++ {
				batch := make([]Click, 50)
				for i := range batch {
					k := b*50 + i
					batch[i] = Click{UserID: strconv.Itoa(1000 + (k*7+g)%400), ItemID: fmt.Sprintf("%d%02d", 100+g, k%97)}
				}
				res, err := e.Clicks(context.Background(), batch)
				if err != nil || len(res.Rejected) > 0 {
					fmt.Println("ERROR", err, res.Rejected)
					os.Exit(1)
				}
				mu.Lock()
				for _, c := range batch {
					fmt.Fprintf(out, "ACK %s %s\n", c.UserID, c.ItemID)
				}
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashDurability kills an ingesting process with SIGKILL and checks that
// every click it acknowledged is in the seeds after a restart.
func TestCrashDurability(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	testworld.WriteBundle(t, filepath.Join(dir, "model"))
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[[2]string]bool{}
	sc := bufio.NewScanner(stdout)
	ready := false
	deadline := time.Now().Add(30 * time.Second)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "READY":
			ready = true
		case strings.HasPrefix(line, "ACK "):
			f := strings.Fields(line)
			acked[[2]string{f[1], f[2]}] = true
		case strings.HasPrefix(line, "ERROR"):
			t.Fatalf("child: %s", line)
		}
		if len(acked) >= 3000 || time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Anything printed before the kill was acknowledged too.
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "ACK" {
			acked[[2]string{f[1], f[2]}] = true
		}
	}
	cmd.Wait()
	if !ready || len(acked) == 0 {
		t.Fatalf("child acknowledged nothing (ready %v)", ready)
	}
	e, err := Open(context.Background(), filepath.Join(dir, "model"), Options{DataDir: filepath.Join(dir, "state"), ReclusterInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bySeed := map[string]map[string]bool{}
	lost := 0
	for k := range acked {
		if bySeed[k[1]] == nil {
			bySeed[k[1]] = map[string]bool{}
			for _, u := range seedSet(t, e, k[1]) {
				bySeed[k[1]][u] = true
			}
		}
		if !bySeed[k[1]][k[0]] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged clicks lost in the crash", lost, len(acked))
	}
	t.Logf("%d acknowledged clicks all present after SIGKILL", len(acked))
}
