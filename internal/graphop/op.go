// Package graphop holds the gorgonia helper ops both model graphs share:
// the copying reshape (gorgonia's Reshape aliases its input, pitfall P1 of
// the team's gorgonia notes), the fused dense layer and matrix product on
// the internal/simd kernels, a column join that copies whole rows, and the
// bookkeeping every custom op needs.
// Every op works in float32 (training) and float64 (gradient checks).
package graphop

import (
	"fmt"
	"hash"
	"hash/fnv"
	"slices"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// OpBase implements the bookkeeping methods of a custom op that writes a
// new tensor: embed it and give every op instance a Name that identifies its
// shapes (gorgonia deduplicates nodes by that hash).
type OpBase struct{ Name string }

// ReturnsPtr is false: the op's result is a new tensor.
func (o OpBase) ReturnsPtr() bool { return false }

// CallsExtern is false: the op runs in Go.
func (o OpBase) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (o OpBase) OverwritesInput() int { return -1 }

// String is the op's name.
func (o OpBase) String() string { return o.Name }

// WriteHash writes the op's name.
func (o OpBase) WriteHash(h hash.Hash) { fmt.Fprint(h, o.Name) }

// Hashcode is the FNV-1a hash of the op's name.
func (o OpBase) Hashcode() uint32 {
	h := fnv.New32a()
	h.Write([]byte(o.Name))
	return h.Sum32()
}

// TensorType is the gorgonia type of a tensor of dims dimensions over the
// element type a (a itself for a scalar).
func TensorType(dims int, a hm.Type) hm.Type {
	if dims == 0 {
		return a
	}
	return G.TensorType{Dims: dims, Of: a}
}

// FnType is the type of an op from tensors of the given numbers of
// dimensions (the last one the result's) over one element type.
func FnType(dims ...int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, len(dims))
	for i, d := range dims {
		ts[i] = TensorType(d, a)
	}
	return hm.NewFnType(ts...)
}

// Sig is the signature of a custom op: the ranks of its inputs, in order,
// and of its result, and the inputs it is differentiable with respect to.
// Embed it beside OpBase for the op's Arity, Type and DiffWRT. An op with an
// optional input (a mask, a weight) builds its Sig with or without that
// input's rank (see Opt) and is applied with Apply.
type Sig struct {
	In   []int  // ranks of the inputs
	Out  int    // rank of the result (0 for a scalar)
	Diff []bool // Diff[i]: differentiable with respect to input i (missing: false)
}

// Arity is the number of inputs.
func (s Sig) Arity() int { return len(s.In) }

// Type is the op's gorgonia type over one element type.
func (s Sig) Type() hm.Type { return FnType(append(slices.Clone(s.In), s.Out)...) }

// DiffWRT reports, for each of n inputs, whether the op is differentiable
// with respect to it.
func (s Sig) DiffWRT(n int) []bool {
	w := make([]bool, n)
	copy(w, s.Diff)
	return w
}

// Opt returns ranks followed by the ranks of optional inputs that are
// present, for a Sig's In.
func Opt(ranks []int, present bool, opt ...int) []int {
	ranks = slices.Clone(ranks)
	if present {
		ranks = append(ranks, opt...)
	}
	return ranks
}

// Apply applies op to the inputs that are not nil: an optional input that
// is absent is passed as nil (and left out of the op's Sig).
func Apply(op G.Op, in ...*G.Node) (*G.Node, error) {
	nodes := make([]*G.Node, 0, len(in))
	for _, n := range in {
		if n != nil {
			nodes = append(nodes, n)
		}
	}
	return G.ApplyOp(op, nodes...)
}

// NewLike allocates a zeroed tensor of v's dtype and the given shape.
func NewLike(v G.Value, shape ...int) *tensor.Dense {
	return tensor.New(tensor.Of(v.Dtype()), tensor.WithShape(shape...))
}

// OutBuf keeps an op's output tensor from one run of the graph to the next,
// sparing the allocation and zeroing of the large (B·S, h) seed tensors
// every step (a graph runs one step at a time, and every value of a run is
// dead when the next run starts). A nil *OutBuf allocates every time.
type OutBuf struct{ t *tensor.Dense }

// Get returns a tensor of v's dtype and the given shape; a reused tensor
// holds the previous run's values unless zero is set.
func (b *OutBuf) Get(v G.Value, zero bool, shape ...int) *tensor.Dense {
	if b == nil {
		return NewLike(v, shape...)
	}
	if b.t == nil || b.t.Dtype() != v.Dtype() || !b.t.Shape().Eq(tensor.Shape(shape)) {
		b.t = NewLike(v, shape...)
		return b.t
	}
	if zero {
		b.t.Zero()
	}
	return b.t
}
