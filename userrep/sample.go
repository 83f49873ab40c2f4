package userrep

import (
	"math"
	"math/rand"
	"sort"
)

// logUniform draws item indices from the log-uniform (Zipfian) distribution
// over item frequency rank: p(r) = (log(r+2) − log(r+1)) / log(D+1), where
// rank 0 is the most clicked item.
type logUniform struct {
	byRank []int32   // item index of each rank
	rankOf []int32   // rank of each item index
	logQ   []float64 // log p(rank) per rank
	logD1  float64   // log(D+1)
}

// newLogUniform ranks the D items by click count (descending, ties by index).
func newLogUniform(counts []int) *logUniform {
	D := len(counts)
	s := &logUniform{byRank: make([]int32, D), rankOf: make([]int32, D), logQ: make([]float64, D), logD1: math.Log(float64(D) + 1)}
	for i := range s.byRank {
		s.byRank[i] = int32(i)
	}
	sort.SliceStable(s.byRank, func(a, b int) bool { return counts[s.byRank[a]] > counts[s.byRank[b]] })
	for r, it := range s.byRank {
		s.rankOf[it] = int32(r)
		s.logQ[r] = math.Log((math.Log(float64(r)+2) - math.Log(float64(r)+1)) / s.logD1)
	}
	return s
}

// prob is p(rank).
func (s *logUniform) prob(rank int) float64 { return math.Exp(s.logQ[rank]) }

// draw returns one item index.
func (s *logUniform) draw(rng *rand.Rand) int32 {
	// inverse CDF: P(rank < r) = log(r+1)/log(D+1)
	r := int(math.Exp(rng.Float64()*s.logD1)) - 1
	if r < 0 {
		r = 0
	}
	if r >= len(s.byRank) {
		r = len(s.byRank) - 1
	}
	return s.byRank[r]
}

// drawExcept returns an item index different from not. With a single item it
// returns that item.
func (s *logUniform) drawExcept(rng *rand.Rand, not int32) int32 {
	if len(s.byRank) < 2 {
		return s.byRank[0]
	}
	for {
		if it := s.draw(rng); it != not {
			return it
		}
	}
}

// itemLogQ is log p(rank of item).
func (s *logUniform) itemLogQ(item int32) float64 { return s.logQ[s.rankOf[item]] }

// drawKeep fills the field-dropout mask keep (F·B, f-major): each field of
// each example is dropped with probability cfg.FieldDropout, at least one
// field per example stays. A kept entry holds 1 (attention) or the inverted
// dropout scale 1/(1−p) (concat).
func drawKeep[T float](keep []T, F, B int, cfg Config, rng *rand.Rand) {
	scale := T(1)
	if cfg.Merge == MergeConcat {
		scale = T(1 / (1 - cfg.FieldDropout))
	}
	for b := 0; b < B; b++ {
		kept := 0
		for f := 0; f < F; f++ {
			if rng.Float64() < cfg.FieldDropout {
				keep[f*B+b] = 0
			} else {
				keep[f*B+b] = scale
				kept++
			}
		}
		if kept == 0 {
			keep[rng.Intn(F)*B+b] = scale
		}
	}
}

// maskedScore is added to the attention score of a dropped field in the
// graph; exp of it underflows to exactly 0 in float32 and float64.
const maskedScore = -1e4

// fillGraphKeep converts the keep mask into the graph's dropout input:
// additive scores (F,B,heads) for attention, multiplicative (F,B,1) for concat.
func fillGraphKeep[T float](dst, keep []T, l *layout) {
	if l.cfg.Merge == MergeConcat {
		copy(dst, keep)
		return
	}
	H := l.heads
	for i, k := range keep {
		v := T(0)
		if k == 0 {
			v = maskedScore
		}
		for h := 0; h < H; h++ {
			dst[i*H+h] = v
		}
	}
}
