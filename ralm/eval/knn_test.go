package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestKNNMatchesFullSort checks KNN's top-K selection against the plain
// definition (sort every cosine descending, average the first K), bit for
// bit, with repeated seeds (ties) and fewer seeds than K.
func TestKNNMatchesFullSort(t *testing.T) {
	const users, dim = 400, 8
	r := rand.New(rand.NewPCG(9, 9))
	rows := make([]float32, users*dim)
	for i := range rows {
		rows[i] = float32(r.NormFloat64())
	}
	vec, err := NewVectors(rows, dim)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		seeds, k int
	}{{"many seeds", 150, 10}, {"fewer seeds than K", 4, 10}, {"one seed", 1, 10}, {"K of 1", 30, 1}} {
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
				sims := make([]float32, len(c.Seeds))
				for j, s := range c.Seeds {
					sims[j] = dot(vec.Row(u), vec.Row(s))
				}
				sort.Slice(sims, func(a, b int) bool { return sims[a] > sims[b] })
				var sum float32
				for _, v := range sims[:k] {
					sum += v
				}
				if want := sum / float32(k); math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("candidate %d: %v, want %v", u, got[i], want)
				}
			}
		})
	}
}
