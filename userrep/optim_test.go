package userrep

import (
	"math"
	"math/rand"
	"testing"
)

// TestAdamKernel compares the vectorised Adam step with the scalar one.
func TestAdamKernel(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, n := range []int{1, 8, 13, 64, 100} {
		mk := func() []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			return x
		}
		w, g, m := mk(), mk(), mk()
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.Float64())
		}
		a := &adam[float32]{lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8}
		a.begin()
		a.begin()
		// scalar reference in float64
		w2 := make([]float64, n)
		for i := range w2 {
			mi := 0.9*float64(m[i]) + 0.1*float64(g[i])
			vi := 0.999*float64(v[i]) + 0.001*float64(g[i])*float64(g[i])
			step := 0.01 / (1 - 0.81)
			w2[i] = float64(w[i]) - step*mi/(math.Sqrt(vi)/math.Sqrt(1-0.999*0.999)+1e-8)
		}
		a.update(w, g, m, v)
		for i := range w {
			if d := math.Abs(float64(w[i]) - w2[i]); d > 1e-5*(1+math.Abs(w2[i])) {
				t.Fatalf("n=%d: w[%d] = %v, want %v", n, i, w[i], w2[i])
			}
		}
	}
}
