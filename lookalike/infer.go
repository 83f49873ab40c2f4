package lookalike

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/ralmlab/ralm/internal/simd"
)

// ItemState is an item's precomputed representation for scoring: its seed
// clusters in the transformed space and the pooled global vector. Build one
// with Model.BuildItem (from seed embeddings) or Model.NewItemState (from
// centroids kept elsewhere). An ItemState is immutable: its slices must not
// be modified, and it may be shared by any number of goroutines.
type ItemState struct {
	// K is the number of centroids (at most the model's K; fewer when the
	// item has fewer distinct seeds).
	K int
	// Centroids holds the K centroids row-major (K×h), in the transformed
	// space of the model that built the state.
	Centroids []float32
	// Weights holds the number of seeds behind each centroid (used by
	// models trained with the size prior; see Config.NoSizePrior).
	Weights []float32
	// Global is the target-independent pooled vector E_global (h values):
	// the global-attention pooling of the centroids, or their average for a
	// model with average pooling.
	Global []float32
	// Seeds is the number of seed embeddings the state was built from.
	Seeds int

	owner *Model    // the model whose space the centroids live in
	rows  []float32 // (K+1)×h: the centroids, then Global/|Global| (unit)
	prior []float32 // centroid sizes when the model uses the size prior, else nil
}

// ErrNoSeeds is returned by BuildItem for an empty seed list.
var ErrNoSeeds = errors.New("lookalike: item has no seeds")

// BuildItem transforms an item's seed user embeddings (n×d, row-major) and
// clusters them into at most K centroids. An item with at most K seeds uses
// its transformed seeds directly. prev, if it comes from the same model and
// has K centroids, warm-starts k-means; pass nil otherwise. Above
// Config.MiniBatchAbove seeds, mini-batch k-means is used. Clustering is
// deterministic for given seeds and prev.
func (m *Model) BuildItem(ctx context.Context, seeds []float32, prev *ItemState) (*ItemState, error) {
	n, err := checkRows("build item: seeds", seeds, m.d)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, ErrNoSeeds
	}
	for i, v := range seeds {
		if !finite32(v) {
			return nil, fmt.Errorf("build item: seed %d has a non-finite value", i/m.d)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("build item: %w", err)
	}
	hs := make([]float32, n*m.h)
	m.transformBatch(hs, seeds, n)
	var init []float32
	if prev != nil && prev.owner == m.space() && prev.K == m.cfg.K && len(prev.Centroids) == m.cfg.K*m.h {
		init = prev.Centroids
	}
	cents, weights, err := m.cluster(ctx, hs, n, init, uint64(m.cfg.Seed)^uint64(n))
	if err != nil {
		return nil, fmt.Errorf("build item: %w", err)
	}
	st := m.prepare(cents, weights)
	st.Seeds = n
	return st, nil
}

// NewItemState builds a scorable state from centroids already in this
// model's transformed space (K×h, row-major), for example ones persisted by a
// serving engine. weights are the numbers of seeds per centroid (positive;
// nil means 1 each); they only change the score of a model trained with
// the size prior (see Config.NoSizePrior).
func (m *Model) NewItemState(centroids, weights []float32) (*ItemState, error) {
	k, err := checkRows("new item state: centroids", centroids, m.h)
	if err != nil {
		return nil, err
	}
	if k == 0 {
		return nil, ErrNoSeeds
	}
	if weights != nil && len(weights) != k {
		return nil, fmt.Errorf("new item state: %d weights for %d centroids", len(weights), k)
	}
	for i, v := range centroids {
		if !finite32(v) {
			return nil, fmt.Errorf("new item state: centroid %d has a non-finite value", i/m.h)
		}
	}
	w := make([]float32, k)
	seeds := 0
	for i := range w {
		w[i] = 1
		if weights != nil {
			if !finite32(weights[i]) || weights[i] <= 0 {
				return nil, fmt.Errorf("new item state: weight %d is %v", i, weights[i])
			}
			w[i] = weights[i]
		}
		seeds += int(w[i])
	}
	st := m.prepare(append([]float32(nil), centroids...), w)
	st.Seeds = seeds
	return st, nil
}

// prepare computes E_global and the per-item precomputations. It takes
// ownership of cents.
func (m *Model) prepare(cents, weights []float32) *ItemState {
	h := m.h
	k := len(cents) / h
	rows := make([]float32, (k+1)*h)
	copy(rows, cents)
	st := &ItemState{K: k, Centroids: rows[: k*h : k*h], Weights: weights, owner: m.space(), rows: rows}
	if !m.cfg.NoSizePrior {
		st.prior = weights
	}
	global := make([]float32, h)
	if m.cfg.Pooling == PoolingAttention {
		// α = softmax_c(vgᵀ tanh(e_cᵀ Wg)), E_global = Σ α_c e_c
		logit := make([]float64, k)
		t := make([]float64, h)
		maxL := math.Inf(-1)
		for c := 0; c < k; c++ {
			e := rows[c*h : (c+1)*h]
			for j := range t {
				t[j] = 0
			}
			for i, ev := range e {
				if ev == 0 {
					continue
				}
				wr := m.wg[i*h : (i+1)*h]
				for j := range t {
					t[j] += float64(ev) * float64(wr[j])
				}
			}
			var l float64
			for j := range t {
				l += math.Tanh(t[j]) * float64(m.vg[j])
			}
			if !m.cfg.NoSizePrior {
				l += math.Log(float64(weights[c]))
			}
			logit[c] = l
			maxL = math.Max(maxL, l)
		}
		var z float64
		for c := range logit {
			logit[c] = math.Exp(logit[c] - maxL)
			z += logit[c]
		}
		g64 := make([]float64, h)
		for c := 0; c < k; c++ {
			a := logit[c] / z
			for j, ev := range rows[c*h : (c+1)*h] {
				g64[j] += a * float64(ev)
			}
		}
		for j := range global {
			global[j] = float32(g64[j])
		}
	} else {
		g64 := make([]float64, h)
		var total float64
		for c := 0; c < k; c++ {
			w := 1.0
			if !m.cfg.NoSizePrior {
				w = float64(weights[c])
			}
			total += w
			for j, ev := range rows[c*h : (c+1)*h] {
				g64[j] += w * float64(ev)
			}
		}
		for j := range global {
			global[j] = float32(g64[j] / total)
		}
	}
	st.Global = global
	// unit global row, normalised exactly like the graph's l2n
	inv := 1 / float32(math.Sqrt(float64(simd.Dot(global, global))+normEps))
	unit := rows[k*h:]
	for j, v := range global {
		unit[j] = v * inv
	}
	return st
}

// scratch is the per-call working memory of Score.
type scratch struct {
	u, q   []float32 // transformed user, W_l·u
	el     []float32 // unnormalised E_local
	sq, su []float32 // per-centroid dot products (padded to blocks of 8)
	hid    []float32 // propensity hidden layer
	prop   float32   // p(u) of the prepared user (0 without the term)
}

func (m *Model) getScratch(k int) *scratch {
	s, _ := m.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	if cap(s.u) < m.h {
		s.u, s.q, s.el = make([]float32, m.h), make([]float32, m.h), make([]float32, m.h)
	}
	s.u, s.q, s.el = s.u[:m.h], s.q[:m.h], s.el[:m.h]
	if P := len(m.bp); cap(s.hid) < P {
		s.hid = make([]float32, P)
	}
	s.hid = s.hid[:len(m.bp)]
	if need := (k + 2 + 7) &^ 7; cap(s.sq) < need {
		s.sq, s.su = make([]float32, need), make([]float32, need)
	}
	s.sq, s.su = s.sq[:cap(s.sq)], s.su[:cap(s.su)]
	return s
}

// prepareUser transforms a user into s (T(u), q = W_l·T(u) for attention
// pooling, and the propensity p(u)) and returns 1/sqrt(|T(u)|²+eps); ok is false for a
// user of the wrong length or with non-finite values.
func (m *Model) prepareUser(s *scratch, user []float32) (invU float32, ok bool) {
	if len(user) != m.d {
		return 0, false
	}
	for _, v := range user {
		if !finite32(v) {
			return 0, false
		}
	}
	m.transformOne(s.u, user)
	s.prop = 0
	if m.wp != nil {
		s.prop = m.propensity(user, s.hid)
	}
	if m.cfg.Pooling == PoolingAttention {
		simd.Dot2Rows(m.wl, m.h, 0, m.h, nil, s.u, nil, s.q)
	}
	return 1 / float32(math.Sqrt(float64(simd.Dot(s.u, s.u))+normEps)), true
}

// scoreOne scores the prepared user against one item; next, the item
// scored after it (or nil), is prefetched meanwhile.
func (m *Model) scoreOne(it, next *ItemState, s *scratch, invU float32) float32 {
	if it == nil || it.owner != m.space() {
		return float32(math.NaN())
	}
	h := m.h
	if m.cfg.Pooling == PoolingAvg {
		simd.Dot2Rows(it.rows[it.K*h:], 1, 0, h, nil, s.u, nil, s.su)
		return (m.cfg.GlobalWeight+m.cfg.LocalWeight)*s.su[0]*invU + s.prop
	}
	var pf []float32
	if next != nil && next.owner == m.space() {
		pf = next.rows
	}
	return scoreItem(it, pf, h, s, invU, m.cfg.GlobalWeight, m.cfg.LocalWeight) + s.prop
}

// Score scores one user (a raw user embedding of length Dim) against many
// items and writes the scores to out[i] for items[i]. A score is
// GlobalWeight·cos(T(u), E_global) + LocalWeight·cos(T(u), E_local) (for
// average pooling, (GlobalWeight+LocalWeight)·cos(T(u), E_global)), plus
// the user's propensity p(u) for a model with the term (see
// Config.Propensity and Paper): the cosine part lies in
// [-(GlobalWeight+LocalWeight), GlobalWeight+LocalWeight] and p(u) shifts
// every score of the user alike, so the user's order of the items is the
// paper's. See Probability for the calibrated click probability.
//
// The user is transformed once; each item costs O(K·h) and no allocation.
// Score is safe for concurrent use. Only min(len(items), len(out)) scores are
// written. A nil item, an item built by another model, or a user embedding
// of the wrong length or with non-finite values scores NaN.
func (m *Model) Score(user []float32, items []*ItemState, out []float32) {
	scoreAll(m, user, items, out, stateK, scoreState)
}

func stateK(it *ItemState) int {
	if it == nil {
		return 0
	}
	return it.K
}

// scoreState is Score's per-item step: items[i+1]'s rows are prefetched.
func scoreState(m *Model, s *scratch, invU float32, _ []float32, items []*ItemState, i int) float32 {
	var next *ItemState
	if i+1 < len(items) {
		next = items[i+1]
	}
	return m.scoreOne(items[i], next, s, invU)
}

// scoreAll is the loop of Score and ScoreItems: it writes out[i] =
// one(m, s, invU, user, items, i) for the first min(len(items), len(out))
// items, with the user checked and transformed once (into s, a scratch
// sized for the largest kOf(item)), or NaN for every item when the user is
// of the wrong length or not finite. kOf and one are plain functions, so a
// call allocates nothing.
func scoreAll[T any](m *Model, user []float32, items []T, out []float32, kOf func(T) int,
	one func(m *Model, s *scratch, invU float32, user []float32, items []T, i int) float32) {
	if len(out) > len(items) {
		out = out[:len(items)]
	}
	if len(out) == 0 {
		return
	}
	items = items[:len(out)]
	maxK := 0
	for _, it := range items {
		maxK = max(maxK, kOf(it))
	}
	s := m.getScratch(maxK)
	defer m.pool.Put(s)
	invU, ok := m.prepareUser(s, user)
	for i := range items {
		if !ok {
			out[i] = float32(math.NaN())
			continue
		}
		out[i] = one(m, s, invU, user, items, i)
	}
}

// ScoreUsers scores many users (n×Dim raw embeddings, row-major) against one
// item and writes user i's score to out[i]: the audience scan of an item.
// Scores equal those of Score. Only min(n, len(out)) scores are written; a
// user with non-finite values scores NaN, and so does every user when item
// is nil, comes from another model, or users is not a whole number of rows.
// Safe for concurrent use.
func (m *Model) ScoreUsers(users []float32, item *ItemState, out []float32) {
	n := len(users) / m.d
	if len(out) > n {
		out = out[:n]
	}
	if len(out) == 0 {
		return
	}
	k := 0
	if item != nil {
		k = item.K
	}
	s := m.getScratch(k)
	defer m.pool.Put(s)
	whole := len(users)%m.d == 0
	for i := range out {
		invU, ok := m.prepareUser(s, users[i*m.d:(i+1)*m.d])
		if !ok || !whole {
			out[i] = float32(math.NaN())
			continue
		}
		out[i] = m.scoreOne(item, nil, s, invU)
	}
}

// scoreItem is the O(K·h) per-item part of Score for attention pooling.
func scoreItem(it *ItemState, next []float32, h int, s *scratch, invU, wg, wl float32) float32 {
	k := it.K
	sq, su, el := s.sq, s.su, s.el
	simd.Dot2RowsPF(it.rows, k+1, k, h, s.q, s.u, sq, su, next)
	// β_c ∝ exp(tanh(e_c·q)) (× size); tanh is bounded, so no max shift is
	// needed. expTanh works on whole blocks of 8: sq is padded.
	simd.ExpTanh(sq[:(k+7)&^7])
	var z, uL float32
	if it.prior != nil {
		w := it.prior[:k]
		for c, e := range sq[:k] {
			e *= w[c]
			sq[c] = e
			z += e
			uL += e * su[c]
		}
	} else {
		for c, e := range sq[:k] {
			z += e
			uL += e * su[c]
		}
	}
	// E_local·z = Σ_c e_c·centroid_c
	simd.WSum(it.rows, k, h, sq, el)
	simd.Dot2Rows(el, 1, 0, h, nil, el, nil, su[k+1:])
	ll := su[k+1]
	invZ := 1 / z
	uL *= invZ
	ll *= invZ * invZ
	cosL := uL * invU / float32(math.Sqrt(float64(ll)+normEps))
	cosG := su[k] * invU
	return wg*cosG + wl*cosL
}
