package lookalike

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/graphop"
)

// graphDims are the fixed shapes of one training step: B item rows, S seed
// slots and K centroid slots per row, T targets per row, input width D and
// transform width H.
type graphDims struct{ B, S, K, T, D, H int }

// stepGraph is the training (or evaluation) graph of one step, with its
// input tensors. All tensors stay at three dimensions or fewer and every
// reshape copies (gorgonia pitfalls P1 and P2).
type stepGraph struct {
	g       *G.ExprGraph
	dt      tensor.Dtype
	dims    graphDims
	avg     bool
	dropout bool

	// input nodes and the tensors bound to them (filled in place each step)
	xs, xt, amat, mask, avgw, y, wt, dropS, dropT *G.Node
	in                                            map[*G.Node]*tensor.Dense

	params []*G.Node // in Model.params() order
	loss   *G.Node
	score  *G.Node   // (B·T) scores before the logit transform
	scoreV G.Value   // copy of the score, taken when it is computed
	lossV  G.Value   // copy of the loss
	grads  G.Nodes   // gradient nodes, parallel to params
	gradV  []G.Value // copies of the gradients, parallel to params
	tape   *graphop.Tape
}

// buildStepGraph builds the graph for one step of m's model in dtype dt
// (Float32 for training, Float64 for gradient checks). The parameters are
// bound to tensors whose backing arrays are given by paramData (one []float32
// or []float64 per tensor parameter, in Model.params() order; scalars are
// taken from scalars). If withGrad, the gradients of the loss with respect to
// every parameter are added and bound as dual values.
func buildStepGraph(m *Model, dt tensor.Dtype, dm graphDims, dropout bool, paramData []any, withGrad bool) (sg *stepGraph, err error) {
	defer func() {
		if r := recover(); r != nil {
			sg, err = nil, fmt.Errorf("build training graph: %v", r)
		}
	}()
	if dm.B < 2 || dm.S < 1 || dm.K < 1 || dm.T < 2 || dm.D < 2 || dm.H < 2 {
		return nil, fmt.Errorf("build training graph: shapes %+v too small (need B, T, D, H >= 2)", dm)
	}
	g := G.NewGraph()
	sg = &stepGraph{g: g, dt: dt, dims: dm, avg: m.cfg.Pooling == PoolingAvg, dropout: dropout,
		in: make(map[*G.Node]*tensor.Dense)}
	B, S, K, T, D, H := dm.B, dm.S, dm.K, dm.T, dm.D, dm.H
	must := G.Must
	cst := func(v float64) *G.Node {
		if dt == tensor.Float64 {
			return G.NewConstant(v)
		}
		return G.NewConstant(float32(v))
	}
	input := func(name string, shape ...int) *G.Node {
		t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		n := G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
		sg.in[n] = t
		return n
	}

	// parameters
	specs := m.params()
	pi := 0
	for _, p := range specs {
		var n *G.Node
		if p.shape == nil {
			var v any
			switch p.name {
			case "a":
				v = m.a
			case "c":
				v = m.c
			}
			if dt == tensor.Float64 {
				v = float64(v.(float32))
			}
			n = G.NewScalar(g, dt, G.WithName(p.name), G.WithValue(v))
		} else {
			t := tensor.New(tensor.WithShape(p.shape...), tensor.WithBacking(paramData[pi]))
			pi++
			n = G.NewTensor(g, dt, len(p.shape), G.WithShape(p.shape...), G.WithName(p.name), G.WithValue(t))
		}
		sg.params = append(sg.params, n)
	}
	pn := func(name string) *G.Node {
		for i, p := range specs {
			if p.name == name {
				return sg.params[i]
			}
		}
		panic("no parameter " + name)
	}
	W, b, alpha := pn("W"), pn("b"), pn("alpha")

	sg.xs = input("seeds", B*S, D)
	sg.xt = input("targets", B*T, D)
	sg.amat = input("assign", B, K, S)
	sg.y = input("labels", B*T)
	sg.wt = input("weights", B*T)
	if dropout {
		sg.dropS = input("dropS", B*S, H)
		sg.dropT = input("dropT", B*T, H)
	}

	// shared transform T(v) = PReLU(vW + b) (⊙ dropout mask), fused ops
	transform := func(x, drop *G.Node, out ...int) *G.Node {
		return must(prelu(must(graphop.Linear(x, W, b)), alpha, drop, out...))
	}
	// l2n normalises the rows of an (N,H) matrix: x / sqrt(|x|² + eps).
	l2n := func(x *G.Node) *G.Node {
		n := x.Shape()[0]
		ss := must(G.Sum(must(G.Square(x)), 1))
		nrm := must(G.Sqrt(must(G.Add(ss, cst(normEps)))))
		return must(G.BroadcastHadamardDiv(x, must(graphop.Reshape(nrm, n, 1)), nil, []byte{1}))
	}

	hs3 := transform(sg.xs, sg.dropS, B, S, H)  // (B,S,H)
	ht := transform(sg.xt, sg.dropT, B*T, H)    // (B·T,H)
	cents := must(clusterMeansOp(sg.amat, hs3)) // (B,K,H): per-cluster means of the sampled seeds
	nt := l2n(ht)                               // (B·T, H)
	nt3 := must(graphop.Reshape(nt, B, T, H))

	// cosine of every target of a row with one pooled vector per row (B,1,H)
	cosRow := func(pooled *G.Node) *G.Node {
		ng := must(graphop.Reshape(l2n(must(graphop.Reshape(pooled, B, H))), B, 1, H))
		c := must(G.Sum(must(G.BroadcastHadamardProd(nt3, ng, nil, []byte{1})), 2)) // (B,T)
		return must(graphop.Reshape(c, B*T))
	}

	var score *G.Node
	if sg.avg {
		sg.avgw = input("avgw", B, 1, K)
		pooled := must(G.BatchedMatMul(sg.avgw, cents)) // (B,1,H)
		score = cosRow(pooled)
	} else {
		Wg, vg, Wl := pn("Wg"), pn("vg"), pn("Wl")
		sg.mask = input("mask", B, K, 1)
		c2 := must(graphop.Reshape(cents, B*K, H))
		// global attention α = softmax_k(vgᵀ tanh(e Wg)), masked
		eg := must(G.Mul(must(graphop.Tanh(must(graphop.MatMul(c2, Wg)))), vg)) // (B·K)
		eg3 := must(G.Add(must(graphop.Reshape(eg, B, K, 1)), sg.mask))
		alphaAtt := must(graphop.SoftMax(eg3, 1))                     // (B,K,1)
		global := must(G.BatchedMatMul(alphaAtt, cents, true, false)) // (B,1,H)
		cosG := cosRow(global)
		// local attention β = softmax_k(tanh(e Wl uᵀ)), masked
		p3 := must(graphop.Reshape(must(graphop.MatMul(c2, Wl)), B, K, H))
		ht3 := must(graphop.Reshape(ht, B, T, H))
		sc := must(graphop.Tanh(must(G.BatchedMatMul(p3, ht3, false, true)))) // (B,K,T)
		sc = must(G.BroadcastAdd(sc, sg.mask, nil, []byte{2}))
		beta := must(graphop.SoftMax(sc, 1))                     // (B,K,T)
		local := must(G.BatchedMatMul(beta, cents, true, false)) // (B,T,H)
		nl := l2n(must(graphop.Reshape(local, B*T, H)))
		cosL := must(G.Sum(must(G.HadamardProd(nt, nl)), 1)) // (B·T)
		score = must(G.Add(
			must(G.Mul(cst(float64(m.cfg.GlobalWeight)), cosG)),
			must(G.Mul(cst(float64(m.cfg.LocalWeight)), cosL))))
	}
	if m.cfg.Propensity == PropensityUser {
		// p(u) = vpᵀ tanh(u Wp + bp) from the raw target embedding, no dropout
		hp := must(graphop.Tanh(must(graphop.Linear(sg.xt, pn("Wp"), pn("bp"))))) // (B·T,P)
		score = must(G.Add(score, must(G.Mul(hp, pn("vp")))))                     // (B·T)
	}
	sg.score = score
	outputs := G.Nodes{G.Read(score, &sg.scoreV)}

	z := must(G.Add(must(G.Mul(pn("a"), score)), pn("c")))
	per := must(G.Sub(must(G.Softplus(z)), must(G.HadamardProd(sg.y, z))))
	sg.loss = must(G.Sum(must(G.HadamardProd(sg.wt, per))))

	outputs = append(outputs, G.Read(sg.loss, &sg.lossV))
	if withGrad {
		sg.grads, sg.gradV, outputs, err = graphop.ReadGrads(sg.loss, sg.params, outputs)
		if err != nil {
			return nil, fmt.Errorf("build training graph: %w", err)
		}
	}
	sg.tape, err = graphop.CompileTape(g, "training graph", sg.params, sg.in, outputs)
	if err != nil {
		return nil, fmt.Errorf("build training graph: %w", err)
	}
	return sg, nil
}

// run executes the graph once (forward, and backward when built with
// gradients) and resets the machine for the next run.
func (sg *stepGraph) run() error {
	return sg.tape.Run()
}

// close releases the machine.
func (sg *stepGraph) close() { sg.tape.Close() }

// data returns the float32 backing array of an input tensor.
func (sg *stepGraph) f32(n *G.Node) []float32 { return sg.in[n].Data().([]float32) }

// f64 returns the float64 backing array of an input tensor.
func (sg *stepGraph) f64(n *G.Node) []float64 { return sg.in[n].Data().([]float64) }

// lossValue returns the loss of the last run.
func (sg *stepGraph) lossValue() float64 {
	if sg.lossV == nil {
		return math.NaN()
	}
	return graphop.Float(sg.lossV)
}

// setScalar overwrites the value of a scalar parameter node in place.
func setScalar(n *G.Node, v float64) error {
	switch p := n.Value().(type) {
	case *G.F32:
		*p = G.F32(v)
	case *G.F64:
		*p = G.F64(v)
	default:
		return fmt.Errorf("parameter %s holds %T, not a scalar", n.Name(), p)
	}
	return nil
}

// grad returns the gradient of parameter i from the last run: a float32 or
// float64 slice (one element for a scalar).
func (sg *stepGraph) grad(i int) (any, error) {
	if i >= len(sg.gradV) || sg.gradV[i] == nil {
		return nil, fmt.Errorf("no gradient for parameter %d", i)
	}
	if d, ok := graphop.Slice(sg.gradV[i]); ok {
		return d, nil
	}
	return nil, fmt.Errorf("gradient of %s has type %T", sg.params[i].Name(), sg.gradV[i])
}
