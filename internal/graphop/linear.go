package graphop

import (
	"fmt"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/simd"
)

// ---- linear: Z = XW + b, differentiable with respect to W and b only ----

type linearOp struct {
	OpBase
	n, d, h int
	buf     *OutBuf
	wrtX    bool // differentiable with respect to X too (Affine)
}

// Linear applies Z = XW + b (X (n,d) a data input, W (d,h), b (h)).
func Linear(x, w, b *G.Node) (*G.Node, error) {
	s := x.Shape()
	n, d, h := s[0], s[1], w.Shape()[1]
	return G.ApplyOp(linearOp{OpBase{Name: fmt.Sprintf("Linear(%d,%d,%d)", n, d, h)}, n, d, h, &OutBuf{}, false}, x, w, b)
}

// Affine is Linear differentiable with respect to X as well (dX = G·Wᵀ): a
// dense layer inside a network.
func Affine(x, w, b *G.Node) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] || b.Shape().TotalSize() != ws[1] {
		return nil, fmt.Errorf("affine: shapes %v, %v and %v do not match", xs, ws, b.Shape())
	}
	n, d, h := xs[0], xs[1], ws[1]
	return G.ApplyOp(linearOp{OpBase{Name: fmt.Sprintf("Affine(%d,%d,%d)", n, d, h)}, n, d, h, &OutBuf{}, true}, x, w, b)
}

func (op linearOp) Arity() int    { return 3 }
func (op linearOp) Type() hm.Type { return FnType(2, 2, 1, 2) }
func (op linearOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.h}, nil
}
func (op linearOp) DiffWRT(int) []bool { return []bool{op.wrtX, true, true} }

func (op linearOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.n, op.h) // fully overwritten
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
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, x)
	}
	return out, nil
}

func (op linearOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dw, err := G.ApplyOp(linearGradW{OpBase{Name: fmt.Sprintf("LinearGradW(%d,%d,%d)", op.n, op.d, op.h)}, op.n, op.d, op.h, &OutBuf{}}, in[0], grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(colSumOp{OpBase{Name: fmt.Sprintf("ColSum(%d,%d)", op.n, op.h)}, op.n, op.h, &OutBuf{}}, grad)
	if err != nil {
		return nil, err
	}
	var dx *G.Node
	if op.wrtX {
		if dx, err = G.ApplyOp(matmulBT{OpBase{Name: "GradX" + op.Name}, op.n, op.d, op.h, &OutBuf{}}, grad, in[1]); err != nil {
			return nil, err
		}
	}
	return G.Nodes{dx, dw, db}, nil
}

// linearGradW computes XᵀG (the gradient of W).
type linearGradW struct {
	OpBase
	n, d, h int
	buf     *OutBuf
}

func (op linearGradW) Arity() int    { return 2 }
func (op linearGradW) Type() hm.Type { return FnType(2, 2, 2) }
func (op linearGradW) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.d, op.h}, nil
}
func (op linearGradW) DiffWRT(int) []bool { return []bool{false, false} }
func (op linearGradW) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.Name)
}

func (op linearGradW) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], true, op.d, op.h) // accumulated into
	switch x := v[0].Data().(type) {
	case []float32:
		simd.Sgemm(true, false, op.d, op.h, op.n, 1, x, op.d, v[1].Data().([]float32), op.h, 0, out.Data().([]float32), op.h)
	case []float64:
		blas64.Gemm(blas.Trans, blas.NoTrans, 1,
			blas64.General{Rows: op.n, Cols: op.d, Stride: op.d, Data: x},
			blas64.General{Rows: op.n, Cols: op.h, Stride: op.h, Data: v[1].Data().([]float64)},
			0, blas64.General{Rows: op.d, Cols: op.h, Stride: op.h, Data: out.Data().([]float64)})
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, x)
	}
	return out, nil
}

// colSumOp sums the rows of an (n,h) matrix: the gradient of a bias.
type colSumOp struct {
	OpBase
	n, h int
	buf  *OutBuf
}

func (op colSumOp) Arity() int    { return 1 }
func (op colSumOp) Type() hm.Type { return FnType(2, 1) }
func (op colSumOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.h}, nil
}
func (op colSumOp) DiffWRT(int) []bool { return []bool{false} }
func (op colSumOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.Name)
}

func (op colSumOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], true, op.h) // accumulated into
	switch x := v[0].Data().(type) {
	case []float32:
		colSum(out.Data().([]float32), x, op.h)
	case []float64:
		colSum(out.Data().([]float64), x, op.h)
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, x)
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

// ---- dense matrix product with both gradients ----

// matmulOp is Z = XW for X (n,d) and W (d,h), with the AVX2 kernels (and
// gonum as the fallback); its gradients are dX = G·Wᵀ and dW = XᵀG.
type matmulOp struct {
	OpBase
	n, d, h int
	buf     *OutBuf
}

// MatMul multiplies two matrices with the fused kernels.
func MatMul(x, w *G.Node) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] {
		return nil, fmt.Errorf("matmul: shapes %v and %v do not match", xs, ws)
	}
	return G.ApplyOp(matmulOp{OpBase{Name: fmt.Sprintf("MatMul(%d,%d,%d)", xs[0], xs[1], ws[1])}, xs[0], xs[1], ws[1], &OutBuf{}}, x, w)
}

func (op matmulOp) Arity() int    { return 2 }
func (op matmulOp) Type() hm.Type { return FnType(2, 2, 2) }
func (op matmulOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.h}, nil
}
func (op matmulOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op matmulOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.n, op.h) // fully overwritten
	switch x := v[0].Data().(type) {
	case []float32:
		simd.LinearRows(x, op.n, op.d, op.h, v[1].Data().([]float32), make([]float32, op.h), out.Data().([]float32))
	case []float64:
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas64.General{Rows: op.n, Cols: op.d, Stride: op.d, Data: x},
			blas64.General{Rows: op.d, Cols: op.h, Stride: op.h, Data: v[1].Data().([]float64)},
			0, blas64.General{Rows: op.n, Cols: op.h, Stride: op.h, Data: out.Data().([]float64)})
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, x)
	}
	return out, nil
}

func (op matmulOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(matmulBT{OpBase{Name: "GradX" + op.Name}, op.n, op.d, op.h, &OutBuf{}}, grad, in[1])
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(linearGradW{OpBase{Name: "GradW" + op.Name}, op.n, op.d, op.h, &OutBuf{}}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// matmulBT computes G·Wᵀ for G (n,h) and W (d,h): the gradient of X.
type matmulBT struct {
	OpBase
	n, d, h int
	buf     *OutBuf
}

func (op matmulBT) Arity() int    { return 2 }
func (op matmulBT) Type() hm.Type { return FnType(2, 2, 2) }
func (op matmulBT) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.d}, nil
}
func (op matmulBT) DiffWRT(int) []bool { return []bool{false, false} }
func (op matmulBT) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", op.Name)
}

func (op matmulBT) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], false, op.n, op.d) // fully overwritten
	switch g := v[0].Data().(type) {
	case []float32:
		simd.Sgemm(false, true, op.n, op.d, op.h, 1, g, op.h, v[1].Data().([]float32), op.h, 0, out.Data().([]float32), op.d)
	case []float64:
		blas64.Gemm(blas.NoTrans, blas.Trans, 1,
			blas64.General{Rows: op.n, Cols: op.h, Stride: op.h, Data: g},
			blas64.General{Rows: op.d, Cols: op.h, Stride: op.h, Data: v[1].Data().([]float64)},
			0, blas64.General{Rows: op.n, Cols: op.d, Stride: op.d, Data: out.Data().([]float64)})
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, g)
	}
	return out, nil
}
