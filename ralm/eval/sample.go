package eval

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
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

// sampledCandidates is allCandidates followed by sampleNegatives, without
// walking every known user: its cost grows with the item's seeds,
// positives and o.Candidates, not with the universe, so sampled evaluation
// is linear in the number of items. It draws the same sample (the same
// generator calls on the same negative ordinals) and returns the same
// candidates in the same order. ok is false when it does not apply: exact
// scoring, or no more negatives than o.Candidates (then every candidate is
// kept and the caller lists them all). u.Known must be ascending and
// distinct, as BuildProtocol makes it.
func sampledCandidates(o Options, u Universe, c *Case) (candidates []int32, positive []bool, tie []int32, nPos int, ok bool) {
	n := o.Candidates
	if n <= 0 {
		return nil, nil, nil, 0, false
	}
	// positions in u.Known of the item's seeds, and of its positives that
	// are not seeds, each ascending and distinct
	at := func(users []int32, skip []int) []int {
		var pos []int
		for _, x := range users {
			if p, found := slices.BinarySearch(u.Known, x); found {
				if _, isSkip := slices.BinarySearch(skip, p); !isSkip {
					pos = append(pos, p)
				}
			}
		}
		slices.Sort(pos)
		return slices.Compact(pos)
	}
	seedAt := at(c.Seeds, nil)
	posAt := at(c.Positives, seedAt)
	nCand := len(u.Known) - len(seedAt)
	nPos = len(posAt)
	if nPos == 0 || nPos == nCand {
		return nil, nil, nil, 0, true // nothing to rank: the caller skips the case
	}
	nNeg := nCand - nPos
	if nNeg <= n {
		return nil, nil, nil, 0, false
	}
	// partial Fisher-Yates over the virtual array 0..nNeg-1 of negative
	// ordinals, the swapped entries in a map (as sampleNegatives does on
	// the materialized array)
	h := fnv.New64a()
	h.Write([]byte(c.Item))
	r := rand.New(rand.NewPCG(uint64(o.Seed), h.Sum64()))
	swapped := make(map[int]int, 2*n)
	get := func(i int) int {
		if v, ok := swapped[i]; ok {
			return v
		}
		return i
	}
	for i := 0; i < n; i++ {
		k := i + r.IntN(nNeg-i)
		vi, vk := get(i), get(k)
		swapped[i], swapped[k] = vk, vi
	}
	// the k-th negative is the k-th position of u.Known that is neither a
	// seed's nor a positive's
	excl := append(slices.Clone(seedAt), posAt...)
	slices.Sort(excl)
	negAt := make([]int, n)
	for i := range negAt {
		k := get(i)
		j := sort.Search(len(excl), func(j int) bool { return excl[j]-j > k })
		negAt[i] = k + j
	}
	slices.Sort(negAt)
	m := nPos + n
	candidates, positive, tie = make([]int32, 0, m), make([]bool, 0, m), make([]int32, 0, m)
	add := func(p int, isPos bool) {
		candidates = append(candidates, u.Known[p])
		positive = append(positive, isPos)
		tie = append(tie, u.TieRank[u.Known[p]])
	}
	for i, j := 0, 0; i < len(posAt) || j < len(negAt); {
		if j == len(negAt) || (i < len(posAt) && posAt[i] < negAt[j]) {
			add(posAt[i], true)
			i++
		} else {
			add(negAt[j], false)
			j++
		}
	}
	return candidates, positive, tie, nPos, true
}
