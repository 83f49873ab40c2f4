package lookalike

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ralmlab/ralm/internal/auc"
)

// freshMetrics scores the held-out items of p as fresh items: the first half
// of each item's clickers (in a fixed random order) are its seeds, the other
// half its positives, and every known user (one with a training click) who
// is not a seed is a candidate, as in the evaluation protocol. It
// returns the mean per-item AUC and recall@10 (ties ordered by ascending
// user id, as in the evaluation protocol).
func (p *planted) freshMetrics(seed uint64, score func(seeds []float32, users []int32) []float32) (meanAUC, r10 float64) {
	rng := rand.New(rand.NewPCG(seed, 78))
	known := make([]bool, len(p.comm))
	for _, cl := range p.train {
		for _, u := range cl {
			known[u] = true
		}
	}
	n := 0
	for _, cl := range p.test {
		if len(cl) < 6 {
			continue
		}
		perm := slices.Clone(cl)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		ns := len(perm) / 2
		isSeed, isPos := make(map[int32]bool), make(map[int32]bool)
		for _, u := range perm[:ns] {
			isSeed[u] = true
		}
		for _, u := range perm[ns:] {
			isPos[u] = true
		}
		var cand []int32
		for u := int32(0); int(u) < len(p.comm); u++ {
			if known[u] && !isSeed[u] {
				cand = append(cand, u)
			}
		}
		seeds := make([]float32, 0, ns*p.dim)
		for _, u := range perm[:ns] {
			seeds = append(seeds, p.emb[int(u)*p.dim:(int(u)+1)*p.dim]...)
		}
		s := score(seeds, cand)
		label := make([]bool, len(cand))
		npos := 0
		for i, u := range cand { // positives that are not known users are dropped
			label[i] = isPos[u]
			if label[i] {
				npos++
			}
		}
		meanAUC += auc.Labeled(s, label)
		order := make([]int, len(cand))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { // cand is in ascending user order
			switch {
			case s[a] > s[b]:
				return -1
			case s[a] < s[b]:
				return 1
			}
			return 0
		})
		hit := 0
		for _, i := range order[:10] {
			if isPos[cand[i]] {
				hit++
			}
		}
		r10 += float64(hit) / float64(min(10, npos))
		n++
	}
	return meanAUC / float64(n), r10 / float64(n)
}

// modelScorer scores candidates with m through BuildItem and ScoreUsers.
func (p *planted) modelScorer(t *testing.T, m *Model) func(seeds []float32, users []int32) []float32 {
	return func(seeds []float32, users []int32) []float32 {
		st, err := m.BuildItem(context.Background(), seeds, nil)
		if err != nil {
			t.Fatal(err)
		}
		emb := make([]float32, 0, len(users)*p.dim)
		for _, u := range users {
			emb = append(emb, p.emb[int(u)*p.dim:(int(u)+1)*p.dim]...)
		}
		out := make([]float32, len(users))
		m.ScoreUsers(emb, st, out)
		return out
	}
}

// plantedFresh is the fresh-item AUC and recall@10 of the activity
// baseline, the paper's score (a model trained with PropensityOff), the
// default model and the default model's paper view on one planted data set.
type plantedFresh struct {
	actAUC, actR, papAUC, papR, defAUC, defR, viewAUC, viewR float64
}

// freshPlanted makes the skewed planted data set of TestPropensityBeatsActivityPlanted
// with the given seed, trains the paper's model and the default model on it
// (training seed = seed) and measures the four scorers on its fresh items.
func freshPlanted(t *testing.T, seed uint64) plantedFresh {
	t.Helper()
	p := makePlanted(plantedSpec{users: 800, comms: 12, dim: 8, trainItems: 200, testItems: 30,
		noise: 0.4, clickRate: 0.2, randomRate: 0.02, activitySkew: 2, seed: seed})
	clicks := make([]float32, len(p.comm))
	for _, cl := range p.train {
		for _, u := range cl {
			clicks[u]++
		}
	}
	activity := func(_ []float32, users []int32) []float32 {
		out := make([]float32, len(users))
		for i, u := range users {
			out[i] = clicks[u]
		}
		return out
	}
	train := func(prop PropensityMode) *Model {
		cfg := Config{K: 8, SeedsPerItem: 40, Epochs: 20, LR: 2e-2, Seed: int64(seed), Propensity: prop}
		m, _, err := Train(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var r plantedFresh
	r.actAUC, r.actR = p.freshMetrics(1, activity)
	r.papAUC, r.papR = p.freshMetrics(1, p.modelScorer(t, train(PropensityOff)))
	def := train("")
	if !def.HasPropensity() {
		t.Fatal("the default model has no propensity term")
	}
	r.defAUC, r.defR = p.freshMetrics(1, p.modelScorer(t, def))
	r.viewAUC, r.viewR = p.freshMetrics(1, p.modelScorer(t, def.Paper()))
	return r
}

// TestPropensityBeatsActivityPlanted plants communities with heavy-tailed
// user activity (log-normal, σ = 2: the most active users click hundreds of
// times more than the least active) that the user embeddings reflect in a
// direction the cosine with an item's seeds cannot use (see plantedSpec). On
// fresh items, ranking users by their training clicks (the activity
// baseline) beats the paper's score, which measures only how alike a user
// is to the seeds; the default model, with its learned propensity term,
// must beat both on AUC and on recall@10 by a margin. The metrics are
// averaged over three planted data sets (and training seeds), so that the
// margin is compared with a mean, not with one run's rounding (the
// pure-Go and the assembly kernels round differently and so train
// slightly different models).
func TestPropensityBeatsActivityPlanted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains six models for 20 epochs")
	}
	seeds := []uint64{3, 4, 5}
	var mean plantedFresh
	for _, seed := range seeds {
		r := freshPlanted(t, seed)
		t.Logf("planted seed %d: fresh AUC / recall@10: default %.4f / %.4f, paper %.4f / %.4f, default's paper view %.4f / %.4f, activity %.4f / %.4f",
			seed, r.defAUC, r.defR, r.papAUC, r.papR, r.viewAUC, r.viewR, r.actAUC, r.actR)
		mean.actAUC += r.actAUC / float64(len(seeds))
		mean.actR += r.actR / float64(len(seeds))
		mean.papAUC += r.papAUC / float64(len(seeds))
		mean.papR += r.papR / float64(len(seeds))
		mean.defAUC += r.defAUC / float64(len(seeds))
		mean.defR += r.defR / float64(len(seeds))
		mean.viewAUC += r.viewAUC / float64(len(seeds))
		mean.viewR += r.viewR / float64(len(seeds))
	}
	t.Logf("mean: fresh AUC / recall@10: default %.4f / %.4f, paper %.4f / %.4f, default's paper view %.4f / %.4f, activity %.4f / %.4f",
		mean.defAUC, mean.defR, mean.papAUC, mean.papR, mean.viewAUC, mean.viewR, mean.actAUC, mean.actR)
	if mean.actAUC <= mean.papAUC {
		t.Errorf("the planted data does not show the problem: mean activity AUC %.4f <= paper %.4f", mean.actAUC, mean.papAUC)
	}
	// measured (mean of planted seeds 3–5): default 0.875 / 0.486, activity
	// 0.858 / 0.426, paper 0.843 / 0.336; with -tags purego default 0.876 /
	// 0.499, paper 0.846 / 0.335. Between the two kernels the mean default
	// AUC moved by 0.001 and a single seed's by up to 0.003, well inside the
	// slack left by the margins.
	const marginAUC, marginR = 0.01, 0.03
	if mean.defAUC < max(mean.actAUC, mean.papAUC)+marginAUC {
		t.Errorf("mean default AUC %.4f does not beat activity %.4f and paper %.4f by %.3f", mean.defAUC, mean.actAUC, mean.papAUC, marginAUC)
	}
	if mean.defR < max(mean.actR, mean.papR)+marginR {
		t.Errorf("mean default recall@10 %.4f does not beat activity %.4f and paper %.4f by %.2f", mean.defR, mean.actR, mean.papR, marginR)
	}
}
