package kmeans

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// planted returns n points of dimension d around k well-separated centres
// (centres on a scaled simplex-like grid, noise spread), with their labels.
func planted(n, d, k int, sep, spread float64, seed uint64) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([]float64, k*d)
	for j := 0; j < k; j++ {
		for i := 0; i < d; i++ {
			centres[j*d+i] = rng.NormFloat64()
		}
		// push the centre to its own axis so that centres are far apart
		centres[j*d+j%d] += sep * float64(1+j/d)
	}
	x := make([]float32, n*d)
	labels := make([]int32, n)
	for p := 0; p < n; p++ {
		c := p % k
		labels[p] = int32(c)
		for i := 0; i < d; i++ {
			x[p*d+i] = float32(centres[c*d+i] + spread*rng.NormFloat64())
		}
	}
	// shuffle the points
	for p := n - 1; p > 0; p-- {
		q := rng.IntN(p + 1)
		labels[p], labels[q] = labels[q], labels[p]
		for i := 0; i < d; i++ {
			x[p*d+i], x[q*d+i] = x[q*d+i], x[p*d+i]
		}
	}
	return x, labels
}

// blobs returns n points around k random centres drawn from N(0, 3²).
func blobs(n, d, k int, spread float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	cent := make([]float64, k*d)
	for i := range cent {
		cent[i] = rng.NormFloat64() * 3
	}
	x := make([]float32, n*d)
	for p := 0; p < n; p++ {
		c := rng.IntN(k)
		for i := 0; i < d; i++ {
			x[p*d+i] = float32(cent[c*d+i] + spread*rng.NormFloat64())
		}
	}
	return x
}

// ari is the adjusted Rand index of two labelings (Hubert & Arabie 1985).
func ari(a, b []int32) float64 {
	type pair struct{ x, y int32 }
	nij := map[pair]float64{}
	ai := map[int32]float64{}
	bj := map[int32]float64{}
	for p := range a {
		nij[pair{a[p], b[p]}]++
		ai[a[p]]++
		bj[b[p]]++
	}
	c2 := func(v float64) float64 { return v * (v - 1) / 2 }
	var sumIJ, sumA, sumB float64
	for _, v := range nij {
		sumIJ += c2(v)
	}
	for _, v := range ai {
		sumA += c2(v)
	}
	for _, v := range bj {
		sumB += c2(v)
	}
	expected := sumA * sumB / c2(float64(len(a)))
	maxIdx := (sumA + sumB) / 2
	if maxIdx == expected {
		return 1
	}
	return (sumIJ - expected) / (maxIdx - expected)
}

func TestARI(t *testing.T) {
	tests := []struct {
		name string
		a, b []int32
		want float64
	}{
		{"identical", []int32{0, 0, 1, 1, 2, 2}, []int32{0, 0, 1, 1, 2, 2}, 1},
		{"relabelled", []int32{0, 0, 1, 1, 2, 2}, []int32{2, 2, 0, 0, 1, 1}, 1},
		// by hand: Σ C(nij,2)=1, Σ C(ai,2)=2, Σ C(bj,2)=1, expected 1/3,
		// max 3/2: (1−1/3)/(3/2−1/3) = 4/7
		{"split", []int32{0, 0, 1, 1}, []int32{0, 0, 1, 2}, 4.0 / 7},
		// Σ C(nij,2)=2, Σ C(ai,2)=Σ C(bj,2)=6, expected 36/15, max 6:
		// (2−2.4)/(6−2.4) = −1/9 (worse than chance)
		{"crossed", []int32{0, 0, 0, 1, 1, 1}, []int32{0, 1, 0, 1, 0, 1}, -1.0 / 9},
	}
	for _, tc := range tests {
		if got := ari(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: ari = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// bruteDist is the exact squared distance in float64.
func bruteDist(x []float32, c []float64) float64 {
	var s float64
	for i := range x {
		t := float64(x[i]) - c[i]
		s += t * t
	}
	return s
}

// inertiaOf recomputes the inertia of an assignment exactly.
func inertiaOf(x []float32, d int, r *Result) float64 {
	var s float64
	c := make([]float64, d)
	for p, a := range r.Assign {
		for i := range c {
			c[i] = float64(r.Centroids[int(a)*d+i])
		}
		s += bruteDist(x[p*d:(p+1)*d], c)
	}
	return s
}

// nearestBrute returns the nearest centroid (lowest index among ties).
func nearestBrute(x []float32, cent []float32, d int) int32 {
	best, bd := int32(0), math.Inf(1)
	c := make([]float64, d)
	for j := 0; j < len(cent)/d; j++ {
		for i := range c {
			c[i] = float64(cent[j*d+i])
		}
		if dd := bruteDist(x, c); dd < bd {
			best, bd = int32(j), dd
		}
	}
	return best
}

// countingCtx reports Canceled once Err has been called more than limit
// times: a deterministic cancellation in the middle of a run.
type countingCtx struct {
	context.Context
	calls, limit int64
}

func (c *countingCtx) Err() error {
	if atomic.AddInt64(&c.calls, 1) > c.limit {
		return context.Canceled
	}
	return nil
}

func (c *countingCtx) Done() <-chan struct{} { return nil }

// checkResult verifies the invariants every Result must satisfy.
func checkResult(t *testing.T, x []float32, d int, r *Result) {
	t.Helper()
	n := len(x) / d
	if r.Dim != d || len(r.Centroids) != r.K*d || len(r.Weights) != r.K || len(r.Assign) != n {
		t.Fatalf("inconsistent result: K=%d Dim=%d len(Centroids)=%d len(Weights)=%d len(Assign)=%d n=%d",
			r.K, r.Dim, len(r.Centroids), len(r.Weights), len(r.Assign), n)
	}
	counts := make([]float64, r.K)
	for _, a := range r.Assign {
		if a < 0 || int(a) >= r.K {
			t.Fatalf("assignment %d out of range [0,%d)", a, r.K)
		}
		counts[a]++
	}
	for j := range counts {
		if counts[j] != r.Weights[j] {
			t.Fatalf("weight %d = %v, but %v points are assigned", j, r.Weights[j], counts[j])
		}
		if counts[j] == 0 {
			t.Fatalf("cluster %d is empty", j)
		}
	}
	want := inertiaOf(x, d, r)
	if math.Abs(r.Inertia-want) > 1e-5*want+1e-9 {
		t.Fatalf("inertia %v, recomputed %v", r.Inertia, want)
	}
}
