package lookalike

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	adamopt "github.com/ralmlab/ralm/internal/adam"
)

// adam applies internal/adam's Adam in place to the graph's parameters,
// from the copies of the gradients the graph takes in every run.
type adam struct {
	opt    *adamopt.Adam[float32]
	sg     *stepGraph
	m1, m2 [][]float32
}

func newAdam(lr float64, sg *stepGraph) (*adam, error) {
	opt, err := adamopt.New[float32](lr)
	if err != nil {
		return nil, err
	}
	a := &adam{opt: opt, sg: sg}
	for _, n := range sg.params {
		size := n.Shape().TotalSize()
		if n.IsScalar() {
			size = 1
		}
		a.m1 = append(a.m1, make([]float32, size))
		a.m2 = append(a.m2, make([]float32, size))
	}
	return a, nil
}

// step applies one update from the accumulated gradients and clears them.
func (a *adam) step() error {
	a.opt.Begin()
	for i, n := range a.sg.params {
		gv, err := a.sg.grad(i)
		if err != nil {
			return err
		}
		g, ok := gv.([]float32)
		if !ok {
			return fmt.Errorf("adam: gradient of %s is %T, want []float32", n.Name(), gv)
		}
		if n.IsScalar() {
			p, ok := n.Value().(*G.F32)
			if !ok {
				return fmt.Errorf("adam: parameter %s holds %T", n.Name(), n.Value())
			}
			w := []float32{float32(*p)}
			a.opt.Update(w, g, a.m1[i], a.m2[i])
			*p = G.F32(w[0])
			continue
		}
		a.opt.Update(n.Value().Data().([]float32), g, a.m1[i], a.m2[i])
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
