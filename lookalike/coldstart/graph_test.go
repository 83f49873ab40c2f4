package coldstart

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/data"
)

// TestGradientCheck compares the float64 graph's analytic gradients (of the
// pooled attribute input X and of every dense parameter) with central
// differences, as lookalike and userrep do for theirs.
func TestGradientCheck(t *testing.T) {
	const n, xw, d, h = 5, 6, 3, 4
	rng := newRNG(3, 9)
	rnd := func(k int, s float64) []float64 {
		v := make([]float64, k)
		for i := range v {
			v[i] = rng.NormFloat64() * s
		}
		return v
	}
	w1, b1, w2, wv := rnd((xw+d)*h, 0.7), rnd(h, 0.3), rnd(h, 0.8), rnd(xw*d, 0.5)
	sg, err := buildGraph(tensor.Float64, n, xw, d, h, w1, b1, w2, -0.4, wv)
	if err != nil {
		t.Fatal(err)
	}
	defer sg.close()
	copy(sg.data(sg.x).([]float64), rnd(n*xw, 1))
	copy(sg.data(sg.u).([]float64), rnd(n*d, 1))
	y, wt := sg.data(sg.y).([]float64), sg.data(sg.wt).([]float64)
	for i := range y {
		y[i] = float64(i % 2)
		wt[i] = (0.5 + rng.Float64()) / n
	}
	if err := sg.run(); err != nil {
		t.Fatal(err)
	}
	type target struct {
		name string
		data []float64
	}
	b2 := []float64{-0.4}
	targets := []target{{"X", sg.data(sg.x).([]float64)}, {"W1", w1}, {"b1", b1}, {"w2", w2}, {"b2", b2}, {"Wv", wv}}
	var analytic [][]float64
	for i := range targets {
		g, err := sg.grad(i)
		if err != nil {
			t.Fatal(err)
		}
		analytic = append(analytic, append([]float64(nil), g.([]float64)...))
	}
	lossAt := func() float64 {
		sg.setB2(b2[0])
		if err := sg.run(); err != nil {
			t.Fatal(err)
		}
		return sg.loss()
	}
	const eps = 1e-6
	for ti, tg := range targets {
		worst := 0.0
		for j := range tg.data {
			orig := tg.data[j]
			tg.data[j] = orig + eps
			lp := lossAt()
			tg.data[j] = orig - eps
			lm := lossAt()
			tg.data[j] = orig
			num := (lp - lm) / (2 * eps)
			ana := analytic[ti][j]
			rel := math.Abs(num-ana) / math.Max(1e-6, math.Max(math.Abs(num), math.Abs(ana)))
			worst = math.Max(worst, rel)
		}
		if worst > 1e-4 {
			t.Errorf("%s: max relative gradient error %.3g > 1e-4", tg.name, worst)
		}
	}
}

// TestInferenceMatchesGraph checks that the plain-Go Logit/Logits of a model
// reproduce the float32 training graph's forward pass on the same weights.
func TestInferenceMatchesGraph(t *testing.T) {
	enc := &Encoder{Fields: []Field{
		{Name: "genres", Kind: data.ColumnMulti, Values: []string{"a", "b", "c", "d"}},
		{Name: "year", Kind: data.ColumnContinuous, Edges: []float64{1990, 2000}},
	}}
	if err := enc.init(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dim: 3, Hidden: 8, Negatives: 2}.withDefaults()
	const d = 5
	m := newModel(cfg, enc, d)
	m.initWeights(newRNG(5, 1))
	for i := range m.b1 {
		m.b1[i] = float32(i)*0.1 - 0.3
	}
	items := []Attrs{{{0, 2}, {1}}, {{3}, nil}, {nil, nil}}
	users := make([]float32, 4*d)
	rng := newRNG(5, 2)
	for i := range users {
		users[i] = float32(rng.NormFloat64())
	}
	N := len(items) * 4
	xw := m.itemWidth()
	sg, err := buildGraph(tensor.Float32, N, xw, d, cfg.Hidden, m.w1, m.b1, m.w2, m.b2, m.wv)
	if err != nil {
		t.Fatal(err)
	}
	defer sg.close()
	X, U := sg.data(sg.x).([]float32), sg.data(sg.u).([]float32)
	wt := sg.data(sg.wt).([]float32)
	for i, a := range items {
		for j := 0; j < 4; j++ {
			r := i*4 + j
			m.pool(a, X[r*xw:(r+1)*xw])
			copy(U[r*d:(r+1)*d], users[j*d:(j+1)*d])
			wt[r] = 1
		}
	}
	if err := sg.run(); err != nil {
		t.Fatal(err)
	}
	graph := sg.logitV.Data().([]float32)
	for i, a := range items {
		it, err := m.Item(a)
		if err != nil {
			t.Fatal(err)
		}
		batch := make([]float32, 4)
		if err := m.Logits(users, it, batch); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 4; j++ {
			one := m.Logit(users[j*d:(j+1)*d], it)
			g := graph[i*4+j]
			if math.Abs(float64(one-g)) > 1e-5 || math.Abs(float64(batch[j]-g)) > 1e-5 {
				t.Errorf("item %d user %d: Logit %v, Logits %v, graph %v", i, j, one, batch[j], g)
			}
		}
	}
	if v := m.Logit(users[:d-1], &Item{pre: make([]float32, cfg.Hidden), vec: make([]float32, d)}); !math.IsNaN(float64(v)) {
		t.Errorf("Logit of a short embedding = %v, want NaN", v)
	}
	if _, err := m.Item(Attrs{{9}, nil}); err == nil {
		t.Error("Item with a code out of range: no error")
	}
}
