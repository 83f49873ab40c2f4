package lookalike

import (
	"context"
	"fmt"

	"github.com/ralmlab/ralm/kmeans"
)

// clusterAssign clusters the n transformed seeds hs (n×h) into at most k
// clusters and returns each seed's cluster and the number of clusters. With
// n <= k every seed is its own cluster. init (k×h) warm-starts k-means when
// non-nil. Cluster ids are dense: clusters left empty by k-means are dropped.
func clusterAssign(ctx context.Context, hs []float32, n, h, k int, init []float32, seed uint64, iters, miniAbove int) ([]int32, int, error) {
	assign := make([]int32, n)
	if n <= k {
		for i := range assign {
			assign[i] = int32(i)
		}
		return assign, n, nil
	}
	opt := kmeans.Options{K: k, MaxIter: iters, Seed: seed, Workers: 1}
	if init != nil && len(init) == k*h {
		opt.Init = init
	}
	var res *kmeans.Result
	var err error
	if n > miniAbove {
		opt.Workers = 0
		res, err = kmeans.FitMiniBatch(ctx, hs[:n*h], h, kmeans.MiniBatchOptions{Options: opt, BatchSize: 1024})
	} else {
		res, err = kmeans.Fit(ctx, hs[:n*h], h, opt)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("k-means of %d seeds: %w", n, err)
	}
	if len(res.Assign) != n {
		return nil, 0, fmt.Errorf("k-means of %d seeds returned %d assignments", n, len(res.Assign))
	}
	// Renumber the non-empty clusters densely, in order of cluster id.
	remap := make([]int32, res.K)
	for i := range remap {
		remap[i] = -1
	}
	for _, a := range res.Assign {
		if a < 0 || int(a) >= res.K {
			return nil, 0, fmt.Errorf("k-means returned cluster %d of %d", a, res.K)
		}
		remap[a] = 0
	}
	nc := 0
	for i, r := range remap {
		if r == 0 {
			remap[i] = int32(nc)
			nc++
		}
	}
	for i, a := range res.Assign {
		assign[i] = remap[a]
	}
	return assign, nc, nil
}

// clusterMeans returns the exact means of the seeds of each of the nc
// clusters (nc×h) and the cluster sizes.
func clusterMeans(hs []float32, h int, assign []int32, nc int) ([]float32, []float32) {
	sum := make([]float64, nc*h)
	cnt := make([]float32, nc)
	for i, a := range assign {
		cnt[a]++
		row := hs[i*h : (i+1)*h]
		dst := sum[int(a)*h : (int(a)+1)*h]
		for j, v := range row {
			dst[j] += float64(v)
		}
	}
	cents := make([]float32, nc*h)
	for c := 0; c < nc; c++ {
		for j := 0; j < h; j++ {
			cents[c*h+j] = float32(sum[c*h+j] / float64(cnt[c]))
		}
	}
	return cents, cnt
}

// cluster turns an item's transformed seeds into centroids (exact means of
// the final k-means clusters, so that scoring matches the training graph,
// which averages transformed seeds per cluster) and their sizes.
func (m *Model) cluster(ctx context.Context, hs []float32, n int, init []float32, seed uint64) ([]float32, []float32, error) {
	assign, nc, err := clusterAssign(ctx, hs, n, m.h, m.cfg.K, init, seed, m.cfg.KMeansIter, m.cfg.MiniBatchAbove)
	if err != nil {
		return nil, nil, err
	}
	cents, w := clusterMeans(hs, m.h, assign, nc)
	return cents, w, nil
}
