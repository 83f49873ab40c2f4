package lookalike

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	adamopt "github.com/ralmlab/ralm/internal/adam"
	"github.com/ralmlab/ralm/internal/simd"
)

// adam applies internal/adam's Adam in place to the parameters of worker
// 0's graph, from the sum (in worker order) of the copies of the gradients
// every worker's graph takes in each run; replicate copies the weights to
// the other workers' graphs.
type adam struct {
	opt    *adamopt.Adam[float32]
	sgs    []*stepGraph
	m1, m2 [][]float32
	acc    [][]float32 // summed gradients (more than one worker)
}

func newAdam(lr float64, sgs []*stepGraph) (*adam, error) {
	opt, err := adamopt.New[float32](lr)
	if err != nil {
		return nil, err
	}
	a := &adam{opt: opt, sgs: sgs}
	for _, n := range sgs[0].params {
		size := n.Shape().TotalSize()
		if n.IsScalar() {
			size = 1
		}
		a.m1 = append(a.m1, make([]float32, size))
		a.m2 = append(a.m2, make([]float32, size))
		if len(sgs) > 1 {
			a.acc = append(a.acc, make([]float32, size))
		}
	}
	return a, nil
}

// gradF32 returns worker w's gradient of parameter i.
func (a *adam) gradF32(w, i int) ([]float32, error) {
	sg := a.sgs[w]
	gv, err := sg.grad(i)
	if err != nil {
		return nil, err
	}
	g, ok := gv.([]float32)
	if !ok {
		return nil, fmt.Errorf("adam: gradient of %s is %T, want []float32", sg.params[i].Name(), gv)
	}
	return g, nil
}

// step applies one update from the accumulated gradients and clears them.
func (a *adam) step() error {
	a.opt.Begin()
	for i, n := range a.sgs[0].params {
		g, err := a.gradF32(0, i)
		if err != nil {
			return err
		}
		if len(a.sgs) > 1 {
			acc := a.acc[i]
			copy(acc, g)
			for w := 1; w < len(a.sgs); w++ {
				gw, err := a.gradF32(w, i)
				if err != nil {
					return err
				}
				simd.Axpy(1, gw, acc)
			}
			g = acc
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

// replicate copies worker 0's weights into the other workers' graphs.
func (a *adam) replicate() error {
	for _, sg := range a.sgs[1:] {
		for i, n := range a.sgs[0].params {
			dst := sg.params[i]
			if n.IsScalar() {
				p, ok := n.Value().(*G.F32)
				if !ok {
					return fmt.Errorf("adam: parameter %s holds %T", n.Name(), n.Value())
				}
				if err := setScalar(dst, float64(*p)); err != nil {
					return err
				}
				continue
			}
			copy(dst.Value().Data().([]float32), n.Value().Data().([]float32))
		}
	}
	return nil
}

// sync copies the scalar parameters from worker 0's graph into m (the
// tensor parameters share their storage with m).
func (a *adam) sync(m *Model) {
	for _, n := range a.sgs[0].params {
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
