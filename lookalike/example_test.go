package lookalike_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/ralmlab/ralm/lookalike"
)

// world is a toy data set: 300 users in three taste groups, each group's
// embeddings scattered around its own direction, and 30 items, each clicked
// by members of one group.
func world() (emb []float32, dim int, clickers [][]int32) {
	const users = 300
	dim = 8
	rng := rand.New(rand.NewPCG(1, 2))
	emb = make([]float32, users*dim)
	for u := 0; u < users; u++ {
		g := u % 3
		for j := 0; j < dim; j++ {
			v := rng.NormFloat64() * 0.3
			if j%3 == g {
				v += 1
			}
			emb[u*dim+j] = float32(v)
		}
	}
	for i := 0; i < 30; i++ {
		var cl []int32
		for u := i % 3; u < users; u += 3 {
			if rng.Float64() < 0.3 {
				cl = append(cl, int32(u))
			}
		}
		clickers = append(clickers, cl)
	}
	return emb, dim, clickers
}

// Train a model, build a new item from its first clickers and score users
// against it.
func Example() {
	emb, dim, clickers := world()
	ctx := context.Background()
	m, rep, err := lookalike.Train(ctx, emb, dim, clickers,
		lookalike.Config{Epochs: 3, K: 4, SeedsPerItem: 20, Seed: 1}, lookalike.TrainOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("trained on", rep.TrainItems, "items")

	// A fresh item clicked by users 0, 3, 6, ... 27 (all of group 0).
	var seeds []float32
	for u := 0; u < 30; u += 3 {
		seeds = append(seeds, emb[u*dim:(u+1)*dim]...)
	}
	item, err := m.BuildItem(ctx, seeds, nil)
	if err != nil {
		log.Fatal(err)
	}
	scores := make([]float32, 1)
	user := func(u int) float32 {
		m.Score(emb[u*dim:(u+1)*dim], []*lookalike.ItemState{item}, scores)
		return scores[0]
	}
	fmt.Println("group-0 user scores higher than a group-1 user:", user(99) > user(100))
	// Output:
	// trained on 30 items
	// group-0 user scores higher than a group-1 user: true
}

// Score one user against many items at once, as a server does.
func ExampleModel_Score() {
	emb, dim, clickers := world()
	ctx := context.Background()
	m, _, err := lookalike.Train(ctx, emb, dim, clickers,
		lookalike.Config{Epochs: 2, K: 4, SeedsPerItem: 20, Seed: 1}, lookalike.TrainOptions{})
	if err != nil {
		log.Fatal(err)
	}
	items := make([]*lookalike.ItemState, 3)
	for g := range items { // one item per group, seeded by ten of its members
		var seeds []float32
		for u := g; u < 30; u += 3 {
			seeds = append(seeds, emb[u*dim:(u+1)*dim]...)
		}
		if items[g], err = m.BuildItem(ctx, seeds, nil); err != nil {
			log.Fatal(err)
		}
	}
	scores := make([]float32, len(items))
	m.Score(emb[1*dim:2*dim], items, scores) // user 1 is in group 1
	best := 0
	for i, s := range scores {
		if s > scores[best] {
			best = i
		}
	}
	fmt.Println("best item for user 1:", best)
	// Output: best item for user 1: 1
}

// Save a model and load it back.
func ExampleModel_Save() {
	emb, dim, clickers := world()
	m, _, err := lookalike.Train(context.Background(), emb, dim, clickers,
		lookalike.Config{Epochs: 1, K: 4, SeedsPerItem: 20, Seed: 1}, lookalike.TrainOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "lookalike")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "lookalike.model")
	if err := m.Save(path); err != nil {
		log.Fatal(err)
	}
	loaded, err := lookalike.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded.Dim(), loaded.Hidden(), loaded.Config().K)
	// Output: 8 8 4
}
