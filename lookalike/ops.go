package lookalike

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/simd"
)

// This file holds the fused custom ops of the shared transform. Built from
// gorgonia's elementwise ops, T(v) = PReLU(vW + b) on the B·S seed rows of a
// step allocated a dozen (B·S, h) tensors and computed the gradient of the
// seed matrix (a data input nobody reads) with a full matrix product; these
// ops do the same maths in two passes and skip that gradient. Every op works
// in float32 and float64 (the gradient check runs in float64).

// opBase implements the bookkeeping methods shared by the custom ops.
type opBase struct{ name string }

func (o opBase) ReturnsPtr() bool     { return false }
func (o opBase) CallsExtern() bool    { return false }
func (o opBase) OverwritesInput() int { return -1 }
func (o opBase) String() string       { return o.name }
func (o opBase) WriteHash(h hash.Hash) {
	fmt.Fprint(h, o.name)
}
func (o opBase) Hashcode() uint32 {
	h := fnv.New32a()
	h.Write([]byte(o.name))
	return h.Sum32()
}

func fnType(dims ...int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, len(dims))
	for i, d := range dims {
		ts[i] = tensorType(d, a)
	}
	return hm.NewFnType(ts...)
}

func newLike(v G.Value, shape ...int) *tensor.Dense {
	return tensor.New(tensor.Of(v.Dtype()), tensor.WithShape(shape...))
}

// outBuf keeps an op's output tensor from one run of the graph to the next,
// sparing the allocation and zeroing of the large (B·S, h) seed tensors
// every step (a graph runs one step at a time, and every value of a run is
// dead when the next run starts). A nil *outBuf allocates every time.
type outBuf struct{ t *tensor.Dense }

// get returns a tensor of v's dtype and the given shape; a reused tensor
// holds the previous run's values unless zero is set.
func (b *outBuf) get(v G.Value, zero bool, shape ...int) *tensor.Dense {
	if b == nil {
		return newLike(v, shape...)
	}
	if b.t == nil || b.t.Dtype() != v.Dtype() || !b.t.Shape().Eq(tensor.Shape(shape)) {
		b.t = newLike(v, shape...)
		return b.t
	}
	if zero {
		b.t.Zero()
	}
	return b.t
}

// ---- linear: Z = XW + b, differentiable with respect to W and b only ----

type linearOp struct {
	opBase
	n, d, h int
	buf     *outBuf
}

// linear applies Z = XW + b (X (n,d) a data input, W (d,h), b (h)).
func linear(x, w, b *G.Node) (*G.Node, error) {
	s := x.Shape()
	n, d, h := s[0], s[1], w.Shape()[1]
	return G.ApplyOp(linearOp{opBase{fmt.Sprintf("Linear(%d,%d,%d)", n, d, h)}, n, d, h, &outBuf{}}, x, w, b)
}

func (op linearOp) Arity() int    { return 3 }
func (op linearOp) Type() hm.Type { return fnType(2, 2, 1, 2) }
func (op linearOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.h}, nil
}
func (op linearOp) DiffWRT(int) []bool { return []bool{false, true, true} }

func (op linearOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.get(v[0], false, op.n, op.h) // fully overwritten
	switch x := v[0].Data().(type) {
	case []float32:
		simd.LinearRows(x, op.n, op.d, op.h, v[1].Data().([]float32), v[2].Data().([]float32), out.Data().([]float32))
	case []float64:
		w, b, z := v[1].Data().([]float64), v[2].Data().([]float64), out.Data().([]float64)
		for i := 0; i < op.n; i++ {
			copy(z[i*op.h:(i+1)*op.h], b)
		}
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas64.General{Rows: op.n, Cols: op.d, Stride: op.d, Data: x},
			blas64.General{Rows: op.d, Cols: op.h, Stride: op.h, Data: w},
			1, blas64.General{Rows: op.n, Cols: op.h, Stride: op.h, Data: z})
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, x)
	}
	return out, nil
}

func (op linearOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dw, err := G.ApplyOp(linearGradW{opBase{fmt.Sprintf("LinearGradW(%d,%d,%d)", op.n, op.d, op.h)}, op.n, op.d, op.h}, in[0], grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(colSumOp{opBase{fmt.Sprintf("ColSum(%d,%d)", op.n, op.h)}, op.n, op.h}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, dw, db}, nil
}

// linearGradW computes XᵀG (the gradient of W).
type linearGradW struct {
	opBase
	n, d, h int
}

func (op linearGradW) Arity() int    { return 2 }
func (op linearGradW) Type() hm.Type { return fnType(2, 2, 2) }
func (op linearGradW) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.d, op.h}, nil
}
func (op linearGradW) DiffWRT(int) []bool { return []bool{false, false} }
func (op linearGradW) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.name)
}

func (op linearGradW) Do(v ...G.Value) (G.Value, error) {
	out := newLike(v[0], op.d, op.h)
	switch x := v[0].Data().(type) {
	case []float32:
		simd.Rank1Rows(x, op.n, op.d, op.h, v[1].Data().([]float32), out.Data().([]float32))
	case []float64:
		blas64.Gemm(blas.Trans, blas.NoTrans, 1,
			blas64.General{Rows: op.n, Cols: op.d, Stride: op.d, Data: x},
			blas64.General{Rows: op.n, Cols: op.h, Stride: op.h, Data: v[1].Data().([]float64)},
			0, blas64.General{Rows: op.d, Cols: op.h, Stride: op.h, Data: out.Data().([]float64)})
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, x)
	}
	return out, nil
}

// colSumOp sums the rows of an (n,h) matrix: the gradient of a bias.
type colSumOp struct {
	opBase
	n, h int
}

func (op colSumOp) Arity() int    { return 1 }
func (op colSumOp) Type() hm.Type { return fnType(2, 1) }
func (op colSumOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.h}, nil
}
func (op colSumOp) DiffWRT(int) []bool { return []bool{false} }
func (op colSumOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.name)
}

func (op colSumOp) Do(v ...G.Value) (G.Value, error) {
	out := newLike(v[0], op.h)
	switch x := v[0].Data().(type) {
	case []float32:
		colSum(out.Data().([]float32), x, op.h)
	case []float64:
		colSum(out.Data().([]float64), x, op.h)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, x)
	}
	return out, nil
}

func colSum[F float32 | float64](dst, x []F, h int) {
	for i := 0; i+h <= len(x); i += h {
		row := x[i : i+h]
		for j, v := range row {
			dst[j] += v
		}
	}
}

// ---- PReLU with an optional dropout mask, reshaping its output ----

// preluOp computes Y = PReLU(Z; alpha) [⊙ mask] for Z (n,h) and per-channel
// slopes alpha (h), and returns it in shape out (same number of elements,
// e.g. (B,S,h)): the reshape is free because the op writes a new tensor.
type preluOp struct {
	opBase
	n, h      int
	out       tensor.Shape
	mask      bool
	buf, gbuf *outBuf // outputs of the op and of its dZ gradient
}

// prelu applies the fused PReLU (+ dropout mask when mask is non-nil) and
// returns the result reshaped to out.
func prelu(z, alpha, mask *G.Node, out ...int) (*G.Node, error) {
	s := z.Shape()
	op := preluOp{opBase{fmt.Sprintf("PReLU(%d,%d)->%v mask=%v", s[0], s[1], out, mask != nil)}, s[0], s[1], tensor.Shape(out).Clone(), mask != nil, &outBuf{}, &outBuf{}}
	if mask != nil {
		return G.ApplyOp(op, z, alpha, mask)
	}
	return G.ApplyOp(op, z, alpha)
}

func (op preluOp) Arity() int {
	if op.mask {
		return 3
	}
	return 2
}

func (op preluOp) Type() hm.Type {
	if op.mask {
		return fnType(2, 1, 2, op.out.Dims())
	}
	return fnType(2, 1, op.out.Dims())
}

func (op preluOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.out.Clone(), nil }

func (op preluOp) DiffWRT(int) []bool {
	if op.mask {
		return []bool{true, true, false}
	}
	return []bool{true, true}
}

func (op preluOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.get(v[0], false, op.out...) // fully overwritten
	switch z := v[0].Data().(type) {
	case []float32:
		preluFwd(out.Data().([]float32), z, v[1].Data().([]float32), maskData[float32](op.mask, v), op.h)
	case []float64:
		preluFwd(out.Data().([]float64), z, v[1].Data().([]float64), maskData[float64](op.mask, v), op.h)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, z)
	}
	return out, nil
}

func maskData[F float32 | float64](has bool, v []G.Value) []F {
	if !has {
		return nil
	}
	return v[2].Data().([]F)
}

func preluFwd[F float32 | float64](y, z, alpha, mask []F, h int) {
	for i := 0; i+h <= len(z); i += h {
		zr, yr := z[i:i+h], y[i:i+h]
		yr, al := yr[:len(zr)], alpha[:len(zr)]
		for j, v := range zr {
			// min/max compile without branches: signs are random, and a
			// mispredicted branch per element cost 10x.
			yr[j] = max(v, 0) + al[j]*min(v, 0)
		}
		if mask != nil {
			mr := mask[i : i+h]
			for j := range yr {
				yr[j] *= mr[j]
			}
		}
	}
}

func (op preluOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	args := G.Nodes{in[0], in[1], grad}
	if op.mask {
		args = append(args, in[2])
	}
	dz, err := G.ApplyOp(preluGrad{opBase{"PReLUGradZ" + op.name}, op.n, op.h, op.out.Dims(), op.mask, false, op.gbuf}, args...)
	if err != nil {
		return nil, err
	}
	da, err := G.ApplyOp(preluGrad{opBase{"PReLUGradAlpha" + op.name}, op.n, op.h, op.out.Dims(), op.mask, true, nil}, args...)
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
	opBase
	n, h     int
	outDims  int // rank of the forward output (and of G)
	mask     bool
	wrtAlpha bool
	buf      *outBuf
}

func (op preluGrad) Arity() int {
	if op.mask {
		return 4
	}
	return 3
}

func (op preluGrad) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := []hm.Type{tensorType(2, a), tensorType(1, a), tensorType(op.outDims, a)}
	if op.mask {
		ts = append(ts, tensorType(2, a))
	}
	if op.wrtAlpha {
		ts = append(ts, tensorType(1, a))
	} else {
		ts = append(ts, tensorType(2, a))
	}
	return hm.NewFnType(ts...)
}

func (op preluGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.wrtAlpha {
		return tensor.Shape{op.h}, nil
	}
	return tensor.Shape{op.n, op.h}, nil
}
func (op preluGrad) DiffWRT(n int) []bool { return make([]bool, n) }
func (op preluGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.name)
}

func (op preluGrad) Do(v ...G.Value) (G.Value, error) {
	shape := []int{op.n, op.h}
	if op.wrtAlpha {
		shape = []int{op.h}
	}
	out := op.buf.get(v[0], op.wrtAlpha, shape...) // dZ is fully overwritten, dalpha accumulates
	var mv G.Value
	if op.mask {
		mv = v[3]
	}
	switch z := v[0].Data().(type) {
	case []float32:
		var m []float32
		if mv != nil {
			m = mv.Data().([]float32)
		}
		if !op.wrtAlpha {
			preluBwdZ32(out.Data().([]float32), z, v[1].Data().([]float32), v[2].Data().([]float32), m, op.h)
			break
		}
		preluBwd(out.Data().([]float32), z, v[1].Data().([]float32), v[2].Data().([]float32), m, op.h, op.wrtAlpha)
	case []float64:
		var m []float64
		if mv != nil {
			m = mv.Data().([]float64)
		}
		preluBwd(out.Data().([]float64), z, v[1].Data().([]float64), v[2].Data().([]float64), m, op.h, op.wrtAlpha)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, z)
	}
	return out, nil
}

func preluBwd[F float32 | float64](dst, z, alpha, g, mask []F, h int, wrtAlpha bool) {
	for i := 0; i+h <= len(z); i += h {
		zr, gr := z[i:i+h], g[i:i+h]
		var mr []F
		if mask != nil {
			mr = mask[i : i+h]
		}
		if wrtAlpha {
			d, gr := dst[:len(zr)], gr[:len(zr)]
			for j, v := range zr {
				gv := gr[j] * min(v, 0)
				if mr != nil {
					gv *= mr[j]
				}
				d[j] += gv
			}
			continue
		}
		dr := dst[i : i+h]
		dr, gr, alpha := dr[:len(zr)], gr[:len(zr)], alpha[:len(zr)]
		for j, v := range zr {
			// slope 1 for v >= 0, alpha for v < 0, without a branch
			neg := negIndicator(v)
			dr[j] = gr[j] * (1 + (alpha[j]-1)*neg)
		}
		if mr != nil {
			mr = mr[:len(zr)]
			for j := range dr {
				dr[j] *= mr[j]
			}
		}
	}
}

// ---- sparse batched matmul for the cluster means ----

// clusterMeanOp computes C[b] = A[b]·H[b] for A (B,K,S) and H (B,S,h), like
// BatchedMatMul(A, H), skipping the zeros of A: the cluster-averaging matrix
// has one non-zero per seed column, so this costs O(B·S·h) instead of
// O(B·K·S·h). A is a data input: only H gets a gradient.
type clusterMeanOp struct {
	opBase
	b, k, s, h int
	gbuf       *outBuf // output of the gradient op
}

// clusterMeans applies the cluster-averaging matrix a (B,K,S) to hs (B,S,h).
func clusterMeansOp(a, hs *G.Node) (*G.Node, error) {
	as, hsh := a.Shape(), hs.Shape()
	if len(as) != 3 || len(hsh) != 3 || as[0] != hsh[0] || as[2] != hsh[1] {
		return nil, fmt.Errorf("cluster means: shapes %v and %v do not match", as, hsh)
	}
	op := clusterMeanOp{opBase{fmt.Sprintf("ClusterMean(%d,%d,%d,%d)", as[0], as[1], as[2], hsh[2])}, as[0], as[1], as[2], hsh[2], &outBuf{}}
	return G.ApplyOp(op, a, hs)
}

func (op clusterMeanOp) Arity() int    { return 2 }
func (op clusterMeanOp) Type() hm.Type { return fnType(3, 3, 3) }
func (op clusterMeanOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.b, op.k, op.h}, nil
}
func (op clusterMeanOp) DiffWRT(int) []bool { return []bool{false, true} }

func (op clusterMeanOp) Do(v ...G.Value) (G.Value, error) {
	out := newLike(v[0], op.b, op.k, op.h)
	switch a := v[0].Data().(type) {
	case []float32:
		sparseAH(out.Data().([]float32), a, v[1].Data().([]float32), op.b, op.k, op.s, op.h)
	case []float64:
		sparseAH(out.Data().([]float64), a, v[1].Data().([]float64), op.b, op.k, op.s, op.h)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, a)
	}
	return out, nil
}

func (op clusterMeanOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dh, err := G.ApplyOp(clusterMeanGrad{opBase{"Grad" + op.name}, op.b, op.k, op.s, op.h, op.gbuf}, in[0], grad)
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
	opBase
	b, k, s, h int
	buf        *outBuf
}

func (op clusterMeanGrad) Arity() int    { return 2 }
func (op clusterMeanGrad) Type() hm.Type { return fnType(3, 3, 3) }
func (op clusterMeanGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.b, op.s, op.h}, nil
}
func (op clusterMeanGrad) DiffWRT(int) []bool { return []bool{false, false} }
func (op clusterMeanGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.name)
}

func (op clusterMeanGrad) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.get(v[0], true, op.b, op.s, op.h) // accumulates: zeroed
	switch a := v[0].Data().(type) {
	case []float32:
		sparseATG(out.Data().([]float32), a, v[1].Data().([]float32), op.b, op.k, op.s, op.h)
	case []float64:
		sparseATG(out.Data().([]float64), a, v[1].Data().([]float64), op.b, op.k, op.s, op.h)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, a)
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

// negIndicator is 1 for v < 0 (and -0) and 0 otherwise.
func negIndicator[F float32 | float64](v F) F {
	if v < 0 {
		return 1
	}
	return 0
}

// preluBwdZ32 is the float32 dZ = G⊙mask⊙slope, with the slope taken from
// the sign bit so that the loop has no data-dependent branch.
func preluBwdZ32(dst, z, alpha, g, mask []float32, h int) {
	for i := 0; i+h <= len(z); i += h {
		zr := z[i : i+h]
		dr, gr, al := dst[i:i+h], g[i:i+h], alpha[:h]
		for j, v := range zr {
			neg := float32(math.Float32bits(v) >> 31)
			dr[j] = gr[j] * (1 + (al[j]-1)*neg)
		}
		if mask != nil {
			mr := mask[i : i+h]
			for j := range dr {
				dr[j] *= mr[j]
			}
		}
	}
}

// ---- dense matrix product with both gradients ----

// matmulOp is Z = XW for X (n,d) and W (d,h), with the AVX2 kernels (and
// gonum as the fallback); its gradients are dX = G·Wᵀ and dW = XᵀG.
type matmulOp struct {
	opBase
	n, d, h int
}

// matmul multiplies two matrices with the fused kernels.
func matmul(x, w *G.Node) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] {
		return nil, fmt.Errorf("matmul: shapes %v and %v do not match", xs, ws)
	}
	return G.ApplyOp(matmulOp{opBase{fmt.Sprintf("MatMul(%d,%d,%d)", xs[0], xs[1], ws[1])}, xs[0], xs[1], ws[1]}, x, w)
}

func (op matmulOp) Arity() int    { return 2 }
func (op matmulOp) Type() hm.Type { return fnType(2, 2, 2) }
func (op matmulOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.h}, nil
}
func (op matmulOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op matmulOp) Do(v ...G.Value) (G.Value, error) {
	out := newLike(v[0], op.n, op.h)
	switch x := v[0].Data().(type) {
	case []float32:
		simd.LinearRows(x, op.n, op.d, op.h, v[1].Data().([]float32), make([]float32, op.h), out.Data().([]float32))
	case []float64:
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas64.General{Rows: op.n, Cols: op.d, Stride: op.d, Data: x},
			blas64.General{Rows: op.d, Cols: op.h, Stride: op.h, Data: v[1].Data().([]float64)},
			0, blas64.General{Rows: op.n, Cols: op.h, Stride: op.h, Data: out.Data().([]float64)})
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, x)
	}
	return out, nil
}

func (op matmulOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(matmulBT{opBase{"GradX" + op.name}, op.n, op.d, op.h}, grad, in[1])
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(linearGradW{opBase{"GradW" + op.name}, op.n, op.d, op.h}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// matmulBT computes G·Wᵀ for G (n,h) and W (d,h): the gradient of X.
type matmulBT struct {
	opBase
	n, d, h int
}

func (op matmulBT) Arity() int    { return 2 }
func (op matmulBT) Type() hm.Type { return fnType(2, 2, 2) }
func (op matmulBT) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.d}, nil
}
func (op matmulBT) DiffWRT(int) []bool { return []bool{false, false} }
func (op matmulBT) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.name)
}

func (op matmulBT) Do(v ...G.Value) (G.Value, error) {
	out := newLike(v[0], op.n, op.d)
	switch g := v[0].Data().(type) {
	case []float32:
		w := v[1].Data().([]float32)
		wt := make([]float32, op.h*op.d) // Wᵀ (h,d)
		for i := 0; i < op.d; i++ {
			for j := 0; j < op.h; j++ {
				wt[j*op.d+i] = w[i*op.h+j]
			}
		}
		simd.LinearRows(g, op.n, op.h, op.d, wt, make([]float32, op.d), out.Data().([]float32))
	case []float64:
		blas64.Gemm(blas.NoTrans, blas.Trans, 1,
			blas64.General{Rows: op.n, Cols: op.h, Stride: op.h, Data: g},
			blas64.General{Rows: op.d, Cols: op.h, Stride: op.h, Data: v[1].Data().([]float64)},
			0, blas64.General{Rows: op.n, Cols: op.d, Stride: op.d, Data: out.Data().([]float64)})
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.name, g)
	}
	return out, nil
}
