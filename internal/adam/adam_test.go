package adam

import (
	"math"
	"testing"
)

// TestMatchesPyTorch replays torch.optim.Adam's rule in float64 for a few
// steps and compares both element types.
func TestMatchesPyTorch(t *testing.T) {
	grads := [][]float64{{0.5, -1, 2, 0, 3, -0.25, 1e-3, 4, -2}, {-0.5, 1, 0.1, 0, -3, 0.5, 2, -4, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1}}
	const lr = 0.01
	n := len(grads[0])
	ref := func() []float64 {
		w, m, v := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range w {
			w[i] = float64(i) - 4
		}
		for s, g := range grads {
			t := float64(s + 1)
			for i := range w {
				m[i] = 0.9*m[i] + 0.1*g[i]
				v[i] = 0.999*v[i] + 0.001*g[i]*g[i]
				mh, vh := m[i]/(1-math.Pow(0.9, t)), v[i]/(1-math.Pow(0.999, t))
				w[i] -= lr * mh / (math.Sqrt(vh) + 1e-8)
			}
		}
		return w
	}()
	t.Run("float64", func(t *testing.T) { check(t, ref, grads, lr, 1e-12, New[float64]) })
	t.Run("float32", func(t *testing.T) { check(t, ref, grads, lr, 1e-5, New[float32]) })
}

func check[T float32 | float64](t *testing.T, ref []float64, grads [][]float64, lr, tol float64, mk func(float64) (*Adam[T], error)) {
	a, err := mk(lr)
	if err != nil {
		t.Fatal(err)
	}
	n := len(ref)
	w, m, v, g := make([]T, n), make([]T, n), make([]T, n), make([]T, n)
	for i := range w {
		w[i] = T(i) - 4
	}
	for _, gs := range grads {
		for i, x := range gs {
			g[i] = T(x)
		}
		a.Begin()
		a.Update(w, g, m, v)
	}
	if a.Steps() != len(grads) {
		t.Fatalf("Steps() = %d, want %d", a.Steps(), len(grads))
	}
	for i := range w {
		if d := math.Abs(float64(w[i]) - ref[i]); d > tol*math.Max(1, math.Abs(ref[i])) {
			t.Fatalf("w[%d] = %v, want %v", i, w[i], ref[i])
		}
	}
}

func TestNewRejectsBadRate(t *testing.T) {
	for _, lr := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := New[float32](lr); err == nil {
			t.Errorf("New(%v): no error", lr)
		}
	}
}
