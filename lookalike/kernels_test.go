package lookalike

import (
	"fmt"
	"math"
	"testing"
)

// TestKernels checks the dispatching kernels (assembly on amd64 with AVX2)
// against the portable Go reference for widths with and without a SIMD path.
func TestKernels(t *testing.T) {
	rng := newRNG(1, 2)
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	near := func(a, b float32, tol float64) bool {
		return math.Abs(float64(a-b)) <= tol*math.Max(1, math.Abs(float64(b)))
	}
	for _, h := range []int{8, 16, 24, 64, 72, 128, 13} {
		for _, n := range []int{1, 7, 21} {
			t.Run(fmt.Sprintf("h=%d/n=%d", h, n), func(t *testing.T) {
				rows, q, u := rnd(n*h), rnd(h), rnd(h)
				nq := n - 1
				gq, gu := make([]float32, n), make([]float32, n)
				wq, wu := make([]float32, n), make([]float32, n)
				dot2rows(rows, n, nq, h, q, u, gq, gu)
				dot2rowsGo(rows, n, nq, h, q, u, wq, wu)
				for r := 0; r < n; r++ {
					if !near(gu[r], wu[r], 1e-5) || (r < nq && !near(gq[r], wq[r], 1e-5)) {
						t.Fatalf("dot2rows row %d: got %v/%v want %v/%v", r, gq[r], gu[r], wq[r], wu[r])
					}
				}
				w := rnd(n)
				gs, ws := make([]float32, h), make([]float32, h)
				wsum(rows, n, h, w, gs)
				wsumGo(rows, n, h, w, ws)
				for j := range gs {
					if !near(gs[j], ws[j], 1e-5) {
						t.Fatalf("wsum[%d]: got %v want %v", j, gs[j], ws[j])
					}
				}
			})
		}
	}
	for _, h := range []int{8, 16, 24, 64, 72, 128, 136, 13} {
		for _, n := range []int{1, 2, 3, 7} {
			for _, d := range []int{1, 5, 64} {
				x, w, b, g := rnd(n*d), rnd(d*h), rnd(h), rnd(n*h)
				gz, wz := make([]float32, n*h), make([]float32, n*h)
				linearRows(x, n, d, h, w, b, gz)
				linearRowsGo(x, n, d, h, w, b, wz)
				for i := range gz {
					if !near(gz[i], wz[i], 1e-5) {
						t.Fatalf("linearRows h=%d n=%d d=%d [%d]: got %v want %v", h, n, d, i, gz[i], wz[i])
					}
				}
				gw, ww := rnd(d*h), make([]float32, d*h)
				copy(ww, gw)
				rank1Rows(x, n, d, h, g, gw)
				rank1RowsGo(x, n, d, h, g, ww)
				for i := range gw {
					if !near(gw[i], ww[i], 1e-5) {
						t.Fatalf("rank1Rows h=%d n=%d d=%d [%d]: got %v want %v", h, n, d, i, gw[i], ww[i])
					}
				}
			}
		}
	}
	// exp(tanh(x)) against float64 maths, over a range beyond the clamp
	x := make([]float32, 0, 4003)
	for i := -2000; i <= 2002; i++ {
		x = append(x, float32(i)/100)
	}
	want := make([]float64, len(x))
	for i, v := range x {
		want[i] = math.Exp(math.Tanh(float64(v)))
	}
	expTanh(x)
	for i, v := range x {
		if math.Abs(float64(v)-want[i]) > 3e-6 {
			t.Fatalf("expTanh(%v) = %v, want %v", float32(i-2000)/100, v, want[i])
		}
	}
}
