package kmeans

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refScore is the float64 reference of a kernel output.
func refScore(x []float32, d int, r int, ct, bias []float32, kpad, j int) float64 {
	s := float64(bias[j])
	for i := 0; i < d; i++ {
		s += float64(x[r*d+i]) * float64(ct[i*kpad+j])
	}
	return s
}

func TestKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 64, 65, 100} {
		for _, k := range []int{1, 3, 4, 5, 8, 9, 20, 24, 25, 40, 49} {
			kpad := padLanes(k)
			x := make([]float32, 4*d)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			ct := make([]float32, d*kpad)
			crow := make([]float32, kpad*d)
			bias := make([]float32, kpad)
			for j := 0; j < k; j++ {
				bias[j] = float32(rng.NormFloat64())
				for i := 0; i < d; i++ {
					v := float32(rng.NormFloat64())
					ct[i*kpad+j] = v
					crow[j*d+i] = v
				}
			}
			tol := func(ref float64) float64 { return 1e-5 * (1 + math.Abs(ref) + float64(d)) }
			outGo := make([]float32, 4*kpad)
			outAsm := make([]float32, 4*kpad)
			scores4Go(x, d, ct, bias, kpad, outGo)
			scores4(x, d, ct, bias, kpad, outAsm)
			for r := 0; r < 4; r++ {
				for j := 0; j < k; j++ {
					ref := refScore(x, d, r, ct, bias, kpad, j)
					if g := float64(outGo[r*kpad+j]); math.Abs(g-ref) > tol(ref) {
						t.Fatalf("d=%d k=%d: Go kernel [%d,%d] = %v, want %v", d, k, r, j, g, ref)
					}
					if g := float64(outAsm[r*kpad+j]); math.Abs(g-ref) > tol(ref) {
						t.Fatalf("d=%d k=%d: kernel [%d,%d] = %v, want %v", d, k, r, j, g, ref)
					}
				}
			}
			if useAsm {
				out := make([]float32, 2*kpad)
				for g := 0; g < k; g += 4 {
					dotRows2x4(&x[0], d, &crow[g*d], d, d, &bias[g], &out[g], kpad)
				}
				for r := 0; r < 2; r++ {
					for j := 0; j < k; j++ {
						ref := refScore(x, d, r, ct, bias, kpad, j)
						if g := float64(out[r*kpad+j]); math.Abs(g-ref) > tol(ref) {
							t.Fatalf("d=%d k=%d: row kernel [%d,%d] = %v, want %v", d, k, r, j, g, ref)
						}
					}
				}
			}
		}
	}
}
