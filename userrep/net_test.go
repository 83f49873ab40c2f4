package userrep

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/ralmlab/ralm/data"
)

// netVariant is one model shape covered by the gradient and parity tests.
type netVariant struct {
	name string
	edit func(*Config)
}

// netVariants lists every option of the tower at least once.
var netVariants = []netVariant{
	{"attention/tanh", func(c *Config) { c.Merge = MergeAttention; c.FieldFC = FieldFCTanh }},
	{"attention/none", func(c *Config) { c.Merge = MergeAttention }},
	{"attention/relu/heads2/temp", func(c *Config) {
		c.Merge = MergeAttention
		c.FieldFC = FieldFCReLU
		c.Heads = 2
		c.Temperature = 0.5
	}},
	{"attention/linear/norm/logq", func(c *Config) {
		c.Merge = MergeAttention
		c.FieldFC = FieldFCLinear
		c.FieldNorm = true
		c.LogQ = true
	}},
	{"attention/dropout", func(c *Config) { c.Merge = MergeAttention; c.FieldFC = FieldFCTanh; c.FieldDropout = 0.4 }},
	{"gated/tanh", func(c *Config) { c.Merge = MergeGated; c.FieldFC = FieldFCTanh }},
	{"gated/none/dropout/temp", func(c *Config) {
		c.Merge = MergeGated
		c.FieldDropout = 0.4
		c.Temperature = 2
	}},
	{"concat/none", func(c *Config) { c.Merge = MergeConcat; c.FieldFC = FieldFCNone }},
	{"concat/tanh/norm/dropout", func(c *Config) {
		c.Merge = MergeConcat
		c.FieldFC = FieldFCTanh
		c.FieldNorm = true
		c.FieldDropout = 0.3
	}},
	{"concat/relu/3layers", func(c *Config) { c.Merge = MergeConcat; c.FieldFC = FieldFCReLU; c.Hidden = []int{7, 6, 5} }},
}

// tinyConfig is a small shape for the gradient checks.
func tinyConfig(v netVariant) Config {
	c := DefaultConfig()
	c.Dim = 4
	c.AttDim = 3
	c.Hidden = []int{6, 5}
	c.Negatives = 3
	v.edit(&c)
	return c
}

// tinyFields has two bag fields and a continuous one.
var tinyFields = []data.Field{
	{Name: "items", Kind: data.FieldBag, Size: 7},
	{Name: "items.genre", Kind: data.FieldBag, Size: 3},
	{Name: "users.age", Kind: data.FieldContinuous},
}

// netInputs are random inputs of the tower for one batch.
type netInputs[T float] struct {
	x, tv, logQ, w, keep []T
}

// randomInputs draws inputs for layout l at batch size B (one padded row).
func randomInputs[T float](l *layout, B int, rng *rand.Rand) netInputs[T] {
	J := 1 + l.cfg.Negatives
	in := netInputs[T]{
		x:  make([]T, l.F*B*l.m),
		tv: make([]T, B*J*l.d),
		w:  make([]T, B),
	}
	for i := range in.x {
		in.x[i] = T(rng.NormFloat64())
	}
	for i := range in.tv {
		in.tv[i] = T(rng.NormFloat64())
	}
	for b := range in.w {
		if b != B-1 || B == 1 {
			in.w[b] = T(1 / float64(B-1))
		}
	}
	if l.cfg.LogQ {
		in.logQ = make([]T, B*J)
		for i := range in.logQ {
			in.logQ[i] = T(rng.NormFloat64())
		}
	}
	if l.cfg.FieldDropout > 0 {
		in.keep = make([]T, l.F*B)
		drawKeep(in.keep, l.F, B, l.cfg, rng)
	}
	return in
}

// loadGraph copies the inputs into the graph's bound buffers.
func (in netInputs[T]) loadGraph(gn *graphNet[T]) {
	copy(gn.x, in.x)
	copy(gn.tv, in.tv)
	copy(gn.logQ, in.logQ)
	J := 1 + gn.lay.cfg.Negatives
	clear(gn.y)
	for b, w := range in.w {
		gn.y[b*J] = w
	}
	if in.keep != nil {
		fillGraphKeep(gn.keep, in.keep, gn.lay)
	}
}

func newTinyParams[T float](t *testing.T, cfg Config, seed int64) *params[T] {
	t.Helper()
	l, err := newLayout(cfg, tinyFields, 9)
	if err != nil {
		t.Fatal(err)
	}
	p := newParams[T](l)
	p.init(rand.New(rand.NewSource(seed)))
	return p
}

// TestGraphGradCheck compares the gorgonia gradients of the whole tower and
// loss (w.r.t. every dense parameter and both gathered inputs) with central
// differences, in float64.
func TestGraphGradCheck(t *testing.T) {
	for _, v := range netVariants {
		t.Run(v.name, func(t *testing.T) {
			cfg := tinyConfig(v)
			p := newTinyParams[float64](t, cfg, 3)
			const B = 3
			gn, err := newGraphNet(p, B, true)
			if err != nil {
				t.Fatal(err)
			}
			defer gn.close()
			in := randomInputs[float64](p.lay, B, rand.New(rand.NewSource(4)))
			in.loadGraph(gn)
			dx := make([]float64, len(gn.x))
			dtv := make([]float64, len(gn.tv))
			dense := make([]float64, len(p.dense))
			if _, err := gn.run(dx, dtv, dense); err != nil {
				t.Fatal(err)
			}
			lossAt := func() float64 {
				l, err := gn.run(nil, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			// run without gradient copy: build a forward-only view by reusing the vm
			gradsSaved := gn.grads
			gn.grads = nil
			defer func() { gn.grads = gradsSaved }()
			check := func(name string, vals, analytic []float64) {
				t.Helper()
				worst := 0.0
				for i := range vals {
					orig := vals[i]
					const eps = 1e-6
					vals[i] = orig + eps
					lp := lossAt()
					vals[i] = orig - eps
					lm := lossAt()
					vals[i] = orig
					num := (lp - lm) / (2 * eps)
					if r := relErr(analytic[i], num); r > worst {
						worst = r
					}
					if r := relErr(analytic[i], num); r > 1e-4 {
						t.Errorf("%s[%d]: analytic %.10g numeric %.10g (rel %.3g)", name, i, analytic[i], num, r)
						return
					}
				}
				t.Logf("%s: max rel err %.3g", name, worst)
			}
			check("X", gn.x, dx)
			check("Tv", gn.tv, dtv)
			for _, s := range gn.pspans {
				check(s.name, p.get(s), dense[s.off:s.off+s.n()])
			}
		})
	}
}

// relErr is |a-b| relative to the larger magnitude (floored at 1e-5: central differences carry ~1e-10 of round-off).
func relErr(a, b float64) float64 {
	den := math.Max(math.Max(math.Abs(a), math.Abs(b)), 1e-5)
	return math.Abs(a-b) / den
}

// TestInferenceMatchesGraph checks that the plain-Go inference pass (net.go)
// equals the forward pass of the training graph: float64 embeddings to
// 1e-10, float32 to 1e-5.
func TestInferenceMatchesGraph(t *testing.T) {
	for _, v := range netVariants {
		t.Run(v.name, func(t *testing.T) {
			cfg := tinyConfig(v)
			compareForward[float64](t, cfg, 5, 11, 1e-10)
			compareForward[float32](t, cfg, 5, 13, 1e-5)
		})
	}
}

func compareForward[T float](t *testing.T, cfg Config, B int, seed int64, tol float64) {
	t.Helper()
	cfg.FieldDropout = 0 // inference has no field dropout
	p := newTinyParams[T](t, cfg, seed)
	in := randomInputs[T](p.lay, B, rand.New(rand.NewSource(seed+1)))
	gn, err := newGraphNet(p, B, false)
	if err != nil {
		t.Fatal(err)
	}
	defer gn.close()
	in.loadGraph(gn)
	if _, err := gn.run(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	emb := newNet[T](p.lay, B).forward(p, in.x, nil)
	expectClose(t, fmt.Sprintf("%T embedding", emb), emb, gn.embeddings(), tol)
}

func expectClose[T float](t *testing.T, name string, got, want []T, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	worst, at := 0.0, -1
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: max abs diff %.3g at %d (got %v want %v)", name, worst, at, got[at], want[at])
	}
}
