package lookalike

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ralmlab/ralm/internal/cputime"
)

// benchData returns random embeddings and items whose clicker counts make
// the seed sample full (S=100 needs at least 143 clickers at 70% seeds).
func benchData(users, items, d int, minCl, maxCl int) ([]float32, [][]int32) {
	rng := rand.New(rand.NewPCG(1, 2))
	emb := make([]float32, users*d)
	for i := range emb {
		emb[i] = float32(rng.NormFloat64())
	}
	cl := make([][]int32, items)
	for i := range cl {
		n := minCl + rng.IntN(maxCl-minCl+1)
		for _, u := range rng.Perm(users)[:n] {
			cl[i] = append(cl[i], int32(u))
		}
	}
	return emb, cl
}

// BenchmarkTrainPairs measures training steps (input filling, forward,
// backward and the Adam update) with the default configuration — h=64,
// k=20, S=100 seeds per item, about 256 pairs per step with 4 negatives per
// positive, dropout 0.1 — for 1, 2 (the default) and 4 positives per item
// row, and reports (target, item) pairs per second of wall time and of CPU
// time (the latter is robust to other processes on a busy machine).
func BenchmarkTrainPairs(b *testing.B) {
	for _, ppi := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("positives_per_item=%d", ppi), func(b *testing.B) { benchTrainPairs(b, ppi, 1) })
	}
}

// BenchmarkTrainPairsThreads is BenchmarkTrainPairs's default (2 positives
// per item row) on 1 and 2 data-parallel workers; the speed-up needs idle
// cores.
func BenchmarkTrainPairsThreads(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) { benchTrainPairs(b, 2, threads) })
	}
}

// benchTrainPairs times training steps with ppi positives per item row on
// threads workers.
func benchTrainPairs(b *testing.B, ppi, threads int) {
	const d = 64
	emb, cl := benchData(5000, 300, d, 150, 400)
	cfg := DefaultConfig()
	cfg.PositivesPerItem, cfg.Epochs, cfg.Seed = ppi, 1, 1
	t, err := newTrainer(context.Background(), emb, d, cl, cfg, TrainOptions{Threads: threads})
	if err != nil {
		b.Fatal(err)
	}
	if err := t.build(); err != nil {
		b.Fatal(err)
	}
	defer t.closeGraphs()
	t.split()
	if err := t.recluster(); err != nil {
		b.Fatal(err)
	}
	t.makeChunks()
	B := t.dims.B
	pairs := 0
	cpu0 := cputime.Process()
	b.ResetTimer()
	rows := func(i int) ([]chunk, error) {
		s := (i * B) % (len(t.chunks) - B)
		return t.chunks[s : s+B], nil
	}
	if err := t.runSteps(b.N, rows, func(_ int, _ float64, p int) error { pairs += p; return nil }); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(pairs)/b.Elapsed().Seconds(), "pairs/s")
	b.ReportMetric(float64(pairs)/(cputime.Process()-cpu0).Seconds(), "pairs/cpu-s")
	b.ReportMetric(float64(pairs)/float64(b.N), "pairs/step")
}

// BenchmarkScore1000Items scores one user against 1,000 items of K=20
// centroids and reports the cost per (user, item) pair.
func BenchmarkScore1000Items(b *testing.B) {
	for _, h := range []int{64, 128} {
		for _, pool := range []Pooling{PoolingAttention, PoolingAvg} {
			b.Run(fmt.Sprintf("h=%d/%s", h, pool), func(b *testing.B) {
				const k, nItems = 20, 1000
				m := testModel(b, pool, h, h, k, 1)
				rng := rand.New(rand.NewPCG(3, 4))
				items := make([]*ItemState, nItems)
				for i := range items {
					c := make([]float32, k*h)
					for j := range c {
						c[j] = float32(rng.NormFloat64())
					}
					st, err := m.NewItemState(c, nil)
					if err != nil {
						b.Fatal(err)
					}
					items[i] = st
				}
				user := make([]float32, h)
				for j := range user {
					user[j] = float32(rng.NormFloat64())
				}
				out := make([]float32, nItems)
				b.ReportAllocs()
				cpu0 := cputime.Process()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					m.Score(user, items, out)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nItems), "ns/pair")
				b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N*nItems), "cpu-ns/pair")
			})
		}
	}
}
