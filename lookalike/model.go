package lookalike

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/ralmlab/ralm/internal/simd"
)

// normEps is added under every square root of a cosine's norms, exactly as in
// the training graph: cos(x, y) = x·y / (sqrt(|x|²+eps)·sqrt(|y|²+eps)).
const normEps = 1e-8

// maskNeg is added to the attention logits of empty (padded) centroid slots
// in the training graph so that their softmax weight is exactly zero.
const maskNeg = -1e9

// Model is a trained look-alike model: the shared transform and the attention
// weights. It is immutable once built; every method is safe for concurrent
// use.
type Model struct {
	cfg Config
	d   int // input (user embedding) width
	h   int // transform output width

	w     []float32 // (d,h) row-major: T(v) = PReLU(vᵀW + b)
	b     []float32 // (h) bias
	alpha []float32 // (h) PReLU slopes for negative inputs
	wg    []float32 // (h,h) global attention projection (attention pooling only)
	vg    []float32 // (h) global attention vector (attention pooling only)
	wl    []float32 // (h,h) local attention bilinear form (attention pooling only)
	wp    []float32 // (d,P) propensity hidden layer (PropensityUser only)
	bp    []float32 // (P) propensity hidden bias
	vp    []float32 // (P) propensity output weights: p(u) = vpᵀ tanh(uᵀWp + bp)
	a, c  float32   // logit = a·score + c

	pool *sync.Pool // *scratch buffers of Score
	root *Model     // for a Paper view: the model it was taken of
}

// Dim returns the input width d: the length of a user embedding.
func (m *Model) Dim() int { return m.d }

// Hidden returns the transform width h: the length of a centroid and of
// ItemState.Global.
func (m *Model) Hidden() int { return m.h }

// Config returns the configuration the model was trained with (defaults
// filled in).
func (m *Model) Config() Config { return m.cfg }

// Probability maps a score to the trained click probability
// sigmoid(a·score + c). It is monotone in the score, so ranking by either is
// the same.
func (m *Model) Probability(score float32) float32 {
	z := float64(m.a)*float64(score) + float64(m.c)
	return float32(1 / (1 + math.Exp(-z)))
}

// paramSpec names one weight tensor of the model, in file and graph order.
type paramSpec struct {
	name  string
	shape []int
}

// params lists the model's weight tensors with their shapes.
func (m *Model) params() []paramSpec {
	ps := []paramSpec{
		{"W", []int{m.d, m.h}},
		{"b", []int{m.h}},
		{"alpha", []int{m.h}},
	}
	if m.cfg.Pooling == PoolingAttention {
		ps = append(ps,
			paramSpec{"Wg", []int{m.h, m.h}},
			paramSpec{"vg", []int{m.h}},
			paramSpec{"Wl", []int{m.h, m.h}},
		)
	}
	if m.cfg.Propensity == PropensityUser {
		P := m.cfg.PropensityHidden
		ps = append(ps,
			paramSpec{"Wp", []int{m.d, P}},
			paramSpec{"bp", []int{P}},
			paramSpec{"vp", []int{P}},
		)
	}
	return append(ps, paramSpec{"a", nil}, paramSpec{"c", nil})
}

// slice returns the storage of the named weight; scalars come back as
// one-element slices that alias nothing (see setScalar).
func (m *Model) slice(name string) []float32 {
	switch name {
	case "W":
		return m.w
	case "b":
		return m.b
	case "alpha":
		return m.alpha
	case "Wg":
		return m.wg
	case "vg":
		return m.vg
	case "Wl":
		return m.wl
	case "Wp":
		return m.wp
	case "bp":
		return m.bp
	case "vp":
		return m.vp
	case "a":
		return []float32{m.a}
	case "c":
		return []float32{m.c}
	}
	return nil
}

// newModel allocates a model of the given shape with zero weights.
func newModel(cfg Config, d int) *Model {
	h := cfg.Hidden
	m := &Model{cfg: cfg, d: d, h: h,
		w: make([]float32, d*h), b: make([]float32, h), alpha: make([]float32, h),
		pool: &sync.Pool{}}
	if cfg.Pooling == PoolingAttention {
		m.wg = make([]float32, h*h)
		m.vg = make([]float32, h)
		m.wl = make([]float32, h*h)
	}
	if cfg.Propensity == PropensityUser {
		P := cfg.PropensityHidden
		m.wp, m.bp, m.vp = make([]float32, d*P), make([]float32, P), make([]float32, P)
	}
	return m
}

// initWeights fills the weights with Glorot-uniform values drawn from rng,
// PReLU slopes 0.25, zero biases, a = ScaleInit and c = -ln(Negatives). The
// propensity output weights start at zero, so training starts from the
// paper's score.
func (m *Model) initWeights(rng *rand.Rand) {
	glorot(rng, m.w, m.d, m.h)
	for i := range m.alpha {
		m.alpha[i] = 0.25
	}
	if m.cfg.Pooling == PoolingAttention {
		glorot(rng, m.wg, m.h, m.h)
		glorot(rng, m.vg, m.h, 1)
		glorot(rng, m.wl, m.h, m.h)
	}
	if m.cfg.Propensity == PropensityUser {
		glorot(rng, m.wp, m.d, m.cfg.PropensityHidden)
	}
	m.a = m.cfg.ScaleInit
	// c starts at the log-odds of a positive in training (one positive per
	// Negatives negatives), so the first steps do not go into learning the
	// base rate.
	m.c = -float32(math.Log(float64(m.cfg.Negatives)))
}

func glorot(rng *rand.Rand, dst []float32, fanIn, fanOut int) {
	lim := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range dst {
		dst[i] = float32((2*rng.Float64() - 1) * lim)
	}
}

// newRNG returns the deterministic generator for one purpose (stream) of a
// run with the given seed.
func newRNG(seed uint64, stream uint64) *rand.Rand { return rand.New(newPCG(seed, stream)) }

// newPCG is newRNG's source, for generators whose state is checkpointed.
func newPCG(seed uint64, stream uint64) *rand.PCG {
	return rand.NewPCG(seed, 0x9e3779b97f4a7c15^stream)
}

// RNG streams: one independent generator per purpose keeps runs reproducible
// when one part of the pipeline changes how many numbers it draws.
const (
	streamInit uint64 = iota + 1
	streamSplit
	streamSample
	streamDropout
	streamKMeans
	streamValid
)

// HasPropensity reports whether the model's scores include the learned
// per-user propensity term (Config.Propensity is PropensityUser).
func (m *Model) HasPropensity() bool { return m.wp != nil }

// Propensity returns the learned per-user term p(u) of a raw user embedding
// (length Dim), the part of every score of that user that does not depend
// on the item; 0 for a model without the term. It is NaN for an embedding
// of the wrong length or with non-finite values.
func (m *Model) Propensity(user []float32) float32 {
	if len(user) != m.d {
		return float32(math.NaN())
	}
	for _, v := range user {
		if !finite32(v) {
			return float32(math.NaN())
		}
	}
	if m.wp == nil {
		return 0
	}
	hid := make([]float32, len(m.bp))
	return m.propensity(user, hid)
}

// propensity computes p(u) = vpᵀ tanh(uᵀWp + bp) with hid (length P) as
// scratch; the model must have the term.
func (m *Model) propensity(user, hid []float32) float32 {
	P := len(m.bp)
	simd.LinearRows(user, 1, m.d, P, m.wp, m.bp, hid)
	var p float64
	for j, z := range hid {
		p += math.Tanh(float64(z)) * float64(m.vp[j])
	}
	return float32(p)
}

// ScoreBound returns the largest magnitude a score of m can take:
// GlobalWeight+LocalWeight for the cosines, plus Σ|v_p| for the propensity
// term of a model that has one.
func (m *Model) ScoreBound() float32 {
	b := m.cfg.GlobalWeight + m.cfg.LocalWeight
	for _, v := range m.vp {
		b += float32(math.Abs(float64(v)))
	}
	return b
}

// Paper returns a view of m that scores with the paper's score alone: the
// same weights without the propensity term (m itself when it has none). The
// view shares m's weights, and item states built by either model score with
// both.
func (m *Model) Paper() *Model {
	if m.wp == nil {
		return m
	}
	p := *m
	p.wp, p.bp, p.vp = nil, nil, nil
	p.cfg.Propensity = PropensityOff
	p.root = m.space()
	return &p
}

// space returns the model whose transformed space m scores in: the model
// itself, or the one a Paper view was taken of.
func (m *Model) space() *Model {
	if m.root != nil {
		return m.root
	}
	return m
}

// transformOne writes T(v) to dst (length h).
func (m *Model) transformOne(dst, v []float32) {
	simd.LinearRows(v, 1, m.d, m.h, m.w, m.b, dst)
	m.prelu(dst)
}

// transformBatch writes T(v) for the n rows of src (n×d) to dst (n×h).
func (m *Model) transformBatch(dst, src []float32, n int) {
	if n == 0 {
		return
	}
	simd.LinearRows(src, n, m.d, m.h, m.w, m.b, dst)
	m.prelu(dst[:n*m.h])
}

// prelu applies the PReLU with per-channel slopes in place to rows of width h.
func (m *Model) prelu(x []float32) { simd.PReLU(x, x, m.alpha, nil, m.h) }

// checkShape validates that emb holds whole rows of width d.
func checkRows(what string, v []float32, d int) (int, error) {
	if d <= 0 {
		return 0, fmt.Errorf("%s: width %d must be positive", what, d)
	}
	if len(v)%d != 0 {
		return 0, fmt.Errorf("%s: %d values are not a multiple of the width %d", what, len(v), d)
	}
	return len(v) / d, nil
}

// tensorData returns the storage of the tensor (non-scalar) weights in
// params() order, to be shared with a training graph.
func (m *Model) tensorData() []any {
	var out []any
	for _, p := range m.params() {
		if p.shape != nil {
			out = append(out, m.slice(p.name))
		}
	}
	return out
}
