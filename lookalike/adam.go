package lookalike

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// adam is the Adam optimiser (PyTorch's formulation) applied in place to the
// graph's parameters, from the copies of the gradients the graph takes in
// every run. A hand-written optimiser keeps the updates allocation-free and
// deterministic.
type adam struct {
	lr, b1, b2, eps float64
	t               int
	sg              *stepGraph
	m1, m2          [][]float32
}

func newAdam(lr float64, sg *stepGraph) *adam {
	a := &adam{lr: lr, b1: 0.9, b2: 0.999, eps: 1e-8, sg: sg}
	for _, n := range sg.params {
		size := n.Shape().TotalSize()
		if n.IsScalar() {
			size = 1
		}
		a.m1 = append(a.m1, make([]float32, size))
		a.m2 = append(a.m2, make([]float32, size))
	}
	return a
}

// step applies one update from the accumulated gradients and clears them.
func (a *adam) step() error {
	a.t++
	bc1 := 1 - math.Pow(a.b1, float64(a.t))
	bc2 := 1 - math.Pow(a.b2, float64(a.t))
	stepSize := a.lr / bc1
	b1, b2 := float32(a.b1), float32(a.b2)
	for i, n := range a.sg.params {
		gv, err := a.sg.grad(i)
		if err != nil {
			return err
		}
		g, ok := gv.([]float32)
		if !ok {
			return fmt.Errorf("adam: gradient of %s is %T, want []float32", n.Name(), gv)
		}
		var w []float32
		var scalar *G.F32
		if n.IsScalar() {
			p, ok := n.Value().(*G.F32)
			if !ok {
				return fmt.Errorf("adam: parameter %s holds %T", n.Name(), n.Value())
			}
			scalar = p
			w = []float32{float32(*p)}
		} else {
			w = n.Value().Data().([]float32)
		}
		m1, m2 := a.m1[i], a.m2[i]
		for j, gj := range g {
			m1[j] = b1*m1[j] + (1-b1)*gj
			m2[j] = b2*m2[j] + (1-b2)*gj*gj
			den := math.Sqrt(float64(m2[j])/bc2) + a.eps
			w[j] -= float32(stepSize * float64(m1[j]) / den)
		}
		if scalar != nil {
			*scalar = G.F32(w[0])
		}
	}
	return nil
}

// sync copies the scalar parameters from the graph into m (the tensor
// parameters share their storage with m).
func (a *adam) sync(m *Model) {
	for _, n := range a.sg.params {
		p, ok := n.Value().(*G.F32)
		if !ok {
			continue
		}
		switch n.Name() {
		case "a":
			m.a = float32(*p)
		case "c":
			m.c = float32(*p)
		}
	}
}
