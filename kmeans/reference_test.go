package kmeans

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refKMeansPP is a plain float64 transcription of the greedy k-means++ of
// kmeansPP (same random draws), returning the chosen point indices.
func refKMeansPP(x []float32, d, k int, seed uint64) []int {
	n := len(x) / d
	rng := newRNG(seed)
	T := localTrials(k)
	row := func(p int) []float32 { return x[p*d : (p+1)*d] }
	distTo := func(p, q int) float32 {
		c := make([]float64, d)
		for i := range c {
			c[i] = float64(x[q*d+i])
		}
		return float32(bruteDist(row(p), c))
	}
	first := rng.IntN(n)
	closest := make([]float32, n)
	var pot float64
	for p := range closest {
		closest[p] = distTo(p, first)
		pot += float64(closest[p])
	}
	chosen := []int{first}
	for len(chosen) < k && pot > 0 {
		cands := make([]int, T)
		for t := range cands {
			r := rng.Float64() * pot
			var acc float64
			cands[t] = -1
			last := -1
			for p, w := range closest {
				if w > 0 {
					last = p
					acc += float64(w)
					if acc > r {
						cands[t] = p
						break
					}
				}
			}
			if cands[t] < 0 {
				cands[t] = last
			}
		}
		bestT, bestPot := 0, math.Inf(1)
		var bestD []float32
		for t, q := range cands {
			nd := make([]float32, n)
			var s float64
			for p := range nd {
				nd[p] = min(closest[p], distTo(p, q))
				s += float64(nd[p])
			}
			if s < bestPot {
				bestT, bestPot, bestD = t, s, nd
			}
		}
		chosen = append(chosen, cands[bestT])
		closest, pot = bestD, bestPot
	}
	return chosen
}

// refLloyd is a plain float64 transcription of Lloyd's algorithm with the
// same conventions as lloyd (lowest-index ties, re-seeding empty clusters
// from the farthest points, convergence and tolerance rules, a final
// assignment pass, empty clusters dropped).
func refLloyd(x []float32, d int, init []float64, maxIter int, tol float64) *Result {
	n, k := len(x)/d, len(init)/d
	cent := slices.Clone(init)
	labels := make([]int32, n)
	for p := range labels {
		labels[p] = -1
	}
	dists := make([]float64, n)
	counts := make([]int64, k)
	assign := func() (changed int, inertia float64) {
		clear(counts)
		for p := 0; p < n; p++ {
			best, bd := 0, math.Inf(1)
			for j := 0; j < k; j++ {
				if dd := bruteDist(x[p*d:(p+1)*d], cent[j*d:(j+1)*d]); dd < bd {
					best, bd = j, dd
				}
			}
			if labels[p] != int32(best) {
				changed++
			}
			labels[p], dists[p] = int32(best), bd
			counts[best]++
			inertia += bd
		}
		return changed, inertia
	}
	prev := math.Inf(1)
	iters, current, relocated := 0, false, 0
	for it := 0; it < maxIter; it++ {
		changed, inertia := assign()
		iters++
		if it > 0 && changed == 0 && relocated == 0 {
			current = true
			break
		}
		stop := tol > 0 && prev-inertia < tol*prev
		sums := make([]float64, k*d)
		for p := 0; p < n; p++ {
			for i := 0; i < d; i++ {
				sums[int(labels[p])*d+i] += float64(x[p*d+i])
			}
		}
		var empties []int
		for j, c := range counts {
			if c == 0 {
				empties = append(empties, j)
			}
		}
		relocated = 0
		if len(empties) > 0 {
			var cands []int
			for p, v := range dists {
				if v > 0 {
					cands = append(cands, p)
				}
			}
			slices.SortStableFunc(cands, func(a, b int) int {
				switch {
				case dists[a] > dists[b]:
					return -1
				case dists[a] < dists[b]:
					return 1
				}
				return 0
			})
			for _, p := range cands {
				if relocated == len(empties) {
					break
				}
				a := int(labels[p])
				if counts[a] <= 1 {
					continue
				}
				e := empties[relocated]
				for i := 0; i < d; i++ {
					sums[a*d+i] -= float64(x[p*d+i])
					sums[e*d+i] = float64(x[p*d+i])
				}
				counts[a]--
				counts[e] = 1
				relocated++
			}
		}
		for j := 0; j < k; j++ {
			if counts[j] > 0 {
				for i := 0; i < d; i++ {
					cent[j*d+i] = sums[j*d+i] / float64(counts[j])
				}
			}
		}
		prev = inertia
		if stop {
			break
		}
	}
	_, inertia := 0, 0.0
	if !current {
		_, inertia = assign()
	} else {
		for _, v := range dists {
			inertia += v
		}
	}
	r := &Result{Dim: d, Iters: iters, Inertia: inertia, Assign: make([]int32, n)}
	remap := make([]int32, k)
	for j := 0; j < k; j++ {
		if counts[j] == 0 {
			remap[j] = -1
			continue
		}
		remap[j] = int32(r.K)
		r.K++
		for i := 0; i < d; i++ {
			r.Centroids = append(r.Centroids, float32(cent[j*d+i]))
		}
		r.Weights = append(r.Weights, float64(counts[j]))
	}
	for p, a := range labels {
		r.Assign[p] = remap[a]
	}
	return r
}

// sameClustering fails unless got matches want: identical assignments,
// weights and iterations, centroids and inertia equal up to rounding.
func sameClustering(t *testing.T, got, want *Result) {
	t.Helper()
	if got.K != want.K || got.Iters != want.Iters {
		t.Fatalf("K=%d Iters=%d, reference K=%d Iters=%d", got.K, got.Iters, want.K, want.Iters)
	}
	if !slices.Equal(got.Assign, want.Assign) {
		t.Fatalf("assignments differ from the reference")
	}
	if !slices.Equal(got.Weights, want.Weights) {
		t.Fatalf("weights %v, reference %v", got.Weights, want.Weights)
	}
	for i, v := range got.Centroids {
		if w := want.Centroids[i]; math.Abs(float64(v-w)) > 1e-5*(1+math.Abs(float64(w))) {
			t.Fatalf("centroid value %d = %v, reference %v", i, v, w)
		}
	}
	if math.Abs(got.Inertia-want.Inertia) > 1e-5*want.Inertia+1e-9 {
		t.Fatalf("inertia %v, reference %v", got.Inertia, want.Inertia)
	}
}

func TestMatchesReference(t *testing.T) {
	tests := []struct {
		name             string
		n, d, k, maxIter int
		tol              float64
		data             string
	}{
		{"gauss small", 200, 5, 7, 50, 0, "gauss"},
		{"gauss 3 iters", 300, 3, 10, 3, 0, "gauss"},
		{"gauss tol", 500, 8, 12, 100, 1e-3, "gauss"},
		{"blobs", 400, 16, 6, 50, 0, "blobs"},
		{"dim 1", 150, 1, 5, 50, 0, "gauss"},
		{"k 1", 100, 4, 1, 50, 0, "gauss"},
		{"k 30 dim 33", 600, 33, 30, 20, 0, "gauss"},
		{"offset data", 300, 6, 8, 50, 0, "offset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var x []float32
			switch tc.data {
			case "gauss":
				x = gaussian(tc.n, tc.d, 11)
			case "blobs":
				x = blobs(tc.n, tc.d, tc.k, 1, 12)
			case "offset": // far from the origin: exercises the centring
				x = gaussian(tc.n, tc.d, 13)
				for i := range x {
					x[i] += 1000
				}
			}
			for _, seed := range []uint64{1, 2, 3} {
				// k-means++ picks the same points as the reference.
				pr, err := newProblem(context.Background(), x, tc.d, 1, tc.k*tc.d)
				if err != nil {
					t.Fatal(err)
				}
				init, err := pr.kmeansPP(context.Background(), tc.k, newRNG(seed))
				if err != nil {
					t.Fatal(err)
				}
				idx := refKMeansPP(x, tc.d, tc.k, seed)
				ref := make([]float64, 0, len(idx)*tc.d)
				for _, p := range idx {
					for i := 0; i < tc.d; i++ {
						ref = append(ref, float64(x[p*tc.d+i]))
					}
				}
				if !slices.Equal(init, ref) {
					t.Fatalf("seed %d: k-means++ chose different points than the reference %v", seed, idx)
				}
				// Lloyd from that initialisation matches the reference.
				want := refLloyd(x, tc.d, ref, tc.maxIter, tc.tol)
				got, err := Fit(context.Background(), x, tc.d, Options{K: tc.k, MaxIter: tc.maxIter, Tol: tc.tol, Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, x, tc.d, got)
				sameClustering(t, got, want)
			}
		})
	}
}

func TestMatchesReferenceWarmStartWithEmptyClusters(t *testing.T) {
	// Warm-start centroids far from the data leave clusters empty: they are
	// re-seeded from the farthest points exactly as the reference does.
	x := gaussian(300, 4, 21)
	rng := rand.New(rand.NewPCG(3, 3))
	init32 := make([]float32, 9*4)
	for i := range init32 {
		init32[i] = float32(rng.NormFloat64())
	}
	for i := 5 * 4; i < 9*4; i++ {
		init32[i] += 50 // centroids 5..8 attract nothing at first
	}
	init := make([]float64, len(init32))
	for i, v := range init32 {
		init[i] = float64(v)
	}
	got, err := Fit(context.Background(), x, 4, Options{Init: init32})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 4, got)
	sameClustering(t, got, refLloyd(x, 4, init, defaultMaxIter, 0))
	if got.K != 9 {
		t.Fatalf("K = %d, want the 9 warm-start clusters, re-seeded", got.K)
	}
}
