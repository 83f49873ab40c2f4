package kmeans

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/cputime"
)

// reportCPU reports the CPU time per op since start: on a shared machine
// it is a steadier figure than the wall time (divide by the cores used).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cputime.Process()-start)/1e6/float64(b.N), "cpu-ms/op")
}

// gaussian returns n*d values drawn from N(0,1).
func gaussian(n, d int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// BenchmarkLloyd100kx64k20: one op is k-means++ initialisation plus exactly
// 10 Lloyd iterations (Tol 0) of 100,000 × 64 N(0,1) points, k=20.
func BenchmarkLloyd100kx64k20(b *testing.B) {
	x := gaussian(100000, 64, 1)
	b.ResetTimer()
	start := cputime.Process()
	defer reportCPU(b, start)
	for i := 0; i < b.N; i++ {
		r, err := Fit(context.Background(), x, 64, Options{K: 20, MaxIter: 10, Seed: uint64(i)})
		if err != nil {
			b.Fatal(err)
		}
		if r.Iters != 10 {
			b.Fatalf("ran %d iterations, want 10", r.Iters)
		}
	}
}

// BenchmarkMiniBatch1Mx64k20 clusters 1,000,000 × 64 N(0,1) points, k=20,
// with mini-batches of 1024 and a final full assignment pass.
func BenchmarkMiniBatch1Mx64k20(b *testing.B) {
	x := gaussian(1000000, 64, 2)
	b.ResetTimer()
	start := cputime.Process()
	defer reportCPU(b, start)
	for i := 0; i < b.N; i++ {
		r, err := FitMiniBatch(context.Background(), x, 64, MiniBatchOptions{Options: Options{K: 20, Seed: uint64(i)}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Iters), "steps/op")
	}
}

// BenchmarkItem2kx64k20 is the per-item case: 2,000 seeds × 64, k=20,
// default options (up to 50 iterations, to convergence).
func BenchmarkItem2kx64k20(b *testing.B) {
	x := gaussian(2000, 64, 3)
	b.ResetTimer()
	start := cputime.Process()
	defer reportCPU(b, start)
	for i := 0; i < b.N; i++ {
		if _, err := Fit(context.Background(), x, 64, Options{K: 20, Seed: uint64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
