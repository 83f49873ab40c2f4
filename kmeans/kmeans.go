// Package kmeans is fast, deterministic k-means clustering of float32
// vectors, written for clustering an item's seed-user embeddings into a few
// centroids (RALM uses k=20) both in training and online.
//
// Fit runs greedy k-means++ initialisation (or a warm start from given
// centroids) followed by Lloyd iterations; FitMiniBatch clusters very large
// point sets with mini-batch updates followed by one full assignment pass;
// Result.Fold folds new points into existing centroids as running means and
// Result.Predict assigns points to their nearest centroid.
//
// Points are one row-major []float32 slice with a dimension; no per-point
// allocations are made. Distances are Euclidean. The assignment step uses
// all cores (Options.Workers) and finds the nearest centroid from
// ‖x−μ‖² + ‖c−μ‖² − 2(x−μ)·(c−μ), μ being the data mean (which keeps
// float32 cancellation small), computed for blocks of points against all
// centroids by AVX2/FMA micro-kernels on amd64 (portable Go elsewhere); the
// squared distance to the chosen centroid is then computed exactly in
// float64, so inertia is exact and duplicate points are at distance 0.
//
// Results are deterministic for a given Seed whatever the number of
// goroutines or GOMAXPROCS: the points are split into chunks that depend
// only on the input size, per-chunk partial sums are float64 and are
// combined in chunk order. Ties between equidistant centroids go to the
// lowest centroid index. (Results may differ in the last bits between the
// assembly and portable kernels, i.e. between machines.)
//
// Degenerate inputs: with at most K points the centroids are the distinct
// points (in order of first occurrence), each weighted by its multiplicity;
// with more points but fewer than K distinct ones, k-means++ stops when
// every point coincides with a centroid, giving one centroid per distinct
// point. Either way Result.K < Options.K and Inertia is 0. Clusters that
// become empty during Lloyd iterations are re-seeded from the points
// farthest from their centroids (lowest index among equals); a cluster that
// cannot be re-seeded (fewer distinct points than clusters, e.g. with a warm
// start) is dropped. NaN or ±Inf input is an error naming the point and
// dimension. The context is checked between iterations and within passes.
package kmeans

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Options configures Fit.
type Options struct {
	// K is the number of clusters; 20 when 0.
	K int
	// MaxIter is the maximum number of Lloyd iterations; 50 when 0.
	// (FitMiniBatch: the maximum number of passes over the data.)
	MaxIter int
	// Tol stops the iterations when the relative inertia improvement of an
	// iteration falls below it; 0 runs MaxIter iterations (a run still ends
	// early when an iteration changes no assignment: it has converged and
	// further iterations would change nothing).
	Tol float64
	// Seed drives k-means++ (and mini-batch sampling).
	Seed uint64
	// Init optionally warm-starts from these centroids (row-major, K*dim
	// values; K is taken from it when Options.K is 0); k-means++ is skipped.
	// (With at most K points the distinct points are returned regardless.)
	Init []float32
	// Workers is the number of goroutines of the assignment step;
	// GOMAXPROCS when 0. Results do not depend on it.
	Workers int
	// NInit is the number of k-means++ initialisations tried, the run of
	// lowest inertia being kept; 1 when 0 (FitMiniBatch: 3 when 0, each
	// tried on the initial sample). Ignored with Init.
	NInit int
}

// Result is a clustering.
type Result struct {
	// Centroids holds K*Dim values, row-major. K may be smaller than
	// Options.K when the input has fewer distinct points.
	Centroids []float32
	// K is the number of centroids and Dim their dimension.
	K, Dim int
	// Assign is the cluster of each input point (its nearest centroid).
	Assign []int32
	// Weights is the number of points per cluster (including folded ones).
	Weights []float64
	// Inertia is the sum of squared distances of the points to their
	// assigned centroids.
	Inertia float64
	// Iters is the number of Lloyd iterations run (FitMiniBatch: the number
	// of mini-batch steps).
	Iters int
}

const (
	defaultK       = 20
	defaultMaxIter = 50
)

// resolve applies the defaults and validates the options against dim,
// returning the number of clusters and the warm-start centroids (nil for
// k-means++).
func (opt *Options) resolve(dim int) (k int, init []float64, err error) {
	if dim <= 0 {
		return 0, nil, fmt.Errorf("kmeans: dimension must be positive, got %d", dim)
	}
	if opt.K < 0 {
		return 0, nil, fmt.Errorf("kmeans: K must not be negative, got %d", opt.K)
	}
	if opt.MaxIter < 0 {
		return 0, nil, fmt.Errorf("kmeans: MaxIter must not be negative, got %d", opt.MaxIter)
	}
	if opt.NInit < 0 {
		return 0, nil, fmt.Errorf("kmeans: NInit must not be negative, got %d", opt.NInit)
	}
	if opt.Tol < 0 || math.IsNaN(opt.Tol) {
		return 0, nil, fmt.Errorf("kmeans: Tol must be a non-negative number, got %v", opt.Tol)
	}
	if opt.MaxIter == 0 {
		opt.MaxIter = defaultMaxIter
	}
	k = opt.K
	if opt.Init != nil {
		if len(opt.Init) == 0 || len(opt.Init)%dim != 0 {
			return 0, nil, fmt.Errorf("kmeans: Init has %d values, not a positive multiple of dimension %d", len(opt.Init), dim)
		}
		ki := len(opt.Init) / dim
		if k != 0 && k != ki {
			return 0, nil, fmt.Errorf("kmeans: Init holds %d centroids but K is %d", ki, k)
		}
		if err := checkFinite(opt.Init, dim, "Init centroid"); err != nil {
			return 0, nil, fmt.Errorf("kmeans: %w", err)
		}
		k = ki
		init = make([]float64, len(opt.Init))
		for i, v := range opt.Init {
			init[i] = float64(v)
		}
	}
	if k == 0 {
		k = defaultK
	}
	return k, init, nil
}

// Fit clusters n = len(points)/dim points into opt.K clusters with
// k-means++ initialisation (or opt.Init) and Lloyd iterations.
//
// With at most K points, or fewer than K distinct points, the centroids are
// the distinct points themselves (in order of first occurrence when n ≤ K),
// each weighted by its multiplicity, and Result.K is their number.
// The context is checked between iterations and during long passes.
func Fit(ctx context.Context, points []float32, dim int, opt Options) (*Result, error) {
	k, init, err := opt.resolve(dim)
	if err != nil {
		return nil, err
	}
	pr, err := newProblem(ctx, points, dim, opt.Workers, k*dim)
	if err != nil {
		return nil, fmt.Errorf("kmeans: %w", err)
	}
	if pr.n <= k {
		return pr.distinct(), nil
	}
	return pr.fit(ctx, k, init, opt.MaxIter, opt.Tol, max(opt.NInit, 1), newRNG(opt.Seed))
}

// fit runs Lloyd from init, or from the best of nInit k-means++
// initialisations when init is nil.
func (pr *problem) fit(ctx context.Context, k int, init []float64, maxIter int, tol float64, nInit int, rng *rand.Rand) (*Result, error) {
	if init != nil {
		return pr.lloyd(ctx, init, maxIter, tol)
	}
	var best *Result
	for run := 0; run < nInit; run++ {
		init, err := pr.kmeansPP(ctx, k, rng)
		if err != nil {
			return nil, err
		}
		r, err := pr.lloyd(ctx, init, maxIter, tol)
		if err != nil {
			return nil, err
		}
		if best == nil || r.Inertia < best.Inertia {
			best = r
		}
	}
	return best, nil
}

// lloyd runs Lloyd iterations from the centroids c64 (k*d) and returns the
// result, whose assignments are those of a final pass over the final
// centroids.
func (pr *problem) lloyd(ctx context.Context, c64 []float64, maxIter int, tol float64) (*Result, error) {
	cs, st, iters, err := pr.lloydCenters(ctx, c64, maxIter, tol)
	if err != nil {
		return nil, err
	}
	return pr.result(cs, st, iters), nil
}

// lloydCenters runs the Lloyd iterations of lloyd and returns the final
// centroids, the assignment state of a pass over them (clusters may be
// empty) and the number of iterations.
func (pr *problem) lloydCenters(ctx context.Context, c64 []float64, maxIter int, tol float64) (*centers, *assignState, int, error) {
	k := len(c64) / pr.d
	cs := newCenters(k, pr.d)
	copy(cs.c64, c64)
	cs.prepare(pr.mu)
	st := newAssignState(pr, k, cs.kpad, true)
	prev := math.Inf(1)
	iters, current, relocated := 0, false, 0
	for it := 0; it < maxIter; it++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, 0, fmt.Errorf("kmeans: Lloyd iteration %d: %w", it, err)
		}
		if err := pr.assign(ctx, cs, st); err != nil {
			return nil, nil, 0, fmt.Errorf("kmeans: Lloyd iteration %d: %w", it, err)
		}
		iters++
		if it > 0 && st.total.changed == 0 && relocated == 0 {
			current = true // converged: the update would not move any centroid
			break
		}
		inertia := st.total.inertia
		stop := tol > 0 && prev-inertia < tol*prev
		relocated = pr.update(cs, st)
		prev = inertia
		if stop {
			break
		}
	}
	if !current {
		if err := pr.assign(ctx, cs, st); err != nil {
			return nil, nil, 0, fmt.Errorf("kmeans: final assignment: %w", err)
		}
	}
	return cs, st, iters, nil
}

// update moves every centroid to the mean of its points, first re-seeding
// empty clusters from the farthest points. It returns the number of
// re-seeded clusters.
func (pr *problem) update(cs *centers, st *assignState) int {
	d := pr.d
	t := &st.total
	var empties []int
	for j, c := range t.counts {
		if c == 0 {
			empties = append(empties, j)
		}
	}
	relocated := 0
	if len(empties) > 0 {
		relocated = pr.relocate(t, st.labels, st.dists, empties)
	}
	for j := 0; j < cs.k; j++ {
		if c := t.counts[j]; c > 0 {
			inv := 1 / float64(c)
			for i := 0; i < d; i++ {
				cs.c64[j*d+i] = t.sums[j*d+i] * inv
			}
		}
	}
	cs.prepare(pr.mu)
	return relocated
}

// relocate re-seeds the empty clusters with the points farthest from their
// centroids (see farthestMovable), moving each such point's contribution
// from its cluster's sums to the empty cluster. Empty clusters left over
// (fewer distinct points than clusters) stay empty. It returns the number of
// clusters re-seeded.
func (pr *problem) relocate(t *acc, labels []int32, dists []float32, empties []int) int {
	d := pr.d
	picks := pr.farthestMovable(t.counts, labels, dists, len(empties))
	for i, p := range picks {
		a, e := int(labels[p]), empties[i]
		for j, v := range pr.x[p*d : (p+1)*d] {
			t.sums[a*d+j] -= float64(v)
			t.sums[e*d+j] = float64(v)
		}
		t.counts[a]--
		t.counts[e] = 1
	}
	return len(picks)
}

// farthestMovable returns up to want points, farthest from their centroid
// first (by dists; lowest index among equals), taking a point only if it is
// at a positive distance and its cluster (labels, counts) keeps at least one
// point.
func (pr *problem) farthestMovable(counts []int64, labels []int32, dists []float32, want int) []int {
	limit := 2*want + 16
	for {
		cands := farthest(dists, limit)
		taken := make(map[int32]int64)
		var picks []int
		for _, p := range cands {
			if len(picks) == want {
				break
			}
			a := labels[p]
			if counts[a]-taken[a] <= 1 {
				continue
			}
			taken[a]++
			picks = append(picks, p)
		}
		if len(picks) < want && len(cands) == limit && limit < len(dists) {
			limit = len(dists) // too many skipped: consider every candidate
			continue
		}
		return picks
	}
}

// farthest returns up to limit indices of points with positive dists,
// ordered by decreasing distance, then increasing index.
func farthest(dists []float32, limit int) []int {
	less := func(a, b int) bool { // a before b
		if dists[a] != dists[b] {
			return dists[a] > dists[b]
		}
		return a < b
	}
	if limit >= len(dists) {
		var all []int
		for p, v := range dists {
			if v > 0 {
				all = append(all, p)
			}
		}
		slices.SortFunc(all, func(a, b int) int {
			if less(a, b) {
				return -1
			}
			if less(b, a) {
				return 1
			}
			return 0
		})
		return all
	}
	// Bounded heap whose root is the worst kept candidate.
	h := make([]int, 0, limit)
	worse := func(i, j int) bool { return less(h[j], h[i]) }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && worse(r, l) {
				m = r
			}
			if !worse(m, i) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	up := func(i int) {
		for i > 0 {
			par := (i - 1) / 2
			if !worse(i, par) {
				return
			}
			h[i], h[par] = h[par], h[i]
			i = par
		}
	}
	for p, v := range dists {
		if !(v > 0) {
			continue
		}
		if len(h) < limit {
			h = append(h, p)
			up(len(h) - 1)
			continue
		}
		if less(p, h[0]) {
			h[0] = p
			down(0)
		}
	}
	slices.SortFunc(h, func(a, b int) int {
		if less(a, b) {
			return -1
		}
		return 1
	})
	return h
}

// result builds the Result from the final assignment, dropping clusters
// left empty (possible only with fewer distinct points than clusters).
func (pr *problem) result(cs *centers, st *assignState, iters int) *Result {
	d := pr.d
	t := &st.total
	remap := make([]int32, cs.k)
	r := &Result{Dim: d, Assign: st.labels, Inertia: t.inertia, Iters: iters}
	for j := 0; j < cs.k; j++ {
		if t.counts[j] == 0 {
			remap[j] = -1
			continue
		}
		remap[j] = int32(r.K)
		r.K++
		r.Centroids = append(r.Centroids, cs.c32[j*d:(j+1)*d]...)
		r.Weights = append(r.Weights, float64(t.counts[j]))
	}
	if r.K < cs.k {
		for p, a := range r.Assign {
			r.Assign[p] = remap[a]
		}
	}
	return r
}

// distinct clusters n ≤ K points: one centroid per distinct point (in order
// of first occurrence) weighted by its multiplicity.
func (pr *problem) distinct() *Result {
	d := pr.d
	r := &Result{Dim: d, Assign: make([]int32, pr.n)}
	seen := make(map[string]int32, pr.n)
	key := make([]byte, 4*d)
	for p := 0; p < pr.n; p++ {
		row := pr.x[p*d : (p+1)*d]
		for i, v := range row {
			if v == 0 {
				v = 0 // −0 and +0 are the same point
			}
			binary.LittleEndian.PutUint32(key[4*i:], math.Float32bits(v))
		}
		j, ok := seen[string(key)]
		if !ok {
			j = int32(r.K)
			seen[string(key)] = j
			r.K++
			r.Centroids = append(r.Centroids, row...)
			r.Weights = append(r.Weights, 0)
		}
		r.Assign[p] = j
		r.Weights[j]++
	}
	return r
}
