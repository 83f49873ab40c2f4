package eval

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
)

// Scoring describes how the candidates of an item were chosen: "exact"
// (every known user who is not a seed) or "sampled: N negatives per item,
// seed S".
func (o Options) Scoring() string {
	if o.Candidates <= 0 {
		return "exact"
	}
	return fmt.Sprintf("sampled: %d negatives per item, seed %d", o.Candidates, o.Seed)
}

// sampleNegatives keeps every positive candidate and o.Candidates of the
// negative ones, drawn uniformly without replacement with a generator
// seeded by (o.Seed, item), so the draw does not depend on the order in
// which items are scored. The kept candidates stay in their original order,
// so with at least as many negatives asked for as there are the result is
// the input itself (the exact evaluation).
//
// Bias: AUC is an unbiased estimate of the exact AUC (it is a mean over
// positive-negative pairs and every negative is equally likely to be kept),
// but recall@K is not: with fewer negatives a positive reaches the top K
// more easily, so sampled recall@K overstates exact recall@K (by roughly
// the ratio of all negatives to sampled ones at small K). Compare sampled
// recall only with sampled recall of the same N.
func sampleNegatives(o Options, item string, candidates []int32, positive []bool, tie []int32) ([]int32, []bool, []int32) {
	n := o.Candidates
	if n <= 0 {
		return candidates, positive, tie
	}
	var neg []int
	for j, p := range positive {
		if !p {
			neg = append(neg, j)
		}
	}
	if len(neg) <= n {
		return candidates, positive, tie
	}
	h := fnv.New64a()
	h.Write([]byte(item))
	r := rand.New(rand.NewPCG(uint64(o.Seed), h.Sum64()))
	for i := 0; i < n; i++ { // partial Fisher-Yates: neg[:n] is the sample
		k := i + r.IntN(len(neg)-i)
		neg[i], neg[k] = neg[k], neg[i]
	}
	drop := make([]bool, len(candidates))
	for _, j := range neg[n:] {
		drop[j] = true
	}
	keep := len(candidates) - (len(neg) - n)
	c2, p2, t2 := make([]int32, 0, keep), make([]bool, 0, keep), make([]int32, 0, keep)
	for j := range candidates {
		if !drop[j] {
			c2 = append(c2, candidates[j])
			p2 = append(p2, positive[j])
			t2 = append(t2, tie[j])
		}
	}
	return slices.Clip(c2), p2, t2
}
