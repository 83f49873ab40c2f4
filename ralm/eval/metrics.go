// Package eval implements the held-out look-alike evaluation protocol
// (EVAL_PROTOCOL.md, version 1): per-item AUC and recall@K of the candidates a
// model scores for an item, averaged over warm and fresh items and over
// seed-count buckets.
package eval

import (
	"fmt"
	"math"
	"sort"
)

// RecallAtK returns |top-K ∩ positives| / min(K, |positives|) for each K in ks.
// Candidates are ranked by descending score; equal scores are ordered by
// ascending tieRank (the protocol orders ties by ascending user id, so callers
// pass each candidate's position in the sorted user-id order). It returns NaN
// for every K when there are no positives. K larger than the number of
// candidates takes every candidate.
func RecallAtK(scores []float32, positive []bool, tieRank []int32, ks []int) ([]float64, error) {
	if len(positive) != len(scores) || len(tieRank) != len(scores) {
		return nil, fmt.Errorf("recall@k: %d scores, %d labels, %d tie ranks", len(scores), len(positive), len(tieRank))
	}
	out := make([]float64, len(ks))
	nPos := 0
	for _, p := range positive {
		if p {
			nPos++
		}
	}
	if nPos == 0 {
		for i := range out {
			out[i] = math.NaN()
		}
		return out, nil
	}
	maxK := 0
	for _, k := range ks {
		if k <= 0 {
			return nil, fmt.Errorf("recall@k: K must be positive, got %d", k)
		}
		maxK = max(maxK, k)
	}
	top := topK(scores, tieRank, min(maxK, len(scores)))
	for i, k := range ks {
		hits := 0
		for _, c := range top[:min(k, len(top))] {
			if positive[c] {
				hits++
			}
		}
		out[i] = float64(hits) / float64(min(k, nPos))
	}
	return out, nil
}

// before reports whether candidate a ranks above candidate b.
func before(scores []float32, tieRank []int32, a, b int) bool {
	if scores[a] != scores[b] {
		return scores[a] > scores[b]
	}
	return tieRank[a] < tieRank[b]
}

// topK returns the indices of the k best candidates in rank order.
func topK(scores []float32, tieRank []int32, k int) []int {
	if k == 0 {
		return nil
	}
	// Partial selection: keep a sorted window of the best k seen so far.
	best := make([]int, 0, k)
	for c := range scores {
		if len(best) == k && !before(scores, tieRank, c, best[k-1]) {
			continue
		}
		pos := sort.Search(len(best), func(i int) bool { return before(scores, tieRank, c, best[i]) })
		if len(best) < k {
			best = append(best, 0)
		}
		copy(best[pos+1:], best[pos:len(best)-1])
		best[pos] = c
	}
	return best
}
