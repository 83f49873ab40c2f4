package graphop

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"github.com/chewxy/math32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/simd"
)

// softmaxOp is a softmax over one axis of a tensor, computed on the calling
// goroutine. gorgonia's SoftMax starts one goroutine for every vector it
// normalises (every position of the other axes), forward and backward:
// thousands per training step, which cost more than the arithmetic and keep
// data-parallel workers from using their cores. The arithmetic is
// gorgonia's (tensor v0.9.24, softMaxInnerDim and softMaxBInnerDim), so the
// results are the same bits: subtract the vector's maximum, exponentiate
// (math32.Exp in float32, math.Exp in float64), multiply by the reciprocal
// of the sum; the gradient is y·(g − Σ g·y).
type softmaxOp struct {
	OpBase
	shape tensor.Shape
	axis  int
	buf   *OutBuf
}

// SoftMax normalises x (any shape) with a softmax over axis.
func SoftMax(x *G.Node, axis int) (*G.Node, error) {
	s := x.Shape().Clone()
	if axis < 0 || axis >= s.Dims() {
		return nil, fmt.Errorf("SoftMax: axis %d of a %d-dimensional tensor", axis, s.Dims())
	}
	return G.ApplyOp(softmaxOp{OpBase{Name: fmt.Sprintf("SoftMax%v/%d", s, axis)}, s, axis, &OutBuf{}}, x)
}

func (op softmaxOp) Arity() int    { return 1 }
func (op softmaxOp) Type() hm.Type { return FnType(op.shape.Dims(), op.shape.Dims()) }
func (op softmaxOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op softmaxOp) DiffWRT(int) []bool { return []bool{true} }

// strides returns the number of vectors before the axis (outer), the axis
// length (n) and the stride between a vector's elements (inner).
func (op softmaxOp) strides() (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range op.shape {
		switch {
		case i < op.axis:
			outer *= d
		case i > op.axis:
			inner *= d
		}
	}
	return outer, op.shape[op.axis], inner
}

func (op softmaxOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.shape...) // fully overwritten
	outer, n, inner := op.strides()
	switch x := v[0].Data().(type) {
	case []float32:
		softmaxFwd(x, out.Data().([]float32), outer, n, inner, math32.Exp)
	case []float64:
		softmaxFwd(x, out.Data().([]float64), outer, n, inner, math.Exp)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, x)
	}
	return out, nil
}

func softmaxFwd[T simd.Float](x, y []T, outer, n, inner int, exp func(T) T) {
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*n*inner + in
			mx := x[base]
			for j := 1; j < n; j++ {
				if v := x[base+j*inner]; v > mx {
					mx = v
				}
			}
			var sum T
			for j := 0; j < n; j++ {
				e := exp(x[base+j*inner] - mx)
				y[base+j*inner] = e
				sum += e
			}
			inv := 1 / sum
			for j := 0; j < n; j++ {
				y[base+j*inner] *= inv
			}
		}
	}
}

func (op softmaxOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(softmaxGrad{OpBase{Name: "Grad" + op.Name}, op, &OutBuf{}}, out, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// softmaxGrad computes y·(g − Σ g·y) over the axis from the output y of
// softmaxOp and the incoming gradient g.
type softmaxGrad struct {
	OpBase
	fwd softmaxOp
	buf *OutBuf
}

func (op softmaxGrad) Arity() int { return 2 }
func (op softmaxGrad) Type() hm.Type {
	d := op.fwd.shape.Dims()
	return FnType(d, d, d)
}
func (op softmaxGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.fwd.shape.Clone(), nil
}
func (op softmaxGrad) DiffWRT(int) []bool { return []bool{false, false} }
func (op softmaxGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.Name)
}

func (op softmaxGrad) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.fwd.shape...) // fully overwritten
	outer, n, inner := op.fwd.strides()
	switch y := v[0].Data().(type) {
	case []float32:
		softmaxBwd(y, v[1].Data().([]float32), out.Data().([]float32), outer, n, inner)
	case []float64:
		softmaxBwd(y, v[1].Data().([]float64), out.Data().([]float64), outer, n, inner)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, y)
	}
	return out, nil
}

func softmaxBwd[T simd.Float](y, g, dx []T, outer, n, inner int) {
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*n*inner + in
			var sum T
			for j := 0; j < n; j++ {
				sum += g[base+j*inner] * y[base+j*inner]
			}
			for j := 0; j < n; j++ {
				i := base + j*inner
				dx[i] = y[i] * (g[i] - sum)
			}
		}
	}
}
