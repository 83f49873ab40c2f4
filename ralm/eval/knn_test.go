package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// TestKNNMatchesDefinition checks KNN against the plain definition (every
// cosine in float64, sorted descending, the mean of the first K) with
// repeated seeds (ties), fewer seeds than K, and more seeds than one block
// of the cosine product (the K best merged across blocks).
func TestKNNMatchesDefinition(t *testing.T) {
	const users, dim = 400, 8
	r := rand.New(rand.NewPCG(9, 9))
	vec := randomVectors(t, r, users, dim)
	for _, tt := range []struct {
		name     string
		seeds, k int
	}{{"many seeds", 150, 10}, {"fewer seeds than K", 4, 10}, {"one seed", 1, 10}, {"K of 1", 30, 1},
		{"several seed blocks", 2*knnCols + 37, 10}, {"seeds at a kernel width", 48, 10}} {
		t.Run(tt.name, func(t *testing.T) {
			c := &Case{Item: "x"}
			for range tt.seeds {
				c.Seeds = append(c.Seeds, int32(r.IntN(users/4))) // repeats: tied cosines
			}
			cands := make([]int32, 0, users)
			for u := range users {
				cands = append(cands, int32(u))
			}
			got := make([]float32, len(cands))
			if err := (KNN{Vectors: vec, K: tt.k}).Score(context.Background(), c, cands, got); err != nil {
				t.Fatal(err)
			}
			k := min(tt.k, len(c.Seeds))
			for i, u := range cands {
				sims := make([]float64, len(c.Seeds))
				for j, s := range c.Seeds {
					for l, x := range vec.Row(u) {
						sims[j] += float64(x) * float64(vec.Row(s)[l])
					}
				}
				sort.Sort(sort.Reverse(sort.Float64Slice(sims)))
				var sum float64
				for _, v := range sims[:k] {
					sum += v
				}
				if want := sum / float64(k); math.Abs(float64(got[i])-want) > 1e-5 {
					t.Fatalf("candidate %d: %v, want %v", u, got[i], want)
				}
			}
		})
	}
}

// TestKNNIndependentOfBlocks checks that a candidate's knn score is the
// same bits whichever other candidates are scored with it and in which
// order (so it does not depend on the product's blocks or on threads).
func TestKNNIndependentOfBlocks(t *testing.T) {
	const users, dim = 300, 16
	r := rand.New(rand.NewPCG(2, 7))
	vec := randomVectors(t, r, users, dim)
	m := KNN{Vectors: vec, K: 10}
	c := &Case{Item: "x"}
	for range knnCols + 50 {
		c.Seeds = append(c.Seeds, int32(r.IntN(users)))
	}
	all := make([]int32, users)
	for u := range all {
		all[u] = int32(u)
	}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	want := make([]float32, users)
	if err := m.Score(context.Background(), c, all, want); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		cands []int32
	}{
		{"one candidate", []int32{17}},
		{"three candidates (a partial row block)", []int32{250, 3, 99}},
		{"reversed", reversed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]float32, len(tt.cands))
			if err := m.Score(context.Background(), c, tt.cands, got); err != nil {
				t.Fatal(err)
			}
			for i, u := range tt.cands {
				if math.Float32bits(got[i]) != math.Float32bits(want[u]) {
					t.Fatalf("candidate %d: %v, scored with every candidate %v", u, got[i], want[u])
				}
			}
		})
	}
}

// randomVectors returns users random normal vectors of width dim from r.
func randomVectors(t testing.TB, r *rand.Rand, users, dim int) *Vectors {
	t.Helper()
	rows := make([]float32, users*dim)
	for i := range rows {
		rows[i] = float32(r.NormFloat64())
	}
	vec, err := NewVectors(rows, dim)
	if err != nil {
		t.Fatal(err)
	}
	return vec
}
