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
	"slices"

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
	graphop.Sig
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
	sig := graphop.Sig{In: graphop.Opt([]int{3, 2, 3}, logQ != nil, 3), Out: 0, Diff: []bool{true, true}}
	op := sampledSoftmaxOp{graphop.OpBase{Name: fmt.Sprintf("SampledSoftmax(%d,%d,%d,logQ=%v)", ts[0], ts[1], ts[2], logQ != nil)}, sig, ts[0], ts[1], ts[2], logQ != nil, &ssCache{}}
	return graphop.Apply(op, tv, u, y, logQ)
}

func (op sampledSoftmaxOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
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
	sig := graphop.Sig{In: append(slices.Clone(op.In), 0), Out: 3}
	dtv, err := G.ApplyOp(sampledSoftmaxGrad{graphop.OpBase{Name: "GradTv" + op.Name}, sig, op, false, &graphop.OutBuf{}}, args...)
	if err != nil {
		return nil, err
	}
	sig.Out = 2
	du, err := G.ApplyOp(sampledSoftmaxGrad{graphop.OpBase{Name: "GradU" + op.Name}, sig, op, true, &graphop.OutBuf{}}, args...)
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
	graphop.Sig // the op's inputs and the incoming gradient (a scalar)
	op          sampledSoftmaxOp
	wrtU        bool
	buf         *graphop.OutBuf // the result, kept from run to run
}

func (gr sampledSoftmaxGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if gr.wrtU {
		return tensor.Shape{gr.op.B, gr.op.d}, nil
	}
	return tensor.Shape{gr.op.B, gr.op.J, gr.op.d}, nil
}

func (gr sampledSoftmaxGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", gr.Name)
}

func (gr sampledSoftmaxGrad) Do(v ...G.Value) (G.Value, error) {
	shape, _ := gr.InferShape()
	out := gr.buf.Get(v[0], true, shape...)
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
	graphop.Sig
	F, B, m  int
	weighted bool
	buf      *graphop.OutBuf // the result, kept from run to run
}

// fieldRows applies fieldRowsOp; w may be nil.
func fieldRows(h, w *G.Node) (*G.Node, error) {
	s := h.Shape()
	if len(s) != 3 {
		return nil, fmt.Errorf("field rows: shape %v, want (F,B,m)", s)
	}
	sig := graphop.Sig{In: graphop.Opt([]int{3}, w != nil, 3), Out: 2, Diff: []bool{true, true}}
	op := fieldRowsOp{graphop.OpBase{Name: fmt.Sprintf("FieldRows(%d,%d,%d,w=%v)", s[0], s[1], s[2], w != nil)}, sig, s[0], s[1], s[2], w != nil, &graphop.OutBuf{}}
	return graphop.Apply(op, h, w)
}

func (op fieldRowsOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.B, op.F * op.m}, nil
}

func (op fieldRowsOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], true, op.B, op.F*op.m)
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
	sig := graphop.Sig{In: append(slices.Clone(op.In), 2), Out: 3}
	dh, err := G.ApplyOp(fieldRowsGrad{graphop.OpBase{Name: "GradH" + op.Name}, sig, op, false, &graphop.OutBuf{}}, args...)
	if err != nil {
		return nil, err
	}
	if !op.weighted {
		return G.Nodes{dh}, nil
	}
	dw, err := G.ApplyOp(fieldRowsGrad{graphop.OpBase{Name: "GradW" + op.Name}, sig, op, true, &graphop.OutBuf{}}, args...)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dh, dw}, nil
}

// fieldRowsGrad is the gradient of fieldRowsOp with respect to h (wrtW
// false: dh[f,b,k] = w[f,b]·g[b,f·m+k]) or w (dw[f,b] = Σ_k g[b,f·m+k]·h[f,b,k]).
type fieldRowsGrad struct {
	graphop.OpBase
	graphop.Sig // the op's inputs and the incoming gradient
	op          fieldRowsOp
	wrtW        bool
	buf         *graphop.OutBuf // the result, kept from run to run
}

func (gr fieldRowsGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if gr.wrtW {
		return tensor.Shape{gr.op.F, gr.op.B, 1}, nil
	}
	return tensor.Shape{gr.op.F, gr.op.B, gr.op.m}, nil
}

func (gr fieldRowsGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", gr.Name)
}

func (gr fieldRowsGrad) Do(v ...G.Value) (G.Value, error) {
	shape, _ := gr.InferShape()
	out := gr.buf.Get(v[0], true, shape...)
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

// fieldLinearOp is the per-field dense layer: for every field f,
//
//	out[f] = x[f]·W[f] + b[f]   x (F,B,m), W (F,m,m), b (F,1,m)
//
// one GEMM per field on the internal/simd kernels instead of a batched
// product and a broadcast add; differentiable with respect to all three.
type fieldLinearOp struct {
	graphop.OpBase
	graphop.Sig
	F, B, m int
	buf     *graphop.OutBuf // the result, kept from run to run
}

// fieldLinear applies fieldLinearOp.
func fieldLinear(x, w, b *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 3 || !w.Shape().Eq(tensor.Shape{s[0], s[2], s[2]}) || b.Shape().TotalSize() != s[0]*s[2] {
		return nil, fmt.Errorf("field linear: shapes %v, %v and %v do not match", s, w.Shape(), b.Shape())
	}
	sig := graphop.Sig{In: []int{3, 3, 3}, Out: 3, Diff: []bool{true, true, true}}
	return G.ApplyOp(fieldLinearOp{graphop.OpBase{Name: fmt.Sprintf("FieldLinear(%d,%d,%d)", s[0], s[1], s[2])}, sig, s[0], s[1], s[2], &graphop.OutBuf{}}, x, w, b)
}

func (op fieldLinearOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.F, op.B, op.m}, nil
}

func (op fieldLinearOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], true, op.F, op.B, op.m)
	switch x := v[0].Data().(type) {
	case []float32:
		fieldLinearFwd(op, x, v[1].Data().([]float32), v[2].Data().([]float32), out.Data().([]float32))
	case []float64:
		fieldLinearFwd(op, x, v[1].Data().([]float64), v[2].Data().([]float64), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, x)
	}
	return out, nil
}

func fieldLinearFwd[T simd.Float](op fieldLinearOp, x, w, b, out []T) {
	F, B, m := op.F, op.B, op.m
	for f := 0; f < F; f++ {
		of := out[f*B*m : (f+1)*B*m]
		for r := 0; r < B; r++ {
			copy(of[r*m:(r+1)*m], b[f*m:(f+1)*m])
		}
		simd.Gemm(false, false, B, m, m, 1, x[f*B*m:(f+1)*B*m], m, w[f*m*m:(f+1)*m*m], m, 1, of, m)
	}
}

func (op fieldLinearOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	res := make(G.Nodes, 3)
	for i, name := range []string{"GradX", "GradW", "GradB"} {
		d, err := G.ApplyOp(fieldLinearGrad{graphop.OpBase{Name: name + op.Name}, graphop.Sig{In: []int{3, 3, 3}, Out: 3}, op, i, &graphop.OutBuf{}}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		res[i] = d
	}
	return res, nil
}

// fieldLinearGrad is the gradient of fieldLinearOp with respect to its
// input wrt (0 x, 1 W, 2 b), from x, W and the incoming gradient g.
type fieldLinearGrad struct {
	graphop.OpBase
	graphop.Sig
	op  fieldLinearOp
	wrt int
	buf *graphop.OutBuf // the result, kept from run to run
}

func (gr fieldLinearGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	F, B, m := gr.op.F, gr.op.B, gr.op.m
	switch gr.wrt {
	case 0:
		return tensor.Shape{F, B, m}, nil
	case 1:
		return tensor.Shape{F, m, m}, nil
	}
	return tensor.Shape{F, 1, m}, nil
}
func (gr fieldLinearGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", gr.Name)
}

func (gr fieldLinearGrad) Do(v ...G.Value) (G.Value, error) {
	shape, _ := gr.InferShape()
	out := gr.buf.Get(v[0], true, shape...)
	switch x := v[0].Data().(type) {
	case []float32:
		fieldLinearBwd(gr, x, v[1].Data().([]float32), v[2].Data().([]float32), out.Data().([]float32))
	case []float64:
		fieldLinearBwd(gr, x, v[1].Data().([]float64), v[2].Data().([]float64), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", gr.Name, x)
	}
	return out, nil
}

func fieldLinearBwd[T simd.Float](gr fieldLinearGrad, x, w, g, out []T) {
	F, B, m := gr.op.F, gr.op.B, gr.op.m
	for f := 0; f < F; f++ {
		xf, wf, gf := x[f*B*m:(f+1)*B*m], w[f*m*m:(f+1)*m*m], g[f*B*m:(f+1)*B*m]
		switch gr.wrt {
		case 0: // dx = g·Wᵀ
			simd.Gemm(false, true, B, m, m, 1, gf, m, wf, m, 0, out[f*B*m:(f+1)*B*m], m)
		case 1: // dW = xᵀ·g
			simd.Gemm(true, false, m, m, B, 1, xf, m, gf, m, 0, out[f*m*m:(f+1)*m*m], m)
		default: // db = Σ_rows g
			db := out[f*m : (f+1)*m]
			for r := 0; r < B; r++ {
				simd.Axpy(1, gf[r*m:(r+1)*m], db)
			}
		}
	}
}

// attnPoolOp is the summing attention merge: for every head hd,
//
//	out[b, hd·m+k] = Σ_f a[f,b,hd] · h[f,b,k]   a (F,B,H), h (F,B,m)
//
// in place of two transposes, a batched product and a reshape;
// differentiable with respect to a and h.
type attnPoolOp struct {
	graphop.OpBase
	graphop.Sig
	F, B, H, m int
	buf        *graphop.OutBuf // the result, kept from run to run
}

// attnPool applies attnPoolOp.
func attnPool(a, h *G.Node) (*G.Node, error) {
	as, hs := a.Shape(), h.Shape()
	if len(as) != 3 || len(hs) != 3 || as[0] != hs[0] || as[1] != hs[1] {
		return nil, fmt.Errorf("attention pool: shapes %v and %v do not match", as, hs)
	}
	sig := graphop.Sig{In: []int{3, 3}, Out: 2, Diff: []bool{true, true}}
	return G.ApplyOp(attnPoolOp{graphop.OpBase{Name: fmt.Sprintf("AttnPool(%d,%d,%d,%d)", as[0], as[1], as[2], hs[2])}, sig, as[0], as[1], as[2], hs[2], &graphop.OutBuf{}}, a, h)
}

func (op attnPoolOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.B, op.H * op.m}, nil
}

func (op attnPoolOp) Do(v ...G.Value) (G.Value, error) {
	out := op.buf.Get(v[0], true, op.B, op.H*op.m)
	switch a := v[0].Data().(type) {
	case []float32:
		attnPoolFwd(op, a, v[1].Data().([]float32), out.Data().([]float32))
	case []float64:
		attnPoolFwd(op, a, v[1].Data().([]float64), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", op.Name, a)
	}
	return out, nil
}

func attnPoolFwd[T simd.Float](op attnPoolOp, a, h, out []T) {
	F, B, H, m := op.F, op.B, op.H, op.m
	for f := 0; f < F; f++ {
		for b := 0; b < B; b++ {
			hv := h[(f*B+b)*m : (f*B+b)*m+m]
			for hd := 0; hd < H; hd++ {
				o := b*H*m + hd*m
				simd.Axpy(a[(f*B+b)*H+hd], hv, out[o:o+m])
			}
		}
	}
}

func (op attnPoolOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	sig := graphop.Sig{In: []int{3, 3, 2}, Out: 3}
	da, err := G.ApplyOp(attnPoolGrad{graphop.OpBase{Name: "GradA" + op.Name}, sig, op, false, &graphop.OutBuf{}}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dh, err := G.ApplyOp(attnPoolGrad{graphop.OpBase{Name: "GradH" + op.Name}, sig, op, true, &graphop.OutBuf{}}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{da, dh}, nil
}

// attnPoolGrad is the gradient of attnPoolOp with respect to a (wrtH false)
// or h, from a, h and the incoming gradient g.
type attnPoolGrad struct {
	graphop.OpBase
	graphop.Sig
	op   attnPoolOp
	wrtH bool
	buf  *graphop.OutBuf // the result, kept from run to run
}

func (gr attnPoolGrad) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if gr.wrtH {
		return tensor.Shape{gr.op.F, gr.op.B, gr.op.m}, nil
	}
	return tensor.Shape{gr.op.F, gr.op.B, gr.op.H}, nil
}
func (gr attnPoolGrad) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s is not differentiable", gr.Name)
}

func (gr attnPoolGrad) Do(v ...G.Value) (G.Value, error) {
	shape, _ := gr.InferShape()
	out := gr.buf.Get(v[0], true, shape...)
	switch a := v[0].Data().(type) {
	case []float32:
		attnPoolBwd(gr, a, v[1].Data().([]float32), v[2].Data().([]float32), out.Data().([]float32))
	case []float64:
		attnPoolBwd(gr, a, v[1].Data().([]float64), v[2].Data().([]float64), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%s: unsupported data %T", gr.Name, a)
	}
	return out, nil
}

func attnPoolBwd[T simd.Float](gr attnPoolGrad, a, h, g, out []T) {
	F, B, H, m := gr.op.F, gr.op.B, gr.op.H, gr.op.m
	for f := 0; f < F; f++ {
		for b := 0; b < B; b++ {
			i := f*B + b
			for hd := 0; hd < H; hd++ {
				gs := g[b*H*m+hd*m : b*H*m+hd*m+m]
				if gr.wrtH {
					simd.Axpy(a[i*H+hd], gs, out[i*m:i*m+m])
				} else {
					out[i*H+hd] = simd.Dot(gs, h[i*m:i*m+m])
				}
			}
		}
	}
}
