// Package coldstart is the paper's cold start for items with no (or too few)
// seeds: a small network on the item's attributes (the items table's
// categorical, multi-valued and continuous columns) and the target user's
// embedding predicts the click, until the item has enough seeds for the
// look-alike model.
//
// Every attribute field is embedded and mean-pooled over the item's values;
// the pooled fields p are concatenated with the user's embedding u (the
// userrep vector, so users added at serving time are scored too) and go
// through one tanh layer to a logit, plus the dot product of u with the
// item's vector in the user space, a linear map of p (the form the user
// model's own item vectors take):
//
//	p = [mean E_1[codes_1], …, mean E_F[codes_F]];  x = [p, u]
//	z = w2ᵀ tanh(xW1 + b1) + (p Wv)·u + b2
//
// # One scale with the look-alike model
//
// The network is trained with the look-alike stage's loss and negative
// sampling: for every clicker of an item (positive, label 1) Negatives users
// are drawn uniformly from the known users who did not click it (label 0),
// and the loss is the mean binary cross-entropy of sigmoid(z). The
// look-alike model's logit a·score + c is fitted the same way (one positive
// of an item, its seeds aside, against Negatives uniform non-clickers).
// Both logits therefore estimate the same quantity, the log-odds that the
// user is a clicker of the item rather than a uniformly drawn non-clicker
// at a 1:Negatives ratio, and their values can be compared and ranked
// together (Logit here; there the logit inside lookalike.Model.Probability,
// sigmoid(a·score + c)), as long as both were trained with the same
// Negatives.
package coldstart

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ralmlab/ralm/internal/simd"
	"github.com/ralmlab/ralm/lookalike"
)

// Config is the cold-start network and its training. Zero fields take the
// defaults of DefaultConfig.
type Config struct {
	// Dim is the embedding width of every attribute field.
	Dim int `json:"dim"`
	// Hidden is the width of the tanh layer.
	Hidden int `json:"hidden"`
	// Negatives is the number of random non-clickers per positive; use the
	// look-alike model's so that both logits share a scale.
	Negatives int `json:"negatives"`
	// Epochs, Batch (positives per step) and LR (Adam) drive training.
	Epochs int     `json:"epochs"`
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"`
	// EpochPositives bounds the positives (item, clicker) of one epoch:
	// with more, each epoch trains on a fresh uniform sample of
	// EpochPositives of them (a partial shuffle, whose cost is the sample's
	// size), so the cost of training stops growing with the click log (a
	// network this small does not need every click of a large log). 0 means
	// the default.
	EpochPositives int `json:"epoch_positives"`
	// Bins is the number of quantile bins of a continuous column.
	Bins int `json:"bins"`
	// Seed makes a run reproducible. It is an int64 like the seeds of the
	// other stages (ralm.TrainConfig.SetSeed sets them all); in a pipeline
	// run, 0 means the look-alike stage's seed (ralm.TrainConfig.ColdStartConfig).
	Seed int64 `json:"seed"`
}

// DefaultEpochPositives is the default Config.EpochPositives: 100,000
// positives per epoch (with their negatives, 500,000 pairs, about 2 s on one
// core), above MovieLens-100K's ~70,000 training clicks, where it never binds.
// With the default 10 epochs the network sees a million positives of a large
// log, for a few thousand weights and the attribute tables.
const DefaultEpochPositives = 100_000

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Dim: 16, Hidden: 64, Negatives: 4, Epochs: 10, Batch: 128, LR: 0.005, EpochPositives: DefaultEpochPositives, Bins: DefaultBins}
}

func (c Config) withDefaults() Config {
	def := DefaultConfig()
	c.Dim = cmp.Or(c.Dim, def.Dim)
	c.Hidden = cmp.Or(c.Hidden, def.Hidden)
	c.Negatives = cmp.Or(c.Negatives, def.Negatives)
	c.Epochs = cmp.Or(c.Epochs, def.Epochs)
	c.Batch = cmp.Or(c.Batch, def.Batch)
	c.LR = cmp.Or(c.LR, def.LR)
	c.EpochPositives = cmp.Or(c.EpochPositives, def.EpochPositives)
	c.Bins = cmp.Or(c.Bins, def.Bins)
	return c
}

func (c Config) validate() error {
	switch {
	case c.Dim < 1 || c.Dim > 1024:
		return fmt.Errorf("dim %d out of range [1, 1024]", c.Dim)
	case c.Hidden < 2 || c.Hidden > 4096:
		return fmt.Errorf("hidden %d out of range [2, 4096]", c.Hidden)
	case c.Negatives < 1 || c.Negatives > 1000:
		return fmt.Errorf("negatives %d out of range [1, 1000]", c.Negatives)
	case c.Epochs < 1:
		return fmt.Errorf("epochs %d must be positive", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("batch %d must be positive", c.Batch)
	case c.EpochPositives < 0: // 0: a model file written before the bound
		return fmt.Errorf("positives per epoch %d must be positive", c.EpochPositives)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate %v must be a positive number", c.LR)
	}
	return nil
}

// Model is a trained cold-start network. It is immutable; every method is
// safe for concurrent use.
type Model struct {
	cfg    Config
	enc    *Encoder
	d      int         // user embedding width
	tables [][]float32 // per field: (Size, Dim) row-major
	w1     []float32   // (F·Dim + d, Hidden)
	b1     []float32   // (Hidden)
	w2     []float32   // (Hidden)
	b2     float32
	wv     []float32 // (F·Dim, d): the item's vector in the user space
}

// Encoder returns the model's attribute encoder.
func (m *Model) Encoder() *Encoder { return m.enc }

// Dim returns the user embedding width the model takes.
func (m *Model) Dim() int { return m.d }

// Config returns the configuration the model was trained with.
func (m *Model) Config() Config { return m.cfg }

// itemWidth is the width of the pooled attribute vector, F·Dim.
func (m *Model) itemWidth() int { return len(m.enc.Fields) * m.cfg.Dim }

func newModel(cfg Config, enc *Encoder, d int) *Model {
	m := &Model{cfg: cfg, enc: enc, d: d}
	for _, f := range enc.Fields {
		m.tables = append(m.tables, make([]float32, f.Size()*cfg.Dim))
	}
	in := m.itemWidth() + d
	m.w1 = make([]float32, in*cfg.Hidden)
	m.b1 = make([]float32, cfg.Hidden)
	m.w2 = make([]float32, cfg.Hidden)
	m.wv = make([]float32, m.itemWidth()*d)
	return m
}

// initWeights draws the initial weights from rng: N(0, 0.1²) embeddings,
// Glorot-uniform layers, zero hidden biases and b2 = -ln(Negatives), the
// log-odds of a positive in training (as the look-alike model's c).
func (m *Model) initWeights(rng *rand.Rand) {
	for _, t := range m.tables {
		for i := range t {
			t[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	glorot(rng, m.w1, m.itemWidth()+m.d, m.cfg.Hidden)
	glorot(rng, m.w2, m.cfg.Hidden, 1)
	glorot(rng, m.wv, m.itemWidth(), m.d)
	m.b2 = -float32(math.Log(float64(m.cfg.Negatives)))
}

func glorot(rng *rand.Rand, dst []float32, fanIn, fanOut int) {
	lim := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range dst {
		dst[i] = float32((2*rng.Float64() - 1) * lim)
	}
}

// pool writes the item's mean-pooled field embeddings (F·Dim) to dst.
func (m *Model) pool(a Attrs, dst []float32) {
	e := m.cfg.Dim
	clear(dst)
	for f, codes := range a {
		if len(codes) == 0 {
			continue
		}
		out := dst[f*e : (f+1)*e]
		inv := 1 / float32(len(codes))
		for _, c := range codes {
			simd.Axpy(inv, m.tables[f][int(c)*e:(int(c)+1)*e], out)
		}
	}
}

// Item is an item prepared for scoring: its attribute part of the first
// layer, computed once.
type Item struct {
	pre []float32 // pooled·W1[:F·Dim] + b1
	vec []float32 // pooled·Wv
}

// Item prepares an item's attributes for scoring. Attributes with the wrong
// number of fields or codes out of range are an error; an item with no
// value in any field is scored from the user alone.
func (m *Model) Item(a Attrs) (*Item, error) {
	if err := m.enc.check(a); err != nil {
		return nil, fmt.Errorf("cold-start item: %w", err)
	}
	x := make([]float32, m.itemWidth())
	m.pool(a, x)
	it := &Item{pre: make([]float32, m.cfg.Hidden), vec: make([]float32, m.d)}
	simd.LinearRows(x, 1, len(x), m.cfg.Hidden, m.w1, m.b1, it.pre)
	simd.LinearRows(x, 1, len(x), m.d, m.wv, make([]float32, m.d), it.vec)
	return it, nil
}

// Logit returns the click logit of a user (embedding of length Dim) for a
// prepared item, on the look-alike model's logit scale (see the package
// documentation). It is NaN for an embedding of the wrong length or with a
// non-finite value.
func (m *Model) Logit(user []float32, it *Item) float32 {
	if len(user) != m.d || it == nil {
		return float32(math.NaN())
	}
	for _, v := range user {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return float32(math.NaN())
		}
	}
	h := m.cfg.Hidden
	z := make([]float32, h)
	simd.LinearRows(user, 1, m.d, h, m.w1[m.itemWidth()*h:], it.pre, z)
	simd.TanhInPlace(z)
	return simd.Dot(z, m.w2) + simd.Dot(user, it.vec) + m.b2
}

// Logits writes the logits of the n users of users (n×Dim row-major) for a
// prepared item to out (length n), as Logit does one at a time.
func (m *Model) Logits(users []float32, it *Item, out []float32) error {
	if it == nil {
		return fmt.Errorf("cold-start logits: nil item")
	}
	if m.d == 0 || len(users)%m.d != 0 || len(users)/m.d != len(out) {
		return fmt.Errorf("cold-start logits: %d values for %d users of width %d", len(users), len(out), m.d)
	}
	n, h := len(out), m.cfg.Hidden
	z := make([]float32, n*h)
	bias := it.pre
	simd.LinearRows(users, n, m.d, h, m.w1[m.itemWidth()*h:], bias, z)
	simd.TanhInPlace(z)
	for i := range out {
		out[i] = simd.Dot(z[i*h:(i+1)*h], m.w2) + simd.Dot(users[i*m.d:(i+1)*m.d], it.vec) + m.b2
	}
	return nil
}

// LookAlikeItem returns a prepared item as a look-alike item with status
// features (lookalike.Model.NewFeatureItem): scored by this model's Logit
// mapped onto la's score scale, so that it ranks with la's warm and cold
// items by the same estimated click log-odds (see the package
// documentation). seeds (user rows in canonical order, nil for none) are
// left out of its audience. It is the one binding of the two models that
// the serving engine and offline scoring share; la must have been trained
// with this model's Negatives.
func (m *Model) LookAlikeItem(la *lookalike.Model, it *Item, seeds []int32) *lookalike.Item {
	return la.NewFeatureItem(func(user []float32) float32 { return m.Logit(user, it) }, seeds)
}
