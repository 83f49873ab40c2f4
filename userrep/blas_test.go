package userrep

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestSgemm compares the float32 GEMM (AVX2 kernel or gonum) with a float64
// reference on shapes with and without kernel-sized edges.
func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	shapes := [][3]int{{4, 16, 1}, {8, 32, 64}, {5, 17, 3}, {7, 33, 9}, {256, 64, 64}, {3, 16, 8}, {64, 1, 32}, {1, 64, 64}, {13, 50, 100}}
	for _, sh := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, -2}} {
					m, n, k := sh[0], sh[1], sh[2]
					name := fmt.Sprintf("%dx%dx%d/tA=%v/tB=%v/alpha=%v/beta=%v", m, n, k, tA, tB, ab[0], ab[1])
					lda, ldb, ldc := k+1, n+2, n+3
					if tA {
						lda = m + 1
					}
					if tB {
						ldb = k + 2
					}
					rows := func(r, ld int) []float32 {
						x := make([]float32, r*ld)
						for i := range x {
							x[i] = float32(rng.NormFloat64())
						}
						return x
					}
					ar, br := m, k
					if tA {
						ar = k
					}
					if tB {
						br = n
					}
					a, b, c := rows(ar, lda), rows(br, ldb), rows(m, ldc)
					want := make([]float64, len(c))
					for i := range c {
						want[i] = float64(c[i])
					}
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var s float64
							for l := 0; l < k; l++ {
								var av, bv float32
								if tA {
									av = a[l*lda+i]
								} else {
									av = a[i*lda+l]
								}
								if tB {
									bv = b[j*ldb+l]
								} else {
									bv = b[l*ldb+j]
								}
								s += float64(av) * float64(bv)
							}
							want[i*ldc+j] = float64(ab[0])*s + float64(ab[1])*float64(c[i*ldc+j])
						}
					}
					gemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					for i := range c {
						if d := math.Abs(float64(c[i]) - want[i]); d > 1e-4*(1+math.Abs(want[i])) {
							t.Fatalf("%s: c[%d] = %v, want %v", name, i, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestAxpyDot checks the vector kernels on lengths around the SIMD width.
func TestAxpyDot(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 63, 64, 65, 130} {
		x, y := make([]float32, n), make([]float32, n)
		var want float64
		for i := range x {
			x[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			want += float64(x[i]) * float64(y[i])
		}
		if got := dot(x, y); math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
			t.Errorf("dot n=%d: %v, want %v", n, got, want)
		}
		y2 := append([]float32(nil), y...)
		axpy(float32(0.5), x, y2)
		for i := range y2 {
			if w := y[i] + 0.5*x[i]; math.Abs(float64(y2[i]-w)) > 1e-6 {
				t.Errorf("axpy n=%d: y[%d]=%v, want %v", n, i, y2[i], w)
			}
		}
	}
}

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

// TestTanh32 bounds the error of the fast float32 tanh.
func TestTanh32(t *testing.T) {
	worst := 0.0
	for x := -12.0; x <= 12; x += 0.000731 {
		got := float64(tanh32(float32(x)))
		want := math.Tanh(float64(float32(x)))
		worst = math.Max(worst, math.Abs(got-want))
	}
	if worst > 5e-7 { // about 5 ulps near ±1
		t.Errorf("max abs error %.3g", worst)
	}
	if math.Abs(float64(tanh32(float32(math.Inf(1))))-1) > 5e-7 || math.Abs(float64(tanh32(float32(math.Inf(-1))))+1) > 5e-7 {
		t.Error("tanh32(±Inf) is not ±1")
	}
	// the vector kernel (when present) agrees with the scalar one
	xs := make([]float32, 0, 4000)
	for x := -10.0; x <= 10; x += 0.00517 {
		xs = append(xs, float32(x))
	}
	ys := append([]float32(nil), xs...)
	tanhInPlace(ys)
	for i, x := range xs {
		if d := math.Abs(float64(ys[i] - tanh32(x))); d > 5e-7 {
			t.Fatalf("tanhInPlace(%v) = %v, scalar %v", x, ys[i], tanh32(x))
		}
	}
}
