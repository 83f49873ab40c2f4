package graphop

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// reshapeCopy is a reshape that copies its input. gorgonia's own Reshape
// returns a view that the register allocator does not know about, so a later
// in-place op can overwrite the source and gradients come out wrong (see the
// team's gorgonia notes, pitfall P1). Every reshape in the training graph
// goes through this op. A contiguous float input is copied into a buffer
// kept from run to run (OutBuf); anything else is cloned.
type reshapeCopy struct {
	OpBase
	from, to tensor.Shape
	buf      *OutBuf
}

func newReshapeCopy(from, to tensor.Shape) reshapeCopy {
	return reshapeCopy{OpBase{Name: fmt.Sprintf("ReshapeCopy%v->%v", from, to)}, from.Clone(), to.Clone(), &OutBuf{}}
}

// Reshape applies a copying reshape of x to the given shape.
func Reshape(x *G.Node, to ...int) (*G.Node, error) {
	return G.ApplyOp(newReshapeCopy(x.Shape(), tensor.Shape(to)), x)
}

func (op reshapeCopy) Arity() int { return 1 }

func (op reshapeCopy) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(TensorType(op.from.Dims(), a), TensorType(op.to.Dims(), a))
}

func (op reshapeCopy) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.to.Clone(), nil }

func (op reshapeCopy) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 1 {
		return nil, fmt.Errorf("reshape: %d inputs, want 1", len(vals))
	}
	t, ok := vals[0].(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("reshape: input is %T, not a tensor", vals[0])
	}
	if n := op.to.TotalSize(); !t.RequiresIterator() {
		switch x := t.Data().(type) {
		case []float32:
			if len(x) == n {
				out := op.buf.Get(t, false, op.to...) // fully overwritten
				copy(out.Data().([]float32), x)
				return out, nil
			}
		case []float64:
			if len(x) == n {
				out := op.buf.Get(t, false, op.to...)
				copy(out.Data().([]float64), x)
				return out, nil
			}
		}
	}
	c, ok := t.Clone().(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("reshape: clone of %T is not a tensor", t)
	}
	if err := c.Reshape(op.to...); err != nil {
		return nil, fmt.Errorf("reshape %v to %v: %w", op.from, op.to, err)
	}
	return c, nil
}

func (op reshapeCopy) DiffWRT(int) []bool { return []bool{true} }

func (op reshapeCopy) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(newReshapeCopy(op.to, op.from), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}
