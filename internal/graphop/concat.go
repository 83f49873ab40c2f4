package graphop

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// concatCols joins matrices of one row count side by side: (n, p) and
// (n, q) give (n, p+q). gorgonia's Concat walks every element through its
// generic flat iterator; this op copies whole rows, and its gradient is the
// two column blocks of the incoming gradient (splitCols). Both only move
// values, so the results are gorgonia's to the bit.
type concatCols struct {
	OpBase
	Sig
	n, p, q int
	buf     *OutBuf
}

// ConcatCols joins a (n, p) and b (n, q) into (n, p+q), as
// gorgonia.Concat(1, a, b).
func ConcatCols(a, b *G.Node) (*G.Node, error) {
	sa, sb := a.Shape(), b.Shape()
	if sa.Dims() != 2 || sb.Dims() != 2 || sa[0] != sb[0] {
		return nil, fmt.Errorf("concat columns: shapes %v and %v are not matrices of one row count", sa, sb)
	}
	op := concatCols{
		OpBase{Name: fmt.Sprintf("ConcatCols%v%v", sa, sb)},
		Sig{In: []int{2, 2}, Out: 2, Diff: []bool{true, true}},
		sa[0], sa[1], sb[1], &OutBuf{},
	}
	return G.ApplyOp(op, a, b)
}

func (op concatCols) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.p + op.q}, nil
}

func (op concatCols) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.n, op.p+op.q) // fully overwritten
	switch a := v[0].Data().(type) {
	case []float32:
		joinCols(out.Data().([]float32), a, v[1].Data().([]float32), op.n, op.p, op.q)
	case []float64:
		joinCols(out.Data().([]float64), a, v[1].Data().([]float64), op.n, op.p, op.q)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, a)
	}
	return out, nil
}

func (op concatCols) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	w := op.p + op.q
	ga, err := G.ApplyOp(newSplitCols(op.n, w, 0, op.p), grad)
	if err != nil {
		return nil, err
	}
	gb, err := G.ApplyOp(newSplitCols(op.n, w, op.p, w), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{ga, gb}, nil
}

func joinCols[T float32 | float64](out, a, b []T, n, p, q int) {
	w := p + q
	for r := range n {
		copy(out[r*w:r*w+p], a[r*p:(r+1)*p])
		copy(out[r*w+p:(r+1)*w], b[r*q:(r+1)*q])
	}
}

// splitCols is columns [lo, hi) of an (n, w) matrix, a new (n, hi−lo)
// tensor: the gradient of concatCols.
type splitCols struct {
	OpBase
	Sig
	n, w, lo, hi int
	buf          *OutBuf
}

func newSplitCols(n, w, lo, hi int) splitCols {
	return splitCols{
		OpBase{Name: fmt.Sprintf("SplitCols(%d,%d)[%d:%d]", n, w, lo, hi)},
		Sig{In: []int{2}, Out: 2},
		n, w, lo, hi, &OutBuf{},
	}
}

func (op splitCols) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.hi - op.lo}, nil
}

func (op splitCols) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.Name)
}

func (op splitCols) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.n, op.hi-op.lo) // fully overwritten
	switch g := v[0].Data().(type) {
	case []float32:
		takeCols(out.Data().([]float32), g, op.n, op.w, op.lo, op.hi)
	case []float64:
		takeCols(out.Data().([]float64), g, op.n, op.w, op.lo, op.hi)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, g)
	}
	return out, nil
}

func takeCols[T float32 | float64](out, g []T, n, w, lo, hi int) {
	k := hi - lo
	for r := range n {
		copy(out[r*k:(r+1)*k], g[r*w+lo:r*w+hi])
	}
}
