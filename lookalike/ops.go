package lookalike

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/graphop"
	"github.com/ralmlab/ralm/internal/simd"
)

// This file holds the fused custom ops of the shared transform. Built from
// gorgonia's elementwise ops, T(v) = PReLU(vW + b) on the B·S seed rows of a
// step allocated a dozen (B·S, h) tensors and computed the gradient of the
// seed matrix (a data input nobody reads) with a full matrix product; these
// ops do the same maths in two passes and skip that gradient. Every op works
// in float32 and float64 (the gradient check runs in float64).

// ---- PReLU with an optional dropout mask, reshaping its output ----

// preluOp computes Y = PReLU(Z; alpha) [⊙ mask] for Z (n,h) and per-channel
// slopes alpha (h), and returns it in shape out (same number of elements,
// e.g. (B,S,h)): the reshape is free because the op writes a new tensor.
type preluOp struct {
	graphop.OpBase
	graphop.Sig
	n, h      int
	out       tensor.Shape
	mask      bool
	buf, gbuf *graphop.OutBuf // outputs of the op and of its dZ gradient
}

// prelu applies the fused PReLU (+ dropout mask when mask is non-nil) and
// returns the result reshaped to out.
func prelu(z, alpha, mask *G.Node, out ...int) (*G.Node, error) {
	s := z.Shape()
	sig := graphop.Sig{In: graphop.Opt([]int{2, 1}, mask != nil, 2), Out: len(out), Diff: []bool{true, true}}
	op := preluOp{graphop.OpBase{Name: fmt.Sprintf("PReLU(%d,%d)->%v mask=%v", s[0], s[1], out, mask != nil)}, sig, s[0], s[1], tensor.Shape(out).Clone(), mask != nil, &graphop.OutBuf{}, &graphop.OutBuf{}}
	return graphop.Apply(op, z, alpha, mask)
}

func (op preluOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.out.Clone(), nil }

func (op preluOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.out...) // fully overwritten
	switch z := v[0].Data().(type) {
	case []float32:
		simd.PReLU(out.Data().([]float32), z, v[1].Data().([]float32), maskData[float32](op.mask, v), op.h)
	case []float64:
		simd.PReLU(out.Data().([]float64), z, v[1].Data().([]float64), maskData[float64](op.mask, v), op.h)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, z)
	}
	return out, nil
}

func maskData[F float32 | float64](has bool, v []G.Value) []F {
	if !has {
		return nil
	}
	return v[2].Data().([]F)
}

func (op preluOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	args := G.Nodes{in[0], in[1], grad}
	if op.mask {
		args = append(args, in[2])
	}
	sig := graphop.Sig{In: graphop.Opt([]int{2, 1, op.out.Dims()}, op.mask, 2), Out: 2}
	dz, err := G.ApplyOp(preluGrad{graphop.OpBase{Name: "PReLUGradZ" + op.Name}, sig, op.n, op.h, op.mask, false, op.gbuf}, args...)
	if err != nil {
		return nil, err
	}
	sig.Out = 1
	da, err := G.ApplyOp(preluGrad{graphop.OpBase{Name: "PReLUGradAlpha" + op.Name}, sig, op.n, op.h, op.mask, true, nil}, args...)
	if err != nil {
		return nil, err
	}
	if op.mask {
		return G.Nodes{dz, da, nil}, nil
	}
	return G.Nodes{dz, da}, nil
}

// preluGrad computes, from (Z, alpha, G [, mask]), either dZ = G⊙mask⊙slope
// (n,h) or dalpha = Σ_rows G⊙mask⊙min(Z,0) (h).
type preluGrad struct {
	graphop.OpBase
	graphop.Sig // G has the rank of the forward output
	n, h        int
	mask        bool
	wrtAlpha    bool
	buf         *graphop.OutBuf
}

func (op preluGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.wrtAlpha {
		return tensor.Shape{op.h}, nil
	}
	return tensor.Shape{op.n, op.h}, nil
}
func (op preluGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.Name)
}

func (op preluGrad) Do(v ...G.Value) (G.Value, error) {
	shape := []int{op.n, op.h}
	if op.wrtAlpha {
		shape = []int{op.h}
	}
	out := op.buf.Get(v[0], op.wrtAlpha, shape...) // dZ is fully overwritten, dalpha accumulates
	var mv G.Value
	if op.mask {
		mv = v[3]
	}
	switch z := v[0].Data().(type) {
	case []float32:
		preluGradDo(out.Data().([]float32), z, v[1].Data().([]float32), v[2].Data().([]float32), mv, op)
	case []float64:
		preluGradDo(out.Data().([]float64), z, v[1].Data().([]float64), v[2].Data().([]float64), mv, op)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, z)
	}
	return out, nil
}

// preluGradDo writes dZ, or adds dα, of the PReLU with input z, slopes
// alpha and output gradient g (mask: the dropout mask's value, or nil).
func preluGradDo[F float32 | float64](dst, z, alpha, g []F, mask G.Value, op preluGrad) {
	var m []F
	if mask != nil {
		m = mask.Data().([]F)
	}
	if op.wrtAlpha {
		simd.PReLUGradAlpha(dst, z, g, m, op.h)
		return
	}
	simd.PReLUGradZ(dst, z, alpha, g, m, op.h)
}

// ---- sparse batched matmul for the cluster means ----

// clusterMeanOp computes C[b] = A[b]·H[b] for A (B,K,S) and H (B,S,h), like
// BatchedMatMul(A, H), skipping the zeros of A: the cluster-averaging matrix
// has one non-zero per seed column, so this costs O(B·S·h) instead of
// O(B·K·S·h). A is a data input: only H gets a gradient.
type clusterMeanOp struct {
	graphop.OpBase
	graphop.Sig
	b, k, s, h int
	buf, gbuf  *graphop.OutBuf // outputs of the op and of its gradient op
}

// clusterMeans applies the cluster-averaging matrix a (B,K,S) to hs (B,S,h).
func clusterMeansOp(a, hs *G.Node) (*G.Node, error) {
	as, hsh := a.Shape(), hs.Shape()
	if len(as) != 3 || len(hsh) != 3 || as[0] != hsh[0] || as[2] != hsh[1] {
		return nil, fmt.Errorf("cluster means: shapes %v and %v do not match", as, hsh)
	}
	sig := graphop.Sig{In: []int{3, 3}, Out: 3, Diff: []bool{false, true}}
	op := clusterMeanOp{graphop.OpBase{Name: fmt.Sprintf("ClusterMean(%d,%d,%d,%d)", as[0], as[1], as[2], hsh[2])}, sig, as[0], as[1], as[2], hsh[2], &graphop.OutBuf{}, &graphop.OutBuf{}}
	return G.ApplyOp(op, a, hs)
}

func (op clusterMeanOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.b, op.k, op.h}, nil
}

func (op clusterMeanOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], true, op.b, op.k, op.h) // accumulated into
	switch a := v[0].Data().(type) {
	case []float32:
		sparseAH(out.Data().([]float32), a, v[1].Data().([]float32), op.b, op.k, op.s, op.h)
	case []float64:
		sparseAH(out.Data().([]float64), a, v[1].Data().([]float64), op.b, op.k, op.s, op.h)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, a)
	}
	return out, nil
}

func (op clusterMeanOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dh, err := G.ApplyOp(clusterMeanGrad{graphop.OpBase{Name: "Grad" + op.Name}, graphop.Sig{In: []int{3, 3}, Out: 3}, op.b, op.k, op.s, op.h, op.gbuf}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, dh}, nil
}

// sparseAH computes C[b] = A[b]·H[b], skipping zero entries of A.
func sparseAH[F float32 | float64](c, a, hs []F, B, K, S, h int) {
	for b := 0; b < B; b++ {
		for k := 0; k < K; k++ {
			arow := a[(b*K+k)*S : (b*K+k+1)*S]
			crow := c[(b*K+k)*h : (b*K+k+1)*h]
			for s, w := range arow {
				if w == 0 {
					continue
				}
				hrow := hs[(b*S+s)*h : (b*S+s+1)*h]
				for j, x := range hrow {
					crow[j] += w * x
				}
			}
		}
	}
}

// clusterMeanGrad computes dH[b] = A[b]ᵀ·dC[b], skipping zeros of A.
type clusterMeanGrad struct {
	graphop.OpBase
	graphop.Sig
	b, k, s, h int
	buf        *graphop.OutBuf
}

func (op clusterMeanGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.b, op.s, op.h}, nil
}
func (op clusterMeanGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.Name)
}

func (op clusterMeanGrad) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], true, op.b, op.s, op.h) // accumulates: zeroed
	switch a := v[0].Data().(type) {
	case []float32:
		sparseATG(out.Data().([]float32), a, v[1].Data().([]float32), op.b, op.k, op.s, op.h)
	case []float64:
		sparseATG(out.Data().([]float64), a, v[1].Data().([]float64), op.b, op.k, op.s, op.h)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, a)
	}
	return out, nil
}

// sparseATG computes dH[b] = A[b]ᵀ·dC[b], skipping zero entries of A.
func sparseATG[F float32 | float64](dh, a, dc []F, B, K, S, h int) {
	for b := 0; b < B; b++ {
		for k := 0; k < K; k++ {
			arow := a[(b*K+k)*S : (b*K+k+1)*S]
			grow := dc[(b*K+k)*h : (b*K+k+1)*h]
			for s, w := range arow {
				if w == 0 {
					continue
				}
				drow := dh[(b*S+s)*h : (b*S+s+1)*h]
				for j, g := range grow {
					drow[j] += w * g
				}
			}
		}
	}
}
