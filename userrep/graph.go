package userrep

// The gorgonia definition of the user tower and its sampled-softmax loss.
// Embedding tables stay outside the graph (external embedding route): the
// pooled field vectors X (F,B,m) and the gathered target item vectors
// Tv (B,1+K,d) are graph inputs whose gradients are scattered in Go.
//
// Design constraints from gorgonia v0.9.18 (see shared notes): every reshape
// is a copying op (G.Reshape aliases), every tensor is at most 3-D, softmax
// runs over a non-last axis, dropout is a hand-fed mask.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/graphop"
)

// graphNet is the gorgonia graph of the tower plus loss at batch size B, with
// its dense parameters bound to the backing slices of a params value and its
// inputs bound to Go slices that the caller fills before each run.
type graphNet[T float] struct {
	lay  *layout
	B    int
	g    *G.ExprGraph
	tape *graphop.Tape

	// input buffers (bound to the input nodes)
	x, tv, logQ, y, keep []T

	pspans []span // the dense parameters in the graph, in grad order
	loss   *G.Node
	grads  G.Nodes // dX, dTv, then one per pspans entry
	emb    G.Value // user embeddings, read during the run
}

// dtypeOf returns the tensor dtype of T.
func dtypeOf[T float]() tensor.Dtype {
	var z T
	if _, ok := any(z).(float32); ok {
		return tensor.Float32
	}
	return tensor.Float64
}

// newGraphNet builds the graph for params p at batch size B. If withGrad is
// false it only computes the forward pass (embeddings and loss).
func newGraphNet[T float](p *params[T], B int, withGrad bool) (gn *graphNet[T], err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("userrep: build graph: %v", r)
		}
	}()
	l := p.lay
	dt := dtypeOf[T]()
	F, m, d, J := l.F, l.m, l.d, 1+l.cfg.Negatives
	g := G.NewGraph()
	gn = &graphNet[T]{lay: l, B: B, g: g}
	must := G.Must

	input := func(name string, buf *[]T, shape ...int) *G.Node {
		n := 1
		for _, s := range shape {
			n *= s
		}
		*buf = make([]T, n)
		t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(*buf))
		node := G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name))
		if err := G.Let(node, t); err != nil {
			panic(err)
		}
		return node
	}
	var params G.Nodes
	param := func(s span, shape ...int) *G.Node {
		if len(shape) == 0 {
			shape = s.shape
		}
		t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(p.get(s)))
		node := G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(s.name), G.WithValue(t))
		gn.pspans = append(gn.pspans, s)
		params = append(params, node)
		return node
	}
	constant := func(v float64) *G.Node { return G.NewConstant(T(v)) }

	x := input("X", &gn.x, F, B, m)
	tv := input("Tv", &gn.tv, B, J, d)
	y := input("Y", &gn.y, B, J, 1)
	var logQ, keep *G.Node
	if l.cfg.LogQ {
		logQ = input("logQ", &gn.logQ, B, J, 1)
	}
	if l.cfg.FieldDropout > 0 {
		if l.cfg.Merge == MergeAttention {
			keep = input("keep", &gn.keep, F, B, l.heads) // additive: 0 or a large negative
		} else {
			keep = input("keep", &gn.keep, F, B, 1) // multiplicative scale
		}
	}

	// per-field dense layer: (F,B,m) x (F,m,m) + (F,1,m)
	h := x
	if l.ffcW.valid() {
		W := param(l.ffcW)
		b := param(l.ffcB, F, 1, m)
		h = must(fieldLinear(h, W, b))
		switch l.cfg.FieldFC {
		case FieldFCTanh:
			h = must(graphop.Tanh(h))
		case FieldFCReLU:
			h = must(G.Rectify(h))
		}
	}
	if l.cfg.FieldNorm {
		n := must(G.Sqrt(must(G.Add(must(G.Sum(must(G.Square(h)), 2)), constant(normEps)))))
		h = must(G.BroadcastHadamardDiv(h, must(graphop.Reshape(n, F, B, 1)), nil, []byte{2}))
	}

	// merge
	var mv *G.Node
	if l.attW1.valid() {
		W1, b1, w2 := param(l.attW1), param(l.attB1), param(l.attW2)
		u := must(graphop.Tanh(must(graphop.Affine(must(graphop.Reshape(h, F*B, m)), W1, b1))))
		s := must(G.Mul(must(graphop.MatMul(u, w2)), constant(1/l.cfg.Temperature)))
		s3 := must(graphop.Reshape(s, F, B, l.heads))
		if keep != nil {
			s3 = must(G.Add(s3, keep))
		}
		a := must(graphop.SoftMax(s3, 0)) // over fields
		if l.gated {
			// (F,B,1)·(F,B,m)·F → (B,F,m) → (B,F·m)
			mv = must(fieldRows(h, must(G.Mul(a, constant(float64(F))))))
		} else {
			mv = must(attnPool(a, h)) // (B,H·m)
		}
	} else {
		mv = must(fieldRows(h, keep)) // keep: the dropout scale, or nil
	}

	// MLP
	z := mv
	for i := range l.hid {
		z = must(graphop.Affine(z, param(l.mlpW[i]), param(l.mlpB[i])))
		if i < len(l.hid)-1 {
			z = must(G.Rectify(z))
		}
	}
	G.Read(z, &gn.emb)

	// sampled softmax over the positive and the negatives (fused, ops.go)
	gn.loss = must(sampledSoftmax(tv, z, y, logQ))

	if withGrad {
		gn.grads, err = G.Grad(gn.loss, append(G.Nodes{x, tv}, params...)...)
		if err != nil {
			return nil, fmt.Errorf("userrep: graph gradients: %w", err)
		}
	}
	if gn.tape, err = graphop.NewTape(G.NewTapeMachine(g), "user model graph"); err != nil {
		return nil, fmt.Errorf("userrep: %w", err)
	}
	return gn, nil
}

// run executes the graph once on the current input buffers and returns the
// loss. With gradients, it copies dL/dX into dx, dL/dTv into dtv and the
// dense gradients into their spans of dense.
func (gn *graphNet[T]) run(dx, dtv, dense []T) (T, error) {
	if err := gn.tape.Run(); err != nil {
		return 0, fmt.Errorf("userrep: %w", err)
	}
	loss, ok := gn.loss.Value().Data().(T)
	if !ok {
		return 0, fmt.Errorf("userrep: loss has type %T", gn.loss.Value().Data())
	}
	if gn.grads == nil {
		return loss, nil
	}
	read := func(n *G.Node, dst []T) error {
		v, ok := n.Value().Data().([]T)
		if !ok || len(v) != len(dst) {
			return fmt.Errorf("userrep: gradient %s has %d values, want %d", n.Name(), len(v), len(dst))
		}
		copy(dst, v)
		return nil
	}
	if err := read(gn.grads[0], dx); err != nil {
		return 0, err
	}
	if err := read(gn.grads[1], dtv); err != nil {
		return 0, err
	}
	for i, s := range gn.pspans {
		if err := read(gn.grads[2+i], dense[s.off:s.off+s.n()]); err != nil {
			return 0, err
		}
	}
	return loss, nil
}

// embeddings returns the user embeddings of the last run (B·d).
func (gn *graphNet[T]) embeddings() []T {
	if gn.emb == nil {
		return nil
	}
	v, _ := gn.emb.Data().([]T)
	return v
}

// close releases the machine.
func (gn *graphNet[T]) close() { gn.tape.Close() }
