package lookalike

import (
	"context"
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// TestInferenceParity checks that Score (plain Go) equals the training
// graph's forward pass on the same items: the graph averages transformed
// seeds per k-means cluster through the assignment matrix, Score uses the
// centroids built by BuildItem.
func TestInferenceParity(t *testing.T) {
	for _, pooling := range []string{PoolingAttention, PoolingAvg, "attention+prior", "avg+prior"} {
		for _, h := range []int{8, 13} {
			t.Run(fmt.Sprintf("%s/h=%d", pooling, h), func(t *testing.T) {
				const d, k, T = 10, 6, 7
				m := testModel(t, pooling, d, h, k, 3)
				rng := newRNG(5, 1)
				// items with fewer seeds than k, exactly k, and more
				seedCounts := []int{1, 3, k, k + 1, 40, 25}
				S := 40
				B := len(seedCounts)
				dm := graphDims{B: B, S: S, K: k, T: T, D: d, H: h}
				sg, err := buildStepGraph(m, tensor.Float32, dm, false, m.tensorData(), false)
				if err != nil {
					t.Fatal(err)
				}
				defer sg.close()
				xs, xt, am := sg.f32(sg.xs), sg.f32(sg.xt), sg.f32(sg.amat)
				clear(am)
				users := make([]float32, B*T*d)
				for i := range users {
					users[i] = float32(rng.NormFloat64() * 2)
				}
				copy(xt, users)
				states := make([]*ItemState, B)
				for b, n := range seedCounts {
					seeds := make([]float32, n*d)
					for i := range seeds {
						seeds[i] = float32(rng.NormFloat64() + float64(i%d%3))
					}
					copy(xs[b*S*d:], seeds)
					st, err := m.BuildItem(context.Background(), seeds, nil)
					if err != nil {
						t.Fatal(err)
					}
					states[b] = st
					// the assignment BuildItem used
					hs := make([]float32, n*h)
					m.transformBatch(hs, seeds, n)
					assign, nc, err := clusterAssign(context.Background(), hs, n, h, k, nil, m.cfg.Seed^uint64(n), m.cfg.KMeansIter, m.cfg.MiniBatchAbove)
					if err != nil {
						t.Fatal(err)
					}
					if nc != st.K {
						t.Fatalf("item %d: %d clusters, state has %d", b, nc, st.K)
					}
					cnt := make([]int, k)
					for _, a := range assign {
						cnt[a]++
					}
					for s, a := range assign {
						am[(b*k+int(a))*S+s] = 1 / float32(cnt[a])
					}
					var mask, avgw []float32
					if sg.mask != nil {
						mask = sg.f32(sg.mask)
					}
					if sg.avgw != nil {
						avgw = sg.f32(sg.avgw)
					}
					slotInputs(cnt, m.cfg.SizePrior, mask, avgw, b)
				}
				if err := sg.run(); err != nil {
					t.Fatal(err)
				}
				want := sg.scoreV.Data().([]float32)
				out := make([]float32, 1)
				worst := 0.0
				for b := 0; b < B; b++ {
					for j := 0; j < T; j++ {
						u := users[(b*T+j)*d : (b*T+j+1)*d]
						m.Score(u, states[b:b+1], out)
						diff := math.Abs(float64(out[0] - want[b*T+j]))
						worst = math.Max(worst, diff)
						if diff > 1e-5 {
							t.Errorf("item %d (%d seeds) target %d: Score %v, graph %v", b, seedCounts[b], j, out[0], want[b*T+j])
						}
					}
				}
				t.Logf("max abs diff %.2g", worst)
			})
		}
	}
}
