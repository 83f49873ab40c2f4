package kmeans

import (
	"context"
	"fmt"
	"math"
)

// Fold folds new points (row-major, Dim values each) into the clustering:
// each point is assigned to its nearest centroid (ties: lowest index), then
// every centroid becomes the running mean of its old and new points,
// c ← (w·c + Σx)/(w + m) for weight w and m new points, and its weight grows
// by m. All points are assigned against the centroids as they were before
// the call, so the outcome does not depend on their order. It returns the
// new points' assignments; r.Assign still describes the points r was fitted
// on. Inertia is updated exactly under the assumption that each centroid was
// the mean of its points: it grows by the new points' squared distances to
// their old centroid minus m²/(w+m)·‖mean of new points − old centroid‖².
//
// Fold modifies r and must not run concurrently with other uses of r.
func (r *Result) Fold(points []float32) ([]int32, error) {
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("kmeans: fold: %w", err)
	}
	if len(points) == 0 {
		return []int32{}, nil
	}
	d := r.Dim
	cs, st, err := r.nearest(points, true)
	if err != nil {
		return nil, fmt.Errorf("kmeans: fold: %w", err)
	}
	t := &st.total
	inertia := t.inertia
	for j := 0; j < r.K; j++ {
		m := float64(t.counts[j])
		if m == 0 {
			continue
		}
		w := r.Weights[j]
		c := cs.c64[j*d : (j+1)*d]
		s := t.sums[j*d : (j+1)*d]
		var shift float64 // ‖mean − c‖²
		for i := range c {
			diff := s[i]/m - c[i]
			shift += diff * diff
		}
		inertia -= m * m / (w + m) * shift
		for i := range c {
			r.Centroids[j*d+i] = float32((w*c[i] + s[i]) / (w + m))
		}
		r.Weights[j] = w + m
	}
	r.Inertia += max(inertia, 0)
	return st.labels, nil
}

// check validates a Result before it is used as a model.
func (r *Result) check() error {
	switch {
	case r == nil:
		return fmt.Errorf("nil result")
	case r.K <= 0 || r.Dim <= 0:
		return fmt.Errorf("result has %d centroids of dimension %d", r.K, r.Dim)
	case len(r.Centroids) != r.K*r.Dim:
		return fmt.Errorf("result has %d centroid values, want %d×%d", len(r.Centroids), r.K, r.Dim)
	case len(r.Weights) != r.K:
		return fmt.Errorf("result has %d weights for %d centroids", len(r.Weights), r.K)
	}
	for j, w := range r.Weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("centroid %d has weight %v", j, w)
		}
	}
	return checkFinite(r.Centroids, r.Dim, "centroid")
}

// Predict returns the nearest centroid of each point (row-major, Dim values
// each; ties go to the lowest index) without changing r.
func (r *Result) Predict(points []float32) ([]int32, error) {
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("kmeans: predict: %w", err)
	}
	if len(points) == 0 {
		return []int32{}, nil
	}
	_, st, err := r.nearest(points, false)
	if err != nil {
		return nil, fmt.Errorf("kmeans: predict: %w", err)
	}
	return st.labels, nil
}

// nearest assigns points to r's centroids (with per-cluster sums when asked).
func (r *Result) nearest(points []float32, sums bool) (*centers, *assignState, error) {
	ctx := context.Background()
	pr, err := newProblem(ctx, points, r.Dim, 0, r.K*r.Dim)
	if err != nil {
		return nil, nil, err
	}
	cs := newCenters(r.K, r.Dim)
	for i, v := range r.Centroids {
		cs.c64[i] = float64(v)
	}
	cs.prepare(pr.mu)
	st := newAssignState(pr, r.K, cs.kpad, sums)
	if err := pr.assign(ctx, cs, st); err != nil {
		return nil, nil, err
	}
	return cs, st, nil
}
