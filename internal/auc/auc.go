// Package auc computes the area under the ROC curve, the one definition the
// trainers' validation and the evaluation share.
package auc

import (
	"math"
	"sort"
)

// Labeled returns the probability that a random positive scores above a
// random negative, counting tied scores as one half, computed from mid-ranks
// in O(n log n). It returns NaN when there are no positives or no negatives.
func Labeled(scores []float32, positive []bool) float64 {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var nPos, nNeg int
	var rankSum float64 // sum of 1-based mid-ranks of the positives
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // average of ranks i+1..j
		for t := i; t < j; t++ {
			if positive[idx[t]] {
				nPos++
				rankSum += mid
			} else {
				nNeg++
			}
		}
		i = j
	}
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	return (rankSum - float64(nPos)*float64(nPos+1)/2) / (float64(nPos) * float64(nNeg))
}

// PosNeg is Labeled for scores already split into positives and negatives.
func PosNeg(pos, neg []float32) float64 {
	scores := make([]float32, 0, len(pos)+len(neg))
	scores = append(append(scores, pos...), neg...)
	positive := make([]bool, len(scores))
	for i := range pos {
		positive[i] = true
	}
	return Labeled(scores, positive)
}
