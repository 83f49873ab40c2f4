package lookalike

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// testModel returns a small model with random (non-default) weights.
func testModel(t testing.TB, pooling Pooling, d, h, k int, seed uint64) *Model {
	t.Helper()
	prop := PropensityOff
	if strings.HasSuffix(string(pooling), "+prop") {
		prop = PropensityUser
		pooling = Pooling(strings.TrimSuffix(string(pooling), "+prop"))
	}
	prior := strings.HasSuffix(string(pooling), "+prior")
	pooling = Pooling(strings.TrimSuffix(string(pooling), "+prior"))
	cfg := Config{Hidden: h, K: k, Pooling: pooling, NoSizePrior: !prior, Propensity: prop, PropensityHidden: 5}.withDefaults(d)
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	m := newModel(cfg, d)
	rng := newRNG(seed, 99)
	m.initWeights(rng)
	for i := range m.b {
		m.b[i] = float32(rng.NormFloat64() * 0.3)
		m.alpha[i] = float32(0.1 + 0.3*rng.Float64())
	}
	for i := range m.vp {
		m.vp[i] = float32(rng.NormFloat64() * 0.5)
		m.bp[i] = float32(rng.NormFloat64() * 0.3)
	}
	m.a, m.c = 3.1, -0.4
	return m
}

// fillStepInputs fills a step graph's inputs with random values and a
// hand-made cluster layout: row 0 uses every seed slot and every cluster,
// row 1 has 2 seeds (the rest padding) so one cluster slot is empty, and
// further rows have one empty cluster in the middle and two padded seeds.
func fillStepInputs(sg *stepGraph, seed uint64, dropP float64, sizePrior bool) {
	dm := sg.dims
	rng := newRNG(seed, 7)
	set := func(dst any, i int, v float64) {
		switch d := dst.(type) {
		case []float32:
			d[i] = float32(v)
		case []float64:
			d[i] = v
		}
	}
	get := func(name string) any {
		for n, t := range sg.in {
			if n.Name() == name {
				return t.Data()
			}
		}
		return nil
	}
	xs, xt := get("seeds"), get("targets")
	for i := 0; i < dm.B*dm.S*dm.D; i++ {
		set(xs, i, rng.NormFloat64())
	}
	for i := 0; i < dm.B*dm.T*dm.D; i++ {
		set(xt, i, rng.NormFloat64())
	}
	amat := get("assign")
	for i := 0; i < dm.B*dm.K*dm.S; i++ {
		set(amat, i, 0)
	}
	mask, avgw := get("mask"), get("avgw")
	for b := 0; b < dm.B; b++ {
		assign := make([]int, dm.S) // -1 = padding
		for s := range assign {
			switch b {
			case 0:
				assign[s] = s % dm.K
			case 1:
				assign[s] = -1
				if s < 2 {
					assign[s] = s
				}
			default:
				assign[s] = -1
				if s < dm.S-2 {
					assign[s] = (s % (dm.K - 1))
					if assign[s] >= dm.K/2 {
						assign[s]++
					}
				}
			}
		}
		cnt := make([]int, dm.K)
		for _, a := range assign {
			if a >= 0 {
				cnt[a]++
			}
		}
		for s, a := range assign {
			if a >= 0 {
				set(amat, (b*dm.K+a)*dm.S+s, 1/float64(cnt[a]))
			}
		}
		m32, a32 := make([]float32, dm.B*dm.K), make([]float32, dm.B*dm.K)
		slotInputs(cnt, sizePrior, m32, a32, b)
		for c := 0; c < dm.K; c++ {
			if mask != nil {
				set(mask, b*dm.K+c, float64(m32[b*dm.K+c]))
			}
			if avgw != nil {
				set(avgw, b*dm.K+c, float64(a32[b*dm.K+c]))
			}
		}
	}
	y, wt := get("labels"), get("weights")
	for i := 0; i < dm.B*dm.T; i++ {
		set(y, i, float64(i%3%2))
		set(wt, i, (0.5+rng.Float64())/float64(dm.B*dm.T))
	}
	if sg.dropout {
		for _, name := range []string{"dropS", "dropT"} {
			dd := get(name)
			n := dm.B * dm.S * dm.H
			if name == "dropT" {
				n = dm.B * dm.T * dm.H
			}
			for i := 0; i < n; i++ {
				v := 0.0
				if rng.Float64() >= dropP {
					v = 1 / (1 - dropP)
				}
				set(dd, i, v)
			}
		}
	}
}

// float64Params copies the tensor parameters of m to float64 slices.
func float64Params(m *Model) []any {
	var out []any
	for _, p := range m.params() {
		if p.shape == nil {
			continue
		}
		src := m.slice(p.name)
		dst := make([]float64, len(src))
		for i, v := range src {
			dst[i] = float64(v)
		}
		out = append(out, dst)
	}
	return out
}

func TestGradientCheck(t *testing.T) {
	cases := []struct {
		pooling Pooling
		dropout bool
	}{
		{PoolingAttention, false},
		{PoolingAttention, true},
		{PoolingAvg, false},
		{PoolingAvg, true},
		{"attention+prior", false},
		{"avg+prior", true},
		{"attention+prior+prop", true},
		{"avg+prop", false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/dropout=%v", tc.pooling, tc.dropout), func(t *testing.T) {
			m := testModel(t, tc.pooling, 4, 3, 3, 11)
			dm := graphDims{B: 3, S: 5, K: 3, T: 4, D: 4, H: 3}
			pd := float64Params(m)
			sg, err := buildStepGraph(m, tensor.Float64, dm, tc.dropout, pd, true)
			if err != nil {
				t.Fatal(err)
			}
			defer sg.close()
			fillStepInputs(sg, 5, 0.3, !m.cfg.NoSizePrior)
			if err := sg.run(); err != nil {
				t.Fatal(err)
			}
			var analytic [][]float64
			for i := range sg.params {
				g, err := sg.grad(i)
				if err != nil {
					t.Fatal(err)
				}
				analytic = append(analytic, append([]float64(nil), g.([]float64)...))
			}
			const eps = 1e-6
			lossAt := func() float64 {
				if err := sg.run(); err != nil {
					t.Fatal(err)
				}
				return sg.lossValue()
			}
			pi := 0
			worst := 0.0
			for i, p := range m.params() {
				n := sg.params[i]
				perturb := func(j int, delta float64) {
					if p.shape == nil {
						v := n.Value().Data().(float64)
						if err := setScalar(n, v+delta); err != nil {
							t.Fatal(err)
						}
						return
					}
					pd[pi].([]float64)[j] += delta
				}
				size := len(analytic[i])
				for j := 0; j < size; j++ {
					perturb(j, eps)
					lp := lossAt()
					perturb(j, -2*eps)
					lm := lossAt()
					perturb(j, eps)
					num := (lp - lm) / (2 * eps)
					ana := analytic[i][j]
					rel := math.Abs(num-ana) / math.Max(1e-6, math.Max(math.Abs(num), math.Abs(ana)))
					worst = math.Max(worst, rel)
					if rel > 1e-4 {
						t.Errorf("%s[%d]: analytic %.8g numeric %.8g (rel err %.2g)", p.name, j, ana, num, rel)
					}
				}
				if p.shape != nil {
					pi++
				}
			}
			t.Logf("max relative error %.2g", worst)
		})
	}
}

// TestFloat32GradsMatchFloat64 runs the same step in the float32 graph used
// for training (whose custom ops take the AVX2 kernels on amd64) and in the
// gradient-checked float64 graph, and compares loss and gradients.
func TestFloat32GradsMatchFloat64(t *testing.T) {
	for _, pooling := range []Pooling{"attention+prior", PoolingAvg, "attention+prior+prop"} {
		t.Run(string(pooling), func(t *testing.T) {
			m := testModel(t, pooling, 16, 16, 4, 5) // widths with a SIMD path
			dm := graphDims{B: 3, S: 6, K: 4, T: 5, D: 16, H: 16}
			g64, err := buildStepGraph(m, tensor.Float64, dm, true, float64Params(m), true)
			if err != nil {
				t.Fatal(err)
			}
			defer g64.close()
			g32, err := buildStepGraph(m, tensor.Float32, dm, true, m.tensorData(), true)
			if err != nil {
				t.Fatal(err)
			}
			defer g32.close()
			fillStepInputs(g64, 3, 0.25, !m.cfg.NoSizePrior)
			fillStepInputs(g32, 3, 0.25, !m.cfg.NoSizePrior)
			if err := g64.run(); err != nil {
				t.Fatal(err)
			}
			if err := g32.run(); err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(g64.lossValue() - g32.lossValue()); d > 1e-5 {
				t.Fatalf("loss %v (float64) vs %v (float32)", g64.lossValue(), g32.lossValue())
			}
			for i, p := range m.params() {
				a, err := g64.grad(i)
				if err != nil {
					t.Fatal(err)
				}
				b, err := g32.grad(i)
				if err != nil {
					t.Fatal(err)
				}
				ga, gb := a.([]float64), b.([]float32)
				var scale float64
				for _, v := range ga {
					scale = math.Max(scale, math.Abs(v))
				}
				for j := range ga {
					if d := math.Abs(ga[j] - float64(gb[j])); d > 1e-4*math.Max(scale, 1e-3) {
						t.Fatalf("%s[%d]: float64 %v, float32 %v", p.name, j, ga[j], gb[j])
					}
				}
			}
		})
	}
}
