package userrep

// The fused sampled-softmax loss of the training graph. Built from
// gorgonia's generic ops (a BatchedMatMul of B tiny (J,d)·(d,1) products, a
// log-softmax over the middle axis and a masked sum) it took a large share of
// a step in allocations and per-slice GEMM calls; this op computes the loss
// and its two gradients in one pass each over the (B, J, d) targets with the
// internal/simd kernels. It works in float32 (training) and float64
// (gradient checks).

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/graphop"
	"github.com/ralmlab/ralm/internal/simd"
)

// sampledSoftmaxOp computes
//
//	L = −Σ_b Σ_j y[b,j] · log softmax_j(tv[b,j]·u[b] − logQ[b,j])
//
// for the targets tv (B,J,d), the user embeddings u (B,d), the target
// weights y (B,J,1) (the example weight on the positive, 0 elsewhere) and
// optional logit offsets logQ (B,J,1). It is differentiable with respect to
// tv and u.
type sampledSoftmaxOp struct {
	graphop.OpBase
	B, J, d int
	logQ    bool
	dl      *ssCache // ∂L/∂logit of the last forward run, for the gradients
}

// ssCache keeps ∂L/∂logit (B·J) from the forward run for the two gradient
// ops of the same run (a graph runs one step at a time, forward first).
type ssCache struct {
	f32 []float32
	f64 []float64
}

// sampledSoftmax applies the fused loss; logQ may be nil.
func sampledSoftmax(tv, u, y, logQ *G.Node) (*G.Node, error) {
	ts, us := tv.Shape(), u.Shape()
	if len(ts) != 3 || len(us) != 2 || ts[0] != us[0] || ts[2] != us[1] {
		return nil, fmt.Errorf("sampled softmax: target shape %v and embedding shape %v do not match", ts, us)
	}
	op := sampledSoftmaxOp{graphop.OpBase{Name: fmt.Sprintf("SampledSoftmax(%d,%d,%d,logQ=%v)", ts[0], ts[1], ts[2], logQ != nil)}, ts[0], ts[1], ts[2], logQ != nil, &ssCache{}}
	if logQ != nil {
		return G.ApplyOp(op, tv, u, y, logQ)
	}
	return G.ApplyOp(op, tv, u, y)
}

func (op sampledSoftmaxOp) Arity() int {
	if op.logQ {
		return 4
	}
	return 3
}

func (op sampledSoftmaxOp) Type() hm.Type {
	if op.logQ {
		return graphop.FnType(3, 2, 3, 3, 0)
	}
	return graphop.FnType(3, 2, 3, 0)
}

func (op sampledSoftmaxOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op sampledSoftmaxOp) DiffWRT(n int) []bool {
	w := make([]bool, n)
	w[0], w[1] = true, true
	return w
}

func (op sampledSoftmaxOp) Do(v ...G.Value) (G.Value, error) {
	n := op.B * op.J
	switch tv := v[0].Data().(type) {
	case []float32:
		if len(op.dl.f32) != n {
			op.dl.f32 = make([]float32, n)
		}
		return G.NewF32(ssLoss(op, tv, v[1:], op.dl.f32, 1)), nil
	case []float64:
		if len(op.dl.f64) != n {
			op.dl.f64 = make([]float64, n)
		}
		return G.NewF64(ssLoss(op, tv, v[1:], op.dl.f64, 1)), nil
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, tv)
	}
}

func (op sampledSoftmaxOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	args := append(append(G.Nodes(nil), in...), grad)
	dtv, err := G.ApplyOp(sampledSoftmaxGrad{graphop.OpBase{Name: "GradTv" + op.Name}, op, false}, args...)
	if err != nil {
		return nil, err
	}
	du, err := G.ApplyOp(sampledSoftmaxGrad{graphop.OpBase{Name: "GradU" + op.Name}, op, true}, args...)
	if err != nil {
		return nil, err
	}
	res := make(G.Nodes, len(in))
	res[0], res[1] = dtv, du
	return res, nil
}

// ssLoss returns the loss of op on the flat data tv and rest (u, y and
// optionally logQ), and writes g·∂L/∂logit into dl (B·J).
func ssLoss[T simd.Float](op sampledSoftmaxOp, tv []T, rest []G.Value, dl []T, g T) T {
	u, y := rest[0].Data().([]T), rest[1].Data().([]T)
	var logQ []T
	if op.logQ {
		logQ = rest[2].Data().([]T)
	}
	B, J, d := op.B, op.J, op.d
	var loss float64
	l := make([]float64, J)
	for b := 0; b < B; b++ {
		ub := u[b*d : b*d+d]
		mx := math.Inf(-1)
		for j := 0; j < J; j++ {
			o := (b*J + j) * d
			z := float64(simd.Dot(tv[o:o+d], ub))
			if logQ != nil {
				z -= float64(logQ[b*J+j])
			}
			l[j] = z
			mx = max(mx, z)
		}
		var sum float64
		for j := range l {
			sum += math.Exp(l[j] - mx)
		}
		lse := mx + math.Log(sum)
		var yb float64
		for j := 0; j < J; j++ {
			yj := float64(y[b*J+j])
			yb += yj
			loss -= yj * (l[j] - lse)
		}
		for j := 0; j < J; j++ {
			p := math.Exp(l[j] - lse)
			dl[b*J+j] = g * T(yb*p-float64(y[b*J+j]))
		}
	}
	return T(loss)
}

// sampledSoftmaxGrad is the gradient of sampledSoftmaxOp with respect to tv
// (wrtU false: g·∂L/∂logit[b,j]·u[b]) or u (Σ_j g·∂L/∂logit[b,j]·tv[b,j]).
type sampledSoftmaxGrad struct {
	graphop.OpBase
	op   sampledSoftmaxOp
	wrtU bool
}

func (gr sampledSoftmaxGrad) Arity() int { return gr.op.Arity() + 1 }

func (gr sampledSoftmaxGrad) Type() hm.Type {
	out := 3
	if gr.wrtU {
		out = 2
	}
	if gr.op.logQ {
		return graphop.FnType(3, 2, 3, 3, 0, out)
	}
	return graphop.FnType(3, 2, 3, 0, out)
}

func (gr sampledSoftmaxGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if gr.wrtU {
		return tensor.Shape{gr.op.B, gr.op.d}, nil
	}
	return tensor.Shape{gr.op.B, gr.op.J, gr.op.d}, nil
}

func (gr sampledSoftmaxGrad) DiffWRT(n int) []bool { return make([]bool, n) }

func (gr sampledSoftmaxGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", gr.Name)
}

func (gr sampledSoftmaxGrad) Do(v ...G.Value) (G.Value, error) {
	shape, _ := gr.InferShape()
	out := graphop.NewLike(v[0], shape...)
	switch tv := v[0].Data().(type) {
	case []float32:
		ssGrad(gr, tv, v, gr.op.dl.f32, out.Data().([]float32))
	case []float64:
		ssGrad(gr, tv, v, gr.op.dl.f64, out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", gr.Name, tv)
	}
	return out, nil
}

// ssGrad writes the gradient of gr from the forward run's ∂L/∂logit dl,
// scaled by the incoming gradient.
func ssGrad[T simd.Float](gr sampledSoftmaxGrad, tv []T, v []G.Value, dl, out []T) {
	op := gr.op
	g := v[len(v)-1].Data().(T)
	u := v[1].Data().([]T)
	B, J, d := op.B, op.J, op.d
	for b := 0; b < B; b++ {
		for j := 0; j < J; j++ {
			o := (b*J + j) * d
			if gr.wrtU {
				simd.Axpy(g*dl[b*J+j], tv[o:o+d], out[b*d:b*d+d])
			} else {
				simd.Axpy(g*dl[b*J+j], u[b*d:b*d+d], out[o:o+d])
			}
		}
	}
}

// fieldRowsOp lays the field vectors h (F,B,m) out as the rows of the merged
// input (B, F·m), each optionally scaled by a per-field weight w (F,B,1):
//
//	out[b, f·m+k] = w[f,b] · h[f,b,k]
//
// the gated merge (w = F·attention) and the concatenation (w = the dropout
// scale, or none) in one copy instead of a broadcast product, a transpose
// and a reshape.
type fieldRowsOp struct {
	graphop.OpBase
	F, B, m  int
	weighted bool
}

// fieldRows applies fieldRowsOp; w may be nil.
func fieldRows(h, w *G.Node) (*G.Node, error) {
	s := h.Shape()
	if len(s) != 3 {
		return nil, fmt.Errorf("field rows: shape %v, want (F,B,m)", s)
	}
	op := fieldRowsOp{graphop.OpBase{Name: fmt.Sprintf("FieldRows(%d,%d,%d,w=%v)", s[0], s[1], s[2], w != nil)}, s[0], s[1], s[2], w != nil}
	if w != nil {
		return G.ApplyOp(op, h, w)
	}
	return G.ApplyOp(op, h)
}

func (op fieldRowsOp) Arity() int {
	if op.weighted {
		return 2
	}
	return 1
}

func (op fieldRowsOp) Type() hm.Type {
	if op.weighted {
		return graphop.FnType(3, 3, 2)
	}
	return graphop.FnType(3, 2)
}

func (op fieldRowsOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.B, op.F * op.m}, nil
}

func (op fieldRowsOp) DiffWRT(n int) []bool {
	w := make([]bool, n)
	for i := range w {
		w[i] = true
	}
	return w
}

func (op fieldRowsOp) Do(v ...G.Value) (G.Value, error) {
	out := graphop.NewLike(v[0], op.B, op.F*op.m)
	switch h := v[0].Data().(type) {
	case []float32:
		fieldRowsFwd(op, h, weights[float32](op.weighted, v), out.Data().([]float32))
	case []float64:
		fieldRowsFwd(op, h, weights[float64](op.weighted, v), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, h)
	}
	return out, nil
}

// weights returns the weight input's data, or nil for an unweighted op.
func weights[T simd.Float](weighted bool, v []G.Value) []T {
	if !weighted {
		return nil
	}
	return v[1].Data().([]T)
}

func fieldRowsFwd[T simd.Float](op fieldRowsOp, h, w, out []T) {
	F, B, m := op.F, op.B, op.m
	for f := 0; f < F; f++ {
		for b := 0; b < B; b++ {
			src := h[(f*B+b)*m : (f*B+b)*m+m]
			dst := out[b*F*m+f*m : b*F*m+f*m+m]
			if w == nil {
				copy(dst, src)
				continue
			}
			wf := w[f*B+b]
			for k, x := range src {
				dst[k] = wf * x
			}
		}
	}
}

func (op fieldRowsOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	args := append(append(G.Nodes(nil), in...), grad)
	dh, err := G.ApplyOp(fieldRowsGrad{graphop.OpBase{Name: "GradH" + op.Name}, op, false}, args...)
	if err != nil {
		return nil, err
	}
	if !op.weighted {
		return G.Nodes{dh}, nil
	}
	dw, err := G.ApplyOp(fieldRowsGrad{graphop.OpBase{Name: "GradW" + op.Name}, op, true}, args...)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dh, dw}, nil
}

// fieldRowsGrad is the gradient of fieldRowsOp with respect to h (wrtW
// false: dh[f,b,k] = w[f,b]·g[b,f·m+k]) or w (dw[f,b] = Σ_k g[b,f·m+k]·h[f,b,k]).
type fieldRowsGrad struct {
	graphop.OpBase
	op   fieldRowsOp
	wrtW bool
}

func (gr fieldRowsGrad) Arity() int { return gr.op.Arity() + 1 }

func (gr fieldRowsGrad) Type() hm.Type {
	if gr.op.weighted {
		return graphop.FnType(3, 3, 2, 3)
	}
	return graphop.FnType(3, 2, 3)
}

func (gr fieldRowsGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if gr.wrtW {
		return tensor.Shape{gr.op.F, gr.op.B, 1}, nil
	}
	return tensor.Shape{gr.op.F, gr.op.B, gr.op.m}, nil
}

func (gr fieldRowsGrad) DiffWRT(n int) []bool { return make([]bool, n) }

func (gr fieldRowsGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", gr.Name)
}

func (gr fieldRowsGrad) Do(v ...G.Value) (G.Value, error) {
	shape, _ := gr.InferShape()
	out := graphop.NewLike(v[0], shape...)
	switch h := v[0].Data().(type) {
	case []float32:
		fieldRowsBwd(gr, h, weights[float32](gr.op.weighted, v), v[len(v)-1].Data().([]float32), out.Data().([]float32))
	case []float64:
		fieldRowsBwd(gr, h, weights[float64](gr.op.weighted, v), v[len(v)-1].Data().([]float64), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", gr.Name, h)
	}
	return out, nil
}

func fieldRowsBwd[T simd.Float](gr fieldRowsGrad, h, w, g, out []T) {
	F, B, m := gr.op.F, gr.op.B, gr.op.m
	for f := 0; f < F; f++ {
		for b := 0; b < B; b++ {
			gs := g[b*F*m+f*m : b*F*m+f*m+m]
			i := f*B + b
			switch {
			case gr.wrtW:
				out[i] = simd.Dot(gs, h[i*m:i*m+m])
			case w == nil:
				copy(out[i*m:i*m+m], gs)
			default:
				simd.Axpy(w[i], gs, out[i*m:i*m+m])
			}
		}
	}
}
