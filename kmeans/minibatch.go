package kmeans

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// MiniBatchOptions configures FitMiniBatch.
type MiniBatchOptions struct {
	Options
	// BatchSize is the number of points per mini-batch; 1024 when 0.
	BatchSize int
	// InitSize is the number of points sampled to initialise the centroids
	// (k-means++ or Options.Init, refined by Lloyd iterations on the
	// sample); max(3·BatchSize, 10·K) when 0.
	InitSize int
	// MaxNoImprovement stops the run after this many consecutive steps
	// without improvement of the smoothed mini-batch inertia (an
	// improvement must exceed the relative Options.Tol); 10 when 0.
	MaxNoImprovement int
	// ReassignmentRatio re-seeds, from random points of the current batch,
	// centroids whose accumulated weight is below this fraction of the
	// largest one; 0.01 when 0, negative disables it.
	ReassignmentRatio float64
}

const (
	defaultBatchSize        = 1024
	defaultMaxNoImprovement = 10
	defaultReassignRatio    = 0.01
	defaultMiniBatchNInit   = 3
	// initLloydIters bounds the Lloyd iterations on the initial sample.
	initLloydIters = 20
	initLloydTol   = 1e-4
	// finalRepairs bounds the empty-cluster repairs of the final pass.
	finalRepairs = 3
)

// FitMiniBatch clusters very large point sets with mini-batch k-means
// (Sculley 2010, as in scikit-learn's MiniBatchKMeans): the centroids are
// initialised on a random sample of InitSize points (the best of NInit
// k-means++ runs, or opt.Init, each refined by Lloyd on the sample), then
// updated with the means of random mini-batches, each centroid
// moving with learning rate (batch points)/(accumulated weight). It stops
// after opt.MaxIter passes over the data (50 when 0) or when the smoothed
// batch inertia has not improved for MaxNoImprovement steps. A final full
// assignment pass over all points (parallel, deterministic) fills Assign,
// Weights and Inertia; clusters left empty are re-seeded from the farthest
// points and the pass repeated. Result.Iters is the number of mini-batch
// steps.
//
// When the points fit in the initial sample (n ≤ InitSize) it is Fit (with
// NInit defaulting to 3). The result is deterministic for a given Seed
// regardless of Workers.
func FitMiniBatch(ctx context.Context, points []float32, dim int, opt MiniBatchOptions) (*Result, error) {
	k, init, err := opt.resolve(dim)
	if err != nil {
		return nil, err
	}
	if opt.BatchSize < 0 || opt.InitSize < 0 || opt.MaxNoImprovement < 0 || math.IsNaN(opt.ReassignmentRatio) {
		return nil, fmt.Errorf("kmeans: invalid mini-batch options (batch %d, init size %d, max no improvement %d, reassignment ratio %v)",
			opt.BatchSize, opt.InitSize, opt.MaxNoImprovement, opt.ReassignmentRatio)
	}
	batch := opt.BatchSize
	if batch == 0 {
		batch = defaultBatchSize
	}
	initSize := opt.InitSize
	if initSize == 0 {
		initSize = max(3*batch, 10*k)
	}
	maxNoImp := opt.MaxNoImprovement
	if maxNoImp == 0 {
		maxNoImp = defaultMaxNoImprovement
	}
	ratio := opt.ReassignmentRatio
	if ratio == 0 {
		ratio = defaultReassignRatio
	}

	pr, err := newProblem(ctx, points, dim, opt.Workers, k*dim)
	if err != nil {
		return nil, fmt.Errorf("kmeans: %w", err)
	}
	if pr.n <= k {
		return pr.distinct(), nil
	}
	rng := newRNG(opt.Seed)
	nInit := opt.NInit
	if nInit == 0 {
		nInit = defaultMiniBatchNInit
	}
	if pr.n <= initSize {
		return pr.fit(ctx, k, init, opt.MaxIter, opt.Tol, nInit, rng)
	}

	// Initialise on a sample: the best of nInit k-means++ + Lloyd runs.
	sample := pr.subset(initSize)
	pr.gather(sample, randomIndices(rng, pr.n, initSize))
	var (
		cs     *centers
		counts []int64
		best   = math.Inf(1)
	)
	for run := 0; run < nInit; run++ {
		start := init
		if start == nil {
			if start, err = sample.kmeansPP(ctx, k, rng); err != nil {
				return nil, err
			}
			if len(start) < k*dim { // the sample has fewer distinct points
				if start, err = pr.kmeansPP(ctx, k, rng); err != nil {
					return nil, err
				}
			}
		}
		rc, st, _, err := sample.lloydCenters(ctx, start, initLloydIters, initLloydTol)
		if err != nil {
			return nil, err
		}
		if st.total.inertia < best {
			cs, counts, best = rc, st.total.counts, st.total.inertia
		}
		if init != nil {
			break
		}
	}
	weights := make([]float64, cs.k) // sample counts; 0 for clusters left empty
	for j, c := range counts {
		weights[j] = float64(c)
	}

	// Mini-batch steps.
	bp := pr.subset(batch)
	bst := newAssignState(bp, cs.k, cs.kpad, true)
	idx := make([]int, batch)
	epochSteps := (pr.n + batch - 1) / batch
	maxSteps := opt.MaxIter * epochSteps
	alpha := min(1, 2*float64(batch)/float64(pr.n+1))
	var ewa, bestEWA float64
	noImp, steps, sinceReassign := 0, 0, 0
	for steps < maxSteps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("kmeans: mini-batch step %d: %w", steps, err)
		}
		for i := range idx {
			idx[i] = rng.IntN(pr.n)
		}
		pr.gather(bp, idx)
		for i := range bst.labels {
			bst.labels[i] = -1
		}
		if err := bp.assign(ctx, cs, bst); err != nil {
			return nil, fmt.Errorf("kmeans: mini-batch step %d: %w", steps, err)
		}
		steps++
		batchInertia := bst.total.inertia / float64(batch)
		miniBatchUpdate(cs, &bst.total, weights)
		sinceReassign += batch
		if ratio > 0 && (sinceReassign >= 10*cs.k || slices.Contains(weights, 0)) {
			sinceReassign = 0
			reassignLight(cs, bp, weights, ratio, rng)
		}
		cs.prepare(pr.mu)

		if steps == 1 {
			ewa, bestEWA = batchInertia, batchInertia
			continue
		}
		ewa = ewa*(1-alpha) + batchInertia*alpha
		if ewa < bestEWA*(1-opt.Tol) {
			bestEWA, noImp = ewa, 0
		} else if noImp++; noImp >= maxNoImp {
			break
		}
	}

	// Final full assignment, repairing empty clusters.
	st := newAssignState(pr, cs.k, cs.kpad, false)
	for repair := 0; ; repair++ {
		if err := pr.assign(ctx, cs, st); err != nil {
			return nil, fmt.Errorf("kmeans: mini-batch final assignment: %w", err)
		}
		if repair == finalRepairs || !pr.reseedEmpty(cs, st) {
			break
		}
	}
	return pr.result(cs, st, steps), nil
}

// miniBatchUpdate moves each centroid j with m_j > 0 batch points towards
// their mean: w_j += m_j; c_j += (sum_j − m_j·c_j)/w_j.
func miniBatchUpdate(cs *centers, t *acc, weights []float64) {
	d := cs.d
	for j := 0; j < cs.k; j++ {
		m := float64(t.counts[j])
		if m == 0 {
			continue
		}
		weights[j] += m
		inv := 1 / weights[j]
		c := cs.c64[j*d : (j+1)*d]
		s := t.sums[j*d : (j+1)*d]
		for i := range c {
			c[i] += (s[i] - m*c[i]) * inv
		}
	}
}

// reassignLight re-seeds the centroids whose weight is below ratio times
// the largest weight with distinct random points of the batch bp (at most
// half the batch), giving them the smallest remaining weight, as
// scikit-learn does against centroids starved of points.
func reassignLight(cs *centers, bp *problem, weights []float64, ratio float64, rng *rand.Rand) {
	maxW := slices.Max(weights)
	var low []int
	for j, w := range weights {
		if w < ratio*maxW {
			low = append(low, j)
		}
	}
	if len(low) == 0 || len(low) == len(weights) {
		return
	}
	if lim := bp.n / 2; len(low) > lim {
		slices.SortStableFunc(low, func(a, b int) int {
			switch {
			case weights[a] < weights[b]:
				return -1
			case weights[a] > weights[b]:
				return 1
			}
			return 0
		})
		low = low[:lim]
		slices.Sort(low)
	}
	isLow := make([]bool, len(weights))
	for _, j := range low {
		isLow[j] = true
	}
	minW := math.Inf(1)
	for j, w := range weights {
		if !isLow[j] {
			minW = min(minW, w)
		}
	}
	picks := randomDistinct(rng, bp.n, len(low))
	d := cs.d
	for i, j := range low {
		p := picks[i]
		for l := 0; l < d; l++ {
			cs.c64[j*d+l] = float64(bp.x[p*d+l])
		}
		weights[j] = minW
	}
}

// reseedEmpty moves each empty cluster's centroid to one of the points
// farthest from their centroid (see relocate) and reports whether any was
// moved (the assignment must then be redone).
func (pr *problem) reseedEmpty(cs *centers, st *assignState) bool {
	t := &st.total
	var empties []int
	for j, c := range t.counts {
		if c == 0 {
			empties = append(empties, j)
		}
	}
	if len(empties) == 0 {
		return false
	}
	picks := pr.farthestMovable(t.counts, st.labels, st.dists, len(empties))
	d := pr.d
	for i, p := range picks {
		e := empties[i]
		for l := 0; l < d; l++ {
			cs.c64[e*d+l] = float64(pr.x[p*d+l])
		}
	}
	if len(picks) > 0 {
		cs.prepare(pr.mu)
	}
	return len(picks) > 0
}

// subset allocates a problem of m points sharing pr's origin, to be filled
// by gather.
func (pr *problem) subset(m int) *problem {
	sub := &problem{
		x: make([]float32, m*pr.d), n: m, d: pr.d,
		mu: pr.mu, xn2: make([]float32, m), workers: pr.workers,
	}
	sub.chunk, sub.nchunks = chunkPlan(m, 0)
	return sub
}

// gather copies the points idx (and their norms) into sub.
func (pr *problem) gather(sub *problem, idx []int) {
	d := pr.d
	for i, p := range idx {
		copy(sub.x[i*d:(i+1)*d], pr.x[p*d:(p+1)*d])
		sub.xn2[i] = pr.xn2[p]
	}
}

// randomIndices draws m indices in [0,n) with replacement.
func randomIndices(rng *rand.Rand, n, m int) []int {
	idx := make([]int, m)
	for i := range idx {
		idx[i] = rng.IntN(n)
	}
	return idx
}

// randomDistinct draws m distinct indices in [0,n) (m ≤ n), by a partial
// Fisher–Yates shuffle.
func randomDistinct(rng *rand.Rand, n, m int) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := 0; i < m; i++ {
		j := i + rng.IntN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm[:m]
}
