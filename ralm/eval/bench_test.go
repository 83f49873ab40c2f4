package eval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// BenchmarkEvaluateSampled scores a synthetic world of N users (N/10 items,
// Zipf-popular, 20 clicks per user on average, half of each item's clickers
// seeds) with the seed-based baselines the way the scale benchmark's eval
// stage does: 100 sampled negatives per item, each item's latest MaxSeeds
// seeds. The users/s it reports stays flat in N when the seed cap binds
// (linear cost) and falls as N grows when it does not (knn's cosines grow
// with the popular items' seeds and positives). Run it at 1M users with
// -bench 'EvaluateSampled/users=1000000' (skipped in -short).
func BenchmarkEvaluateSampled(b *testing.B) {
	for _, tc := range []struct{ users, maxSeeds int }{
		{100_000, 1000},
		{300_000, 1000},
		{1_000_000, 1000},
		{100_000, 100_000},
		{300_000, 100_000},
	} {
		b.Run(fmt.Sprintf("users=%d/maxseeds=%d", tc.users, tc.maxSeeds), func(b *testing.B) {
			if tc.users > 100_000 && testing.Short() {
				b.Skip("large world; not in -short")
			}
			u, cases, models := zipfWorld(b, tc.users, 64)
			opt := Options{Candidates: 100, MaxSeeds: tc.maxSeeds, Seed: 1}
			b.ResetTimer()
			for range b.N {
				if _, err := Evaluate(context.Background(), u, cases, models, opt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tc.users)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
			b.ReportMetric(float64(len(cases))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// zipfWorld returns n known users with random embeddings of width dim, one
// case per item of n/10 Zipf-popular items (items with fewer than 20
// clickers left out, as the protocol's warm items), and the activity,
// centroid and knn scorers.
func zipfWorld(b *testing.B, n, dim int) (Universe, []Case, []Scorer) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, uint64(n)))
	items := n / 10
	z := rand.NewZipf(r, 1.1, 10, uint64(items-1))
	clickers := make([][]int32, items)
	clicks := make([]int32, n)
	for user := range n {
		for range 20 {
			it := z.Uint64()
			clickers[it] = append(clickers[it], int32(user))
			clicks[user]++
		}
	}
	var cases []Case
	for it, cl := range clickers {
		slices.Sort(cl)
		cl = slices.Compact(cl) // a user is an item's clicker once
		if len(cl) < 20 {
			continue
		}
		r.Shuffle(len(cl), func(a, b int) { cl[a], cl[b] = cl[b], cl[a] })
		half := len(cl) / 2
		ts := make([]int64, half)
		for i := range ts {
			ts[i] = int64(i)
		}
		cases = append(cases, Case{Item: strconv.Itoa(it), ItemIndex: int32(it), Seeds: cl[:half], SeedTS: ts, Positives: cl[half:]})
	}
	vec := randomVectors(b, r, n, dim)
	u := Universe{Known: make([]int32, n), TieRank: make([]int32, n)}
	for i := range n {
		u.Known[i], u.TieRank[i] = int32(i), int32(i)
	}
	return u, cases, []Scorer{Activity{Clicks: clicks}, Centroid{Vectors: vec}, KNN{Vectors: vec, K: 10}}
}
