package kmeans_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	"github.com/ralmlab/ralm/kmeans"
)

// Three groups of 2-D points, clustered into k=3.
func ExampleFit() {
	points := []float32{
		0, 0, 0.2, 0.1, -0.1, 0.2, // near (0, 0)
		5, 5, 5.1, 4.9, 4.8, 5.2, // near (5, 5)
		0, 9, 0.3, 9.2, -0.2, 8.8, // near (0, 9)
	}
	res, err := kmeans.Fit(context.Background(), points, 2, kmeans.Options{K: 3, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	// Points 0-2, 3-5 and 6-8 share a cluster each.
	fmt.Println(res.K, res.Assign[0] == res.Assign[2], res.Assign[3] == res.Assign[5], res.Assign[0] != res.Assign[3])
	for j := 0; j < res.K; j++ {
		fmt.Printf("weight %v centroid (%.2f, %.2f)\n", res.Weights[j], res.Centroids[2*j], res.Centroids[2*j+1])
	}
	// Unordered output:
	// 3 true true true
	// weight 3 centroid (0.03, 0.10)
	// weight 3 centroid (4.97, 5.03)
	// weight 3 centroid (0.03, 9.00)
}

// With fewer points than clusters, the distinct points are the centroids,
// weighted by their multiplicity.
func ExampleFit_fewPoints() {
	points := []float32{1, 2, 3, 4, 1, 2}
	res, err := kmeans.Fit(context.Background(), points, 2, kmeans.Options{K: 20})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.K, res.Centroids, res.Weights, res.Assign)
	// Output: 2 [1 2 3 4] [2 1] [0 1 0]
}

// Folding new points moves each centroid to the running mean of its points.
func ExampleResult_Fold() {
	res, err := kmeans.Fit(context.Background(), []float32{0, 1, 10, 11}, 1, kmeans.Options{K: 2, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	assign, err := res.Fold([]float32{2, 12, 13})
	if err != nil {
		log.Fatal(err)
	}
	lo := 0
	if res.Centroids[1] < res.Centroids[0] {
		lo = 1
	}
	fmt.Println(assign[0] == int32(lo), assign[1] != int32(lo))
	fmt.Println(res.Centroids[lo], res.Weights[lo], res.Centroids[1-lo], res.Weights[1-lo])
	// Output:
	// true true
	// 1 3 11.5 4
}

// Mini-batch k-means for large seed sets, re-clustered later from the
// previous centroids (warm start).
func ExampleFitMiniBatch() {
	const n, dim = 50000, 4
	points := make([]float32, 0, n*dim)
	for p := 0; p < n; p++ {
		c := float32(10 * (p % 5)) // five groups along every axis
		f := float32(p%7) * 0.01
		points = append(points, c+f, c-f, c+2*f, c)
	}
	res, err := kmeans.FitMiniBatch(context.Background(), points, dim,
		kmeans.MiniBatchOptions{Options: kmeans.Options{K: 5, Seed: 7}, BatchSize: 512})
	if err != nil {
		log.Fatal(err)
	}
	again, err := kmeans.Fit(context.Background(), points, dim, kmeans.Options{Init: res.Centroids, MaxIter: 5})
	if err != nil {
		log.Fatal(err)
	}
	w := slices.Clone(again.Weights)
	slices.Sort(w)
	fmt.Println(res.K, w)
	// Output: 5 [10000 10000 10000 10000 10000]
}
