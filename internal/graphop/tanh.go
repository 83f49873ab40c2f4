package graphop

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/simd"
)

// tanhOp is an elementwise tanh on the internal/simd kernel (the float32
// rational approximation, math.Tanh in float64), with the gradient
// g·(1 − y²) computed from its output.
type tanhOp struct {
	OpBase
	shape tensor.Shape
	buf   *OutBuf
}

// Tanh applies the elementwise tanh to x (any shape).
func Tanh(x *G.Node) (*G.Node, error) {
	s := x.Shape().Clone()
	return G.ApplyOp(tanhOp{OpBase{Name: fmt.Sprintf("Tanh%v", s)}, s, &OutBuf{}}, x)
}

func (op tanhOp) Arity() int    { return 1 }
func (op tanhOp) Type() hm.Type { return FnType(op.shape.Dims(), op.shape.Dims()) }
func (op tanhOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op tanhOp) DiffWRT(int) []bool { return []bool{true} }

func (op tanhOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.shape...) // fully overwritten
	switch x := v[0].Data().(type) {
	case []float32:
		y := out.Data().([]float32)
		copy(y, x)
		simd.TanhInPlace(y)
	case []float64:
		y := out.Data().([]float64)
		copy(y, x)
		simd.TanhInPlace(y)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, x)
	}
	return out, nil
}

func (op tanhOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(tanhGrad{OpBase{Name: "Grad" + op.Name}, op.shape, &OutBuf{}}, out, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// tanhGrad computes g·(1 − y²) from the output y of tanhOp and the
// incoming gradient g.
type tanhGrad struct {
	OpBase
	shape tensor.Shape
	buf   *OutBuf
}

func (op tanhGrad) Arity() int { return 2 }
func (op tanhGrad) Type() hm.Type {
	return FnType(op.shape.Dims(), op.shape.Dims(), op.shape.Dims())
}
func (op tanhGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op tanhGrad) DiffWRT(int) []bool { return []bool{false, false} }
func (op tanhGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.Name)
}

func (op tanhGrad) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.shape...) // fully overwritten
	switch y := v[0].Data().(type) {
	case []float32:
		tanhBwd(y, v[1].Data().([]float32), out.Data().([]float32))
	case []float64:
		tanhBwd(y, v[1].Data().([]float64), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, y)
	}
	return out, nil
}

func tanhBwd[T simd.Float](y, g, dx []T) {
	for i, yi := range y {
		dx[i] = g[i] * (1 - yi*yi)
	}
}
