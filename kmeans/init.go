package kmeans

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// newRNG returns the deterministic generator for a seed.
func newRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// localTrials is the number of candidates greedy k-means++ evaluates per
// centroid (2 + ⌊ln k⌋, as in scikit-learn).
func localTrials(k int) int {
	return 2 + int(math.Log(float64(k)))
}

// ppState holds the buffers of greedy k-means++.
type ppState struct {
	closest []float32   // n, squared distance to the nearest chosen centroid
	newD    [][]float32 // per candidate, min(closest, distance to candidate)
	pots    []float64   // nchunks*T per-chunk potentials per candidate
	best    []float64   // nchunks, per-chunk potential of closest
	scr     []scratch
}

// kmeansPP chooses up to k initial centroids among the points with greedy
// k-means++: each new centroid is the best (lowest resulting potential) of
// localTrials(k) candidates sampled with probability proportional to the
// squared distance to the nearest centroid already chosen. It stops early,
// returning fewer centroids, when every point coincides with a chosen
// centroid (fewer than k distinct points). The result is k'*d row-major.
func (pr *problem) kmeansPP(ctx context.Context, k int, rng *rand.Rand) ([]float64, error) {
	n, d := pr.n, pr.d
	T := localTrials(k)
	cs := newRowCenters(T, d)
	ps := &ppState{
		closest: make([]float32, n),
		newD:    make([][]float32, T),
		pots:    make([]float64, pr.nchunks*T),
		best:    make([]float64, pr.nchunks),
		scr:     newScratches(min(pr.workers, pr.nchunks), cs.kpad, d),
	}
	for i := range ps.closest {
		ps.closest[i] = float32(math.Inf(1))
	}
	for t := range ps.newD {
		ps.newD[t] = make([]float32, n)
	}
	chosen := make([]float64, 0, k*d)
	cands := make([]int, T)

	cands[0] = rng.IntN(n)
	ntr := 1
	for {
		cs.k = ntr
		for t := 0; t < ntr; t++ {
			p := cands[t]
			for i := 0; i < d; i++ {
				cs.c64[t*d+i] = float64(pr.x[p*d+i])
			}
		}
		cs.prepare(pr.mu)
		if err := pr.candidatePass(ctx, cs, ps); err != nil {
			return nil, fmt.Errorf("kmeans: k-means++ initialisation: %w", err)
		}
		bestT, bestPot := 0, math.Inf(1)
		for t := 0; t < ntr; t++ {
			var pot float64
			for c := 0; c < pr.nchunks; c++ {
				pot += ps.pots[c*T+t]
			}
			if pot < bestPot {
				bestT, bestPot = t, pot
			}
		}
		chosen = append(chosen, cs.c64[bestT*d:(bestT+1)*d]...)
		ps.closest, ps.newD[bestT] = ps.newD[bestT], ps.closest
		for c := 0; c < pr.nchunks; c++ {
			ps.best[c] = ps.pots[c*T+bestT]
		}
		if len(chosen) == k*d || !(bestPot > 0) {
			break
		}
		ntr = T
		for t := 0; t < T; t++ {
			cands[t] = pr.sample(ps.closest, ps.best, rng.Float64()*bestPot)
		}
	}
	return chosen, nil
}

// candidatePass computes, for every candidate t in cs, min(closest, ‖x−c_t‖²)
// per point into newD[t] and the per-chunk sums into pots.
func (pr *problem) candidatePass(ctx context.Context, cs *centers, ps *ppState) error {
	T := len(ps.newD)
	ntr := cs.k
	return runChunks(ctx, pr.nchunks, len(ps.scr), func(w, c int) error {
		pc := ps.pots[c*T : c*T+ntr]
		clear(pc)
		sc := &ps.scr[w]
		kpad := cs.kpad
		closest, xn2 := ps.closest, pr.xn2
		return pr.blocks(ctx, c, func(b, e int) {
			pr.scoreRows(cs, sc, b, e)
			for t := 0; t < ntr; t++ {
				nd := ps.newD[t][b:e]
				cl := closest[b:e]
				xs := xn2[b:e]
				out := sc.out[t:]
				cn := float32(fixTol * cs.cn2[t])
				var pot0, pot1 float64
				for i := range nd {
					xn := xs[i]
					dd := xn + out[i*kpad]
					if dd < float32(fixTol)*xn+cn {
						dd = float32(pr.exact(cs, b+i, t))
					}
					if c := cl[i]; dd > c {
						dd = c
					}
					nd[i] = dd
					if i&1 == 0 {
						pot0 += float64(dd)
					} else {
						pot1 += float64(dd)
					}
				}
				pc[t] += pot0 + pot1
			}
		})
	})
}

// sample returns the point whose cumulative weight (in index order) first
// exceeds r, weights being w; chunkSums are the per-chunk weight sums. Only
// points of positive weight are returned; -1 when there are none.
func (pr *problem) sample(w []float32, chunkSums []float64, r float64) int {
	var acc float64
	for c := 0; c < pr.nchunks; c++ {
		if acc+chunkSums[c] <= r && c < pr.nchunks-1 {
			acc += chunkSums[c]
			continue
		}
		lo, hi := pr.bounds(c)
		last := -1
		for p := lo; p < hi; p++ {
			if v := w[p]; v > 0 {
				last = p
				acc += float64(v)
				if acc > r {
					return p
				}
			}
		}
		if last >= 0 {
			return last
		}
		break
	}
	for p := pr.n - 1; p >= 0; p-- {
		if w[p] > 0 {
			return p
		}
	}
	return -1
}
