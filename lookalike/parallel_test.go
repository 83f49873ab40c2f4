package lookalike

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/ralmlab/ralm/internal/shard"
)

func TestShards(t *testing.T) {
	for _, c := range []struct{ B, threads, size, n int }{
		{26, 1, 26, 1},
		{26, 2, 13, 2},
		{25, 3, 9, 3},
		{5, 4, 2, 3}, // ceil(5/4) = 2 rows each: three workers are enough
		{3, 8, 2, 2}, // a graph needs two rows
		{2, 2, 2, 1},
	} {
		size, n := shard.Split(c.B, c.threads, 2)
		if size != c.size || n != c.n {
			t.Errorf("shards(%d, %d) = %d, %d; want %d, %d", c.B, c.threads, size, n, c.size, c.n)
		}
	}
}

// stepGrads fills one step with rows and returns the loss and the gradient
// of every parameter summed over the workers.
func stepGrads(t *testing.T, tr *trainer, rows []chunk) (float64, [][]float32) {
	t.Helper()
	tr.fill(tr.hosts[0], rows)
	loss, err := tr.runGraphs(tr.hosts[0])
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for i := range tr.sgs[0].params {
		var sum []float32
		for w := range tr.sgs {
			g, err := tr.adam.gradF32(w, i)
			if err != nil {
				t.Fatal(err)
			}
			if sum == nil {
				sum = make([]float32, len(g))
			}
			for k, v := range g {
				sum[k] += v
			}
		}
		out = append(out, sum)
	}
	return loss, out
}

// TestShardedStepMatches: one step's loss and gradients with the rows cut
// into 2 or 3 shards (the last padded, and a short last batch) equal those
// of one graph on all rows, up to float32 rounding, for attention and
// average pooling, with dropout and the propensity head.
func TestShardedStepMatches(t *testing.T) {
	p := smallPlanted(4)
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"attention+dropout", Config{Epochs: 1, K: 5, SeedsPerItem: 20, Seed: 3, Dropout: 0.2}},
		{"avg", Config{Epochs: 1, K: 5, SeedsPerItem: 20, Seed: 3, Pooling: PoolingAvg, NoSizePrior: true}},
		{"propensity", Config{Epochs: 1, K: 5, SeedsPerItem: 20, Seed: 3, Propensity: PropensityUser}},
	} {
		cfg := c.cfg
		t.Run(c.name, func(t *testing.T) {
			var ref [][]float32
			var refLoss []float64
			for _, threads := range []int{1, 2, 3} {
				tr, err := newTrainer(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.build(); err != nil {
					t.Fatal(err)
				}
				defer tr.closeGraphs()
				if len(tr.sgs) != threads {
					t.Fatalf("%d workers, want %d", len(tr.sgs), threads)
				}
				tr.split()
				if err := tr.recluster(); err != nil {
					t.Fatal(err)
				}
				tr.makeChunks()
				B := tr.dims.B
				if len(tr.chunks) < 2*B {
					t.Fatalf("%d rows, want at least %d", len(tr.chunks), 2*B)
				}
				for s, rows := range [][]chunk{tr.chunks[:B], tr.chunks[B : 2*B-3]} {
					loss, grads := stepGrads(t, tr, rows)
					if threads == 1 {
						refLoss, ref = append(refLoss, loss), append(ref, grads...)
						continue
					}
					if math.Abs(loss-refLoss[s]) > 1e-5*math.Abs(refLoss[s]) {
						t.Errorf("threads %d step %d: loss %v, one graph %v", threads, s, loss, refLoss[s])
					}
					for i, g := range grads {
						want := ref[s*len(grads)+i]
						scale := 0.0
						for _, v := range want {
							scale = math.Max(scale, math.Abs(float64(v)))
						}
						for k := range g {
							if d := math.Abs(float64(g[k] - want[k])); d > 1e-4*scale+1e-7 {
								t.Fatalf("threads %d step %d: gradient of %s[%d] = %v, one graph %v", threads, s, tr.sgs[0].params[i].Name(), k, g[k], want[k])
							}
						}
					}
				}
			}
		})
	}
}

// TestThreadsReproducible: the same seed and Threads give bit-identical
// weights with 2 and 3 workers.
func TestThreadsReproducible(t *testing.T) {
	p := smallPlanted(2)
	cfg := Config{Epochs: 2, K: 5, SeedsPerItem: 20, Seed: 7, Dropout: 0.2}
	for _, threads := range []int{2, 3} {
		var prev []byte
		for run := 0; run < 2; run++ {
			m, _, err := Train(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			buf, err := m.encode()
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil && !bytes.Equal(prev, buf) {
				t.Errorf("threads %d: two runs with the same seed differ", threads)
			}
			prev = buf
		}
	}
}

// TestPrefetchMatchesSequential: filling the next step while one trains
// (the default) gives the same weights, bit for bit, as filling every step
// just before it, with one and two workers, attention with dropout and
// average pooling.
func TestPrefetchMatchesSequential(t *testing.T) {
	p := smallPlanted(5)
	for _, cfg := range []Config{
		{Epochs: 2, K: 5, SeedsPerItem: 20, Seed: 7, Dropout: 0.2},
		{Epochs: 2, K: 5, SeedsPerItem: 20, Seed: 7, Pooling: PoolingAvg},
	} {
		for _, threads := range []int{1, 2} {
			var got [2][]byte
			for i, noPrefetch := range []bool{false, true} {
				tr, err := newTrainer(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				tr.noPrefetch = noPrefetch
				if err := tr.run(); err != nil {
					t.Fatal(err)
				}
				if got[i], err = tr.m.encode(); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got[0], got[1]) {
				t.Errorf("pooling %s, %d threads: weights with prefetch differ from filling each step before it", cfg.Pooling, threads)
			}
		}
	}
}
