package coldstart

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/graphop"
)

// stepGraph is the training graph of one step over N (item, user) rows: the
// pooled attribute vectors X (N, F·Dim) and the user embeddings U (N, d)
// are inputs; the loss is differentiated with respect to X (scattered into
// the embedding tables by the trainer) and the dense parameters. Every
// tensor is 2-D or less and no reshape is used (gorgonia pitfalls P1, P2).
type stepGraph struct {
	g   *G.ExprGraph
	n   int
	dt  tensor.Dtype
	x   *G.Node
	u   *G.Node
	y   *G.Node
	wt  *G.Node
	in  map[*G.Node]*tensor.Dense
	par []*G.Node // W1, b1, w2, b2, Wv

	logitV G.Value
	lossV  G.Value
	gradV  []G.Value // dX, then the parameters'
	tape   *graphop.Tape
}

// paramNames are the dense parameters in graph order.
var paramNames = []string{"W1", "b1", "w2", "b2", "Wv"}

// buildGraph builds the step graph for n rows in dtype dt, with the dense
// parameters bound to the given backing arrays (W1, b1, w2, Wv as []float32
// or []float64, b2 as a float32 or float64 scalar).
func buildGraph(dt tensor.Dtype, n, xw, d, h int, w1, b1, w2, b2, wv any) (sg *stepGraph, err error) {
	defer func() {
		if r := recover(); r != nil {
			sg, err = nil, fmt.Errorf("build cold-start graph: %v", r)
		}
	}()
	if n < 2 || xw < 1 || d < 1 || h < 2 {
		return nil, fmt.Errorf("build cold-start graph: shapes n=%d x=%d d=%d h=%d too small", n, xw, d, h)
	}
	g := G.NewGraph()
	sg = &stepGraph{g: g, n: n, dt: dt, in: make(map[*G.Node]*tensor.Dense)}
	must := G.Must
	input := func(name string, shape ...int) *G.Node {
		t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		nd := G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
		sg.in[nd] = t
		return nd
	}
	param := func(name string, backing any, shape ...int) *G.Node {
		t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))
		return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
	}
	sg.x = input("X", n, xw)
	sg.u = input("U", n, d)
	sg.y = input("y", n)
	sg.wt = input("wt", n)
	W1 := param("W1", w1, xw+d, h)
	bb1 := param("b1", b1, h)
	ww2 := param("w2", w2, h)
	B2 := G.NewScalar(g, dt, G.WithName("b2"), G.WithValue(b2))
	Wv := param("Wv", wv, xw, d)
	sg.par = []*G.Node{W1, bb1, ww2, B2, Wv}

	cat := must(graphop.ConcatCols(sg.x, sg.u))                   // (n, xw+d)
	hid := must(graphop.Tanh(must(graphop.Affine(cat, W1, bb1)))) // (n, h)
	iv := must(graphop.MatMul(sg.x, Wv))                          // (n, d): the item's vector in the user space
	dotUI := must(G.Sum(must(G.HadamardProd(iv, sg.u)), 1))       // (n)
	z := must(G.Add(must(G.Add(must(G.Mul(hid, ww2)), dotUI)), B2))
	per := must(G.Sub(must(G.Softplus(z)), must(G.HadamardProd(sg.y, z))))
	loss := must(G.Sum(must(G.HadamardProd(sg.wt, per))))

	outputs := G.Nodes{G.Read(z, &sg.logitV), G.Read(loss, &sg.lossV)}
	wrt := append(G.Nodes{sg.x}, sg.par...)
	if _, sg.gradV, outputs, err = graphop.ReadGrads(loss, wrt, outputs); err != nil {
		return nil, fmt.Errorf("build cold-start graph: %w", err)
	}
	if sg.tape, err = graphop.CompileTape(g, "cold-start graph", sg.par, sg.in, outputs); err != nil {
		return nil, fmt.Errorf("build cold-start graph: %w", err)
	}
	return sg, nil
}

// run executes the graph once and resets the machine.
func (sg *stepGraph) run() error {
	return sg.tape.Run()
}

func (sg *stepGraph) close() { sg.tape.Close() }

// data returns an input's backing array.
func (sg *stepGraph) data(nd *G.Node) any { return sg.in[nd].Data() }

// grad returns gradient i of the last run (0 is dX, then W1, b1, w2, b2, Wv) as
// a slice (one element for b2).
func (sg *stepGraph) grad(i int) (any, error) {
	if i >= len(sg.gradV) || sg.gradV[i] == nil {
		return nil, fmt.Errorf("no gradient %d", i)
	}
	if d, ok := graphop.Slice(sg.gradV[i]); ok {
		return d, nil
	}
	return nil, fmt.Errorf("gradient %d has type %T", i, sg.gradV[i])
}

// loss returns the loss of the last run.
func (sg *stepGraph) loss() float64 {
	return graphop.Float(sg.lossV)
}

// b2 returns the scalar parameter's current value.
func (sg *stepGraph) b2() float64 {
	switch p := sg.par[3].Value().(type) {
	case *G.F32:
		return float64(*p)
	case *G.F64:
		return float64(*p)
	}
	return 0
}

// setB2 overwrites the scalar parameter in place.
func (sg *stepGraph) setB2(v float64) {
	switch p := sg.par[3].Value().(type) {
	case *G.F32:
		*p = G.F32(v)
	case *G.F64:
		*p = G.F64(v)
	}
}
