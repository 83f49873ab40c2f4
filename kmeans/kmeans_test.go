package kmeans

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/internal/simd"
)

func TestPlantedClustersRecovered(t *testing.T) {
	tests := []struct {
		name       string
		n, d, k    int
		sep, noise float64
		workers    int
	}{
		{"2-D, 3 clusters", 300, 2, 3, 20, 0.3, 1},
		{"dim 1", 400, 1, 4, 25, 0.2, 1},
		{"64-D, 20 clusters", 4000, 64, 20, 30, 0.5, 0},
		{"16-D, 8 clusters, multi-chunk", 20000, 16, 8, 25, 0.5, 2},
		{"8-D, 30 clusters (k > d)", 3000, 8, 30, 40, 0.3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, truth := planted(tc.n, tc.d, tc.k, tc.sep, tc.noise, 5)
			for _, seed := range []uint64{1, 2, 3} {
				r, err := Fit(context.Background(), x, tc.d, Options{K: tc.k, Seed: seed, Workers: tc.workers})
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, x, tc.d, r)
				if r.K != tc.k {
					t.Fatalf("seed %d: K = %d, want %d", seed, r.K, tc.k)
				}
				if a := ari(r.Assign, truth); a != 1 {
					t.Fatalf("seed %d: adjusted Rand index %v, want 1", seed, a)
				}
			}
		})
	}
}

func TestFitEdgeCases(t *testing.T) {
	a := []float32{1, 2}
	b := []float32{-3, 0.5}
	z := []float32{0, 0}
	negZ := []float32{float32(math.Copysign(0, -1)), 0}
	cat := func(rows ...[]float32) []float32 { return slices.Concat(rows...) }
	repeat := func(row []float32, n int) []float32 {
		var x []float32
		for i := 0; i < n; i++ {
			x = append(x, row...)
		}
		return x
	}
	tests := []struct {
		name          string
		x             []float32
		k             int
		wantK         int
		wantCentroids []float32 // nil: not checked
		wantWeights   []float64 // nil: not checked
		wantAssign    []int32   // nil: not checked
	}{
		{"n < k: the points themselves", cat(a, b), 5, 2, cat(a, b), []float64{1, 1}, []int32{0, 1}},
		{"n < k with duplicates: weights are multiplicities", cat(a, b, a, a), 5, 2, cat(a, b), []float64{3, 1}, []int32{0, 1, 0, 0}},
		{"n == k", cat(b, a, z), 3, 3, cat(b, a, z), []float64{1, 1, 1}, []int32{0, 1, 2}},
		{"−0 equals +0", cat(z, negZ, a), 4, 2, cat(z, a), []float64{2, 1}, []int32{0, 0, 1}},
		{"single point", cat(a), 1, 1, cat(a), []float64{1}, []int32{0}},
		{"all points equal", repeat(b, 50), 4, 1, cat(b), []float64{50}, nil},
		{"fewer distinct points than k", cat(repeat(a, 30), repeat(b, 20), repeat(z, 10)), 5, 3, nil, nil, nil},
		{"k = 1: the mean", cat(a, b, z, a), 1, 1, []float32{-0.25, 1.125}, []float64{4}, []int32{0, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, fit := range []struct {
				name string
				f    func() (*Result, error)
			}{
				{"Fit", func() (*Result, error) { return Fit(context.Background(), tc.x, 2, Options{K: tc.k, Seed: 9}) }},
				{"FitMiniBatch", func() (*Result, error) {
					return FitMiniBatch(context.Background(), tc.x, 2, MiniBatchOptions{Options: Options{K: tc.k, Seed: 9}})
				}},
			} {
				r, err := fit.f()
				if err != nil {
					t.Fatalf("%s: %v", fit.name, err)
				}
				checkResult(t, tc.x, 2, r)
				if r.K != tc.wantK {
					t.Fatalf("%s: K = %d, want %d", fit.name, r.K, tc.wantK)
				}
				if tc.wantCentroids != nil && !slices.Equal(r.Centroids, tc.wantCentroids) {
					t.Fatalf("%s: centroids %v, want %v", fit.name, r.Centroids, tc.wantCentroids)
				}
				if tc.wantWeights != nil && !slices.Equal(r.Weights, tc.wantWeights) {
					t.Fatalf("%s: weights %v, want %v", fit.name, r.Weights, tc.wantWeights)
				}
				if tc.wantAssign != nil && !slices.Equal(r.Assign, tc.wantAssign) {
					t.Fatalf("%s: assignments %v, want %v", fit.name, r.Assign, tc.wantAssign)
				}
				if tc.wantK < tc.k && r.Inertia != 0 {
					t.Fatalf("%s: inertia %v, want 0 with one centroid per distinct point", fit.name, r.Inertia)
				}
			}
		})
	}
}

func TestFitFewerDistinctPointsThanKWeights(t *testing.T) {
	// 60 points, 3 distinct values, k=5: the distinct values with their
	// multiplicities, every point at distance 0.
	var x []float32
	want := map[float32]float64{1.5: 30, -2: 20, 7: 10}
	for v, m := range want {
		for i := 0; i < int(m); i++ {
			x = append(x, v)
		}
	}
	r, err := Fit(context.Background(), x, 1, Options{K: 5, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 1, r)
	if r.K != 3 {
		t.Fatalf("K = %d, want 3", r.K)
	}
	for j := 0; j < r.K; j++ {
		if want[r.Centroids[j]] != r.Weights[j] {
			t.Fatalf("centroid %v has weight %v, want %v", r.Centroids[j], r.Weights[j], want[r.Centroids[j]])
		}
	}
}

func TestFitDuplicatesAndEmptyClusterReseeding(t *testing.T) {
	// Points 0..9 and 100 on a line; warm start [0, 5, 1000]: centroid 2
	// gets no point and is re-seeded from the farthest point, 100.
	var x []float32
	for i := 0; i < 10; i++ {
		x = append(x, float32(i))
	}
	x = append(x, 100)
	r, err := Fit(context.Background(), x, 1, Options{Init: []float32{0, 5, 1000}})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 1, r)
	if r.K != 3 || r.Centroids[2] != 100 || r.Weights[2] != 1 || r.Assign[10] != 2 {
		t.Fatalf("got centroids %v weights %v, want the empty cluster re-seeded at 100", r.Centroids, r.Weights)
	}
	// Duplicated warm-start centroids: the tie goes to the lowest index and
	// the other copy is re-seeded, so all clusters end up used.
	x = gaussian(500, 3, 8)
	init := slices.Concat(x[:3], x[:3], x[3:6], x[:3])
	r, err = Fit(context.Background(), x, 3, Options{Init: init})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 3, r)
	if r.K != 4 {
		t.Fatalf("K = %d, want 4 after re-seeding duplicated centroids", r.K)
	}
}

func TestFitInvalidInput(t *testing.T) {
	x := gaussian(30, 3, 1)
	nan := slices.Clone(x)
	nan[7*3+2] = float32(math.NaN())
	inf := slices.Clone(x)
	inf[12*3] = float32(math.Inf(-1))
	tests := []struct {
		name    string
		x       []float32
		dim     int
		opt     Options
		wantErr string
	}{
		{"NaN names point and dimension", nan, 3, Options{}, "point 7 dimension 2 is NaN"},
		{"-Inf names point and dimension", inf, 3, Options{}, "point 12 dimension 0 is -Inf"},
		{"zero dimension", x, 0, Options{}, "dimension must be positive"},
		{"ragged", x[:len(x)-1], 3, Options{}, "not a multiple of dimension"},
		{"no points", nil, 3, Options{}, "no points"},
		{"negative K", x, 3, Options{K: -1}, "K must not be negative"},
		{"negative MaxIter", x, 3, Options{MaxIter: -2}, "MaxIter must not be negative"},
		{"NaN Tol", x, 3, Options{Tol: math.NaN()}, "Tol must be a non-negative number"},
		{"ragged Init", x, 3, Options{Init: x[:4]}, "not a positive multiple"},
		{"Init and K disagree", x, 3, Options{K: 3, Init: x[:6]}, "Init holds 2 centroids but K is 3"},
		{"NaN in Init", x, 3, Options{Init: nan[18:24]}, "Init centroid 1 dimension 2 is NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(context.Background(), tc.x, tc.dim, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Fit error %v, want one containing %q", err, tc.wantErr)
			}
			_, err = FitMiniBatch(context.Background(), tc.x, tc.dim, MiniBatchOptions{Options: tc.opt})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("FitMiniBatch error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := FitMiniBatch(context.Background(), x, 3, MiniBatchOptions{BatchSize: -1}); err == nil {
		t.Fatal("negative BatchSize accepted")
	}
}

func TestNaNReportedAtLowestIndexAcrossChunks(t *testing.T) {
	// Bad values in several chunks: the error names the first one.
	x := gaussian(40000, 2, 3)
	x[2*30000+1] = float32(math.Inf(1))
	x[2*25000] = float32(math.NaN())
	for _, w := range []int{1, 2, 8} {
		_, err := Fit(context.Background(), x, 2, Options{Workers: w})
		if err == nil || !strings.Contains(err.Error(), "point 25000 dimension 0 is NaN") {
			t.Fatalf("workers %d: error %v, want point 25000 dimension 0", w, err)
		}
	}
}

func TestContextCancellation(t *testing.T) {
	x := gaussian(30000, 8, 4)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	// 15 chunks per pass: validation and norms take 30 context checks,
	// k-means++ 15 per centroid, Lloyd 16 per iteration.
	tests := []struct {
		name  string
		ctx   context.Context
		stage string
	}{
		{"cancelled before", cancelled, "validate points"},
		{"cancelled during k-means++", &countingCtx{Context: context.Background(), limit: 40}, "k-means++"},
		{"cancelled between Lloyd iterations", &countingCtx{Context: context.Background(), limit: 180 + 16*3}, "Lloyd iteration 3"},
		{"cancelled mid-pass", &countingCtx{Context: context.Background(), limit: 180 + 16*2 + 7}, "Lloyd iteration 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range []int{1, 2} {
				_, err := Fit(tc.ctx, x, 8, Options{K: 10, MaxIter: 1000, Workers: w})
				if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), tc.stage) {
					t.Fatalf("Fit workers %d: error %v, want context.Canceled in %s", w, err, tc.stage)
				}
				if c, ok := tc.ctx.(*countingCtx); ok {
					c.calls = 0
				}
				_, err = FitMiniBatch(tc.ctx, x, 8, MiniBatchOptions{Options: Options{K: 10, Workers: w}, MaxNoImprovement: 1 << 30})
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("FitMiniBatch workers %d: error %v, want context.Canceled", w, err)
				}
				if c, ok := tc.ctx.(*countingCtx); ok {
					c.calls = 0
				}
			}
		})
	}
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	x := blobs(30000, 12, 9, 2, 6) // 15 chunks
	same := func(t *testing.T, a, b *Result) {
		t.Helper()
		if a.K != b.K || a.Iters != b.Iters || math.Float64bits(a.Inertia) != math.Float64bits(b.Inertia) ||
			!slices.Equal(a.Centroids, b.Centroids) || !slices.Equal(a.Assign, b.Assign) || !slices.Equal(a.Weights, b.Weights) {
			t.Fatalf("results differ: K %d/%d Iters %d/%d Inertia %v/%v", a.K, b.K, a.Iters, b.Iters, a.Inertia, b.Inertia)
		}
	}
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	var base, baseMB *Result
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		for _, w := range []int{0, 1, 2, 8} {
			r, err := Fit(context.Background(), x, 12, Options{K: 9, Seed: 3, MaxIter: 20, Workers: w})
			if err != nil {
				t.Fatal(err)
			}
			mb, err := FitMiniBatch(context.Background(), x, 12, MiniBatchOptions{Options: Options{K: 9, Seed: 3, Workers: w}, BatchSize: 500})
			if err != nil {
				t.Fatal(err)
			}
			if base == nil {
				base, baseMB = r, mb
				continue
			}
			same(t, base, r)
			same(t, baseMB, mb)
		}
	}
	// A different seed gives a different (valid) run.
	other, err := Fit(context.Background(), x, 12, Options{K: 9, Seed: 4, MaxIter: 20})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 12, other)
}

func TestWarmStart(t *testing.T) {
	x := blobs(5000, 10, 7, 1.5, 2)
	r, err := Fit(context.Background(), x, 10, Options{K: 7, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// From converged centroids: one iteration, nothing changes.
	w, err := Fit(context.Background(), x, 10, Options{Init: r.Centroids})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 10, w)
	// (The first pass has no previous assignment to compare with, so
	// convergence is seen at the second.)
	if w.Iters > 2 || !slices.Equal(w.Assign, r.Assign) || !slices.Equal(w.Centroids, r.Centroids) {
		t.Fatalf("warm start from a converged solution ran %d iterations / changed the result", w.Iters)
	}
	// The online path: the data drifts, re-cluster from the previous
	// centroids; it converges faster than from scratch and as well.
	drift := slices.Clone(x)
	for i := range drift {
		drift[i] += 0.3
	}
	warm, err := Fit(context.Background(), drift, 10, Options{Init: r.Centroids, Tol: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	cold, err := Fit(context.Background(), drift, 10, Options{K: 7, Seed: 1, Tol: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, drift, 10, warm)
	if warm.Iters > cold.Iters || warm.Inertia > cold.Inertia*1.001 {
		t.Fatalf("warm start: %d iterations, inertia %v; cold: %d, %v", warm.Iters, warm.Inertia, cold.Iters, cold.Inertia)
	}
	// Mini-batch warm start is accepted too.
	mb, err := FitMiniBatch(context.Background(), drift, 10, MiniBatchOptions{Options: Options{Init: r.Centroids}, BatchSize: 256, InitSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, drift, 10, mb)
	if mb.Inertia > cold.Inertia*1.03 {
		t.Fatalf("mini-batch warm start inertia %v, full Lloyd %v", mb.Inertia, cold.Inertia)
	}
}

func TestNInitKeepsTheBestRun(t *testing.T) {
	x := blobs(20000, 16, 12, 1.5, 7)
	one, err := Fit(context.Background(), x, 16, Options{K: 12, Seed: 1, Tol: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	five, err := Fit(context.Background(), x, 16, Options{K: 12, Seed: 1, Tol: 1e-4, NInit: 5})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 16, five)
	// The first of the five runs is the single run: the best is no worse.
	if five.Inertia > one.Inertia {
		t.Fatalf("best of 5 inertia %v > single run %v", five.Inertia, one.Inertia)
	}
	if _, err := Fit(context.Background(), x, 16, Options{NInit: -1}); err == nil {
		t.Fatal("negative NInit accepted")
	}
}

func TestFold(t *testing.T) {
	x := blobs(4000, 6, 5, 1, 3)
	old, fresh := x[:3000*6], x[3000*6:]
	r, err := Fit(context.Background(), old, 6, Options{K: 5, Seed: 2, MaxIter: 200})
	if err != nil {
		t.Fatal(err)
	}
	before := *r
	before.Centroids = slices.Clone(r.Centroids)
	before.Weights = slices.Clone(r.Weights)
	assign, err := r.Fold(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(assign) != 1000 {
		t.Fatalf("%d assignments for 1000 points", len(assign))
	}
	// Assignments are the nearest old centroids.
	for p, a := range assign {
		if want := nearestBrute(fresh[p*6:(p+1)*6], before.Centroids, 6); a != want {
			t.Fatalf("point %d folded into %d, nearest is %d", p, a, want)
		}
	}
	// Centroids are running means; weights grow by the new counts.
	all := slices.Concat(before.Assign, assign)
	for j := 0; j < r.K; j++ {
		sum := make([]float64, 6)
		var m float64
		for p, a := range assign {
			if int(a) == j {
				m++
				for i := range sum {
					sum[i] += float64(fresh[p*6+i])
				}
			}
		}
		if r.Weights[j] != before.Weights[j]+m {
			t.Fatalf("weight %d = %v, want %v", j, r.Weights[j], before.Weights[j]+m)
		}
		for i := range sum {
			want := (before.Weights[j]*float64(before.Centroids[j*6+i]) + sum[i]) / (before.Weights[j] + m)
			if math.Abs(float64(r.Centroids[j*6+i])-want) > 1e-5 {
				t.Fatalf("centroid %d value %d = %v, want running mean %v", j, i, r.Centroids[j*6+i], want)
			}
		}
	}
	// Inertia matches the exact inertia of all points under their
	// assignments against the new centroids (old centroids were means).
	exact := inertiaOf(x, 6, &Result{Centroids: r.Centroids, Assign: all})
	if math.Abs(r.Inertia-exact) > 1e-4*exact {
		t.Fatalf("inertia after fold %v, exact %v", r.Inertia, exact)
	}
	// Predict does not modify the result and agrees with the centroids.
	pred, err := r.Predict(fresh)
	if err != nil {
		t.Fatal(err)
	}
	for p, a := range pred {
		if want := nearestBrute(fresh[p*6:(p+1)*6], r.Centroids, 6); a != want {
			t.Fatalf("Predict point %d = %d, nearest is %d", p, a, want)
		}
	}
	// Folding nothing is a no-op; bad input and bad results are errors.
	if a, err := r.Fold(nil); err != nil || len(a) != 0 {
		t.Fatalf("Fold(nil) = %v, %v", a, err)
	}
	bad := slices.Clone(fresh[:12])
	bad[5] = float32(math.Inf(1))
	if _, err := r.Fold(bad); err == nil || !strings.Contains(err.Error(), "point 0 dimension 5 is +Inf") {
		t.Fatalf("Fold of Inf: %v", err)
	}
	if _, err := r.Fold(fresh[:7]); err == nil {
		t.Fatal("Fold of a ragged slice accepted")
	}
	var empty *Result
	if _, err := empty.Fold(fresh); err == nil {
		t.Fatal("Fold into a nil result accepted")
	}
	if _, err := (&Result{K: 2, Dim: 6, Centroids: make([]float32, 12), Weights: []float64{1}}).Fold(fresh); err == nil {
		t.Fatal("Fold into an inconsistent result accepted")
	}
}

func TestFoldIntoSmallResult(t *testing.T) {
	// n < k result: folding duplicates of the points keeps the centroids
	// and counts them.
	x := []float32{1, 1, 5, 5}
	r, err := Fit(context.Background(), x, 2, Options{K: 4})
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.Fold([]float32{5, 5, 5, 5, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, []int32{1, 1, 0}) || !slices.Equal(r.Weights, []float64{2, 3}) || !slices.Equal(r.Centroids, x) || r.Inertia != 0 {
		t.Fatalf("assign %v weights %v centroids %v inertia %v", a, r.Weights, r.Centroids, r.Inertia)
	}
}

func TestMiniBatchQuality(t *testing.T) {
	tests := []struct {
		name   string
		x      []float32
		d, k   int
		maxGap float64
	}{
		{"blobs", blobs(60000, 16, 12, 1.5, 7), 16, 12, 0.03},
		{"gaussian", gaussian(60000, 8, 8), 8, 10, 0.03},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The reference is the best of five full Lloyd runs; mini-batch
			// tries three initialisations on its sample (the default).
			full, err := Fit(context.Background(), tc.x, tc.d, Options{K: tc.k, Seed: 1, Tol: 1e-4, NInit: 5})
			if err != nil {
				t.Fatal(err)
			}
			mb, err := FitMiniBatch(context.Background(), tc.x, tc.d, MiniBatchOptions{Options: Options{K: tc.k, Seed: 1}})
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, tc.x, tc.d, mb)
			if mb.K != tc.k || mb.Iters == 0 {
				t.Fatalf("K = %d after %d steps", mb.K, mb.Iters)
			}
			if gap := mb.Inertia/full.Inertia - 1; gap > tc.maxGap {
				t.Fatalf("mini-batch inertia %v is %.2f%% above full Lloyd's %v", mb.Inertia, 100*gap, full.Inertia)
			}
			// Assignments are the nearest centroids.
			for p := 0; p < len(mb.Assign); p += 97 {
				if want := nearestBrute(tc.x[p*tc.d:(p+1)*tc.d], mb.Centroids, tc.d); mb.Assign[p] != want {
					t.Fatalf("point %d assigned to %d, nearest is %d", p, mb.Assign[p], want)
				}
			}
		})
	}
}

func TestMiniBatchPlantedClusters(t *testing.T) {
	x, truth := planted(40000, 32, 20, 30, 0.5, 9)
	r, err := FitMiniBatch(context.Background(), x, 32, MiniBatchOptions{Options: Options{K: 20, Seed: 5}})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 32, r)
	if a := ari(r.Assign, truth); a != 1 {
		t.Fatalf("adjusted Rand index %v, want 1", a)
	}
}

func TestPortableKernelPath(t *testing.T) {
	// The pure-Go kernels give the same clustering as the assembly ones:
	// this golden result is checked by the default build (assembly where the
	// CPU has it) and by the purego build (portable kernels) of .ci/run.
	x, truth := planted(6000, 20, 9, 25, 0.5, 2)
	r, err := Fit(context.Background(), x, 20, Options{K: 9, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, x, 20, r)
	h := fnv.New64a()
	for _, a := range r.Assign {
		h.Write([]byte{byte(a), byte(a >> 8)})
	}
	t.Logf("assembly kernels: %v, assignment hash %#x, inertia %.17g", simd.Accelerated(), h.Sum64(), r.Inertia)
	if ari(r.Assign, truth) != 1 || h.Sum64() != goldenAssignHash {
		t.Fatalf("kernels cluster differently: assignment hash %#x, want %#x", h.Sum64(), uint64(goldenAssignHash))
	}
	if math.Abs(r.Inertia-goldenInertia) > 1e-9*goldenInertia {
		t.Fatalf("inertia %v, want %v", r.Inertia, goldenInertia)
	}
}

// The result of TestPortableKernelPath, the same with either kernel set.
const (
	goldenAssignHash = 0x8d7b29aa43517b37
	goldenInertia    = 29588.09870522669
)

func TestFarthestOrder(t *testing.T) {
	d := []float32{3, 0, 5, 3, 5, 1, 0, 2}
	want := []int{2, 4, 0, 3, 7, 5} // by distance, ties by index, zeros left out
	for _, limit := range []int{2, 3, 6, 100} {
		got := farthest(d, limit)
		if n := min(limit, len(want)); !slices.Equal(got, want[:n]) {
			t.Fatalf("limit %d: %v, want %v", limit, got, want[:n])
		}
	}
}

func TestChunkPlan(t *testing.T) {
	for _, tc := range []struct{ n, slot, wantChunks int }{
		{1, 0, 1}, {2048, 0, 1}, {2049, 0, 2}, {100000, 1280, 49}, {10000000, 1280, 64},
		{10000000, 1 << 22, 2}, // large k·d: fewer slots to bound memory
	} {
		chunk, n := chunkPlan(tc.n, tc.slot)
		if n != tc.wantChunks || chunk%4 != 0 || chunk*n < tc.n || chunk*(n-1) >= tc.n {
			t.Fatalf("chunkPlan(%d, %d) = %d×%d, want %d chunks covering n", tc.n, tc.slot, chunk, n, tc.wantChunks)
		}
	}
}
