package serve

import (
	"context"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// benchWorld is a larger synthetic world for benchmarks: users × dim
// embeddings and a model of width h with K clusters.
type benchWorld struct {
	s *testworld.Synth
	m *lookalike.Model
}

var benchFixture = sync.OnceValues(func() (*benchWorld, error) {
	s := testworld.NewSynth(2, 20000, 64, 20, 200, 60)
	m, err := testworld.TrainModel(s, 20, 1)
	return &benchWorld{s: s, m: m}, err
})

func benchEngine(b *testing.B, opts Options) (*Engine, *testworld.Synth) {
	b.Helper()
	f, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	opts.DataDir = b.TempDir()
	if opts.ReclusterInterval == 0 {
		opts.ReclusterInterval = time.Hour
	}
	e, err := openWithBundle(context.Background(), testworld.Bundle(f.s, f.m), opts)
	if err != nil {
		b.Fatal(err)
	}
	return e, f.s
}

// BenchmarkEngineScore1000 scores one user against 1,000 items (k=20,
// h=64), all with a published look-alike state. One op is one Score call.
func BenchmarkEngineScore1000(b *testing.B) {
	e, s := benchEngine(b, Options{MinSeeds: 10})
	defer e.Close()
	ctx := context.Background()
	// 1,000 items with 40 seeds each.
	rng := rand.New(rand.NewPCG(1, 1))
	var batch []Click
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = strconv.Itoa(100000 + i)
		for range 40 {
			batch = append(batch, Click{UserID: s.UserID(rng.IntN(20000)), ItemID: ids[i]})
		}
	}
	if _, err := e.Clicks(ctx, batch); err != nil {
		b.Fatal(err)
	}
	if err := e.Recluster(ctx); err != nil {
		b.Fatal(err)
	}
	// The worker may still be building the items that crossed MinSeeds.
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := e.Score(ctx, s.UserID(7), ids)
		if err != nil {
			b.Fatal(err)
		}
		cold := 0
		for _, r := range res {
			if r.Status != bundle.StatusOK {
				cold++
			}
		}
		if cold == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d items still not ok", cold)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := e.Score(ctx, s.UserID(i%20000), ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "µs/pair")
}

// BenchmarkIngest measures sustained click ingestion (durable: every
// Clicks call returns after its batch is synced) with re-clustering running
// every second, from 16 concurrent producers (think HTTP requests) sending
// batches of 1,000 clicks over 5,000 items of 20,000 users (d=64, k=20).
// Concurrent batches share one synced transaction (group commit). One op is
// one click.
func BenchmarkIngest(b *testing.B) {
	ingestRecluster := time.Second
	if os.Getenv("RALM_BENCH_NO_RECLUSTER") != "" {
		ingestRecluster = time.Hour // isolate the ingestion path
	}
	e, s := benchEngine(b, Options{ReclusterInterval: ingestRecluster})
	defer e.Close()
	ctx := context.Background()
	const producers, batchSize = 16, 1000
	b.ResetTimer()
	var wg sync.WaitGroup
	per := (b.N + producers - 1) / producers
	for g := range producers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			batch := make([]Click, 0, batchSize)
			for sent := 0; sent < per; {
				batch = batch[:0]
				for range min(batchSize, per-sent) {
					batch = append(batch, Click{UserID: s.UserID(rng.IntN(20000)), ItemID: strconv.Itoa(1 + rng.IntN(5000))})
				}
				if _, err := e.Clicks(ctx, batch); err != nil {
					b.Error(err)
					return
				}
				sent += len(batch)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "clicks/s")
	st := e.Stats()
	b.ReportMetric(float64(st.Reclusters), "reclusters")
}

// BenchmarkRecluster100kSeeds re-clusters one item with 100,000 seeds
// (k=20, d=h=64), warm-started from its previous state. One op is one
// re-cluster.
func BenchmarkRecluster100kSeeds(b *testing.B) {
	f, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	// 100k users: the bench world's 20k embeddings repeated with noise.
	const n = 100_000
	users := data.NewVocab(data.IDInt64)
	d := f.s.Emb.Dim
	vecs := make([]float32, n*d)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range n {
		users.MustAdd(strconv.Itoa(i))
		src := f.s.Emb.Vec(int32(i % 20000))
		for j := range d {
			vecs[i*d+j] = src[j] + 0.1*float32(rng.NormFloat64())
		}
	}
	s := &testworld.Synth{Emb: &data.Embeddings{Users: users, Dim: d, Vecs: vecs}, Clicks: &data.Clicks{Users: users, Items: data.NewVocab(data.IDInt64)}}
	e, err := openWithBundle(context.Background(), testworld.Bundle(s, f.m), Options{DataDir: b.TempDir(), ReclusterInterval: time.Hour, MaxBatch: n})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	batch := make([]Click, n)
	for i := range batch {
		batch[i] = Click{UserID: strconv.Itoa(i), ItemID: "1"}
	}
	if _, err := e.Clicks(ctx, batch); err != nil {
		b.Fatal(err)
	}
	w := e.world.Load()
	v, _ := w.items.Load("1")
	it := v.(*item)
	if err := e.buildItem(ctx, w, it, false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		it.mu.Lock()
		it.version++ // force a rebuild from the same seeds
		it.mu.Unlock()
		if err := e.buildItem(ctx, w, it, false); err != nil {
			b.Fatal(err)
		}
	}
}
