package userrep

// This file is the hand-written forward and backward pass of the user tower
// (per-field layer, merge, MLP) and of the sampled-softmax loss. It is plain
// Go plus gonum BLAS, shared by training (EngineNative) and inference, and
// tested against the gorgonia graph in graph.go.
//
// Batch layout: the pooled field vectors X are f-major, X[(f·B+b)·m + k];
// the targets Tv are (B, 1+K, d) with the positive at index 0.

import "github.com/ralmlab/ralm/internal/simd"

// net holds the activations and scratch buffers of one forward/backward pass
// at batch size B (at most capB, see use). It is not safe for concurrent use;
// inference keeps a pool.
type net[T float] struct {
	lay  *layout
	B    int
	capB int
	full *net[T] // the buffers at capB, re-sliced by use

	in []T // pooled-input scratch (F·B·m) for callers that need one

	hf  []T   // per-field layer output (F·B·m), aliases X without the layer
	g   []T   // merged field vectors after optional normalisation (F·B·m)
	nrm []T   // per field vector norms (F·B) when FieldNorm
	u   []T   // attention tanh layer (F·B·A)
	a   []T   // attention weights (F·B·heads)
	mv  []T   // merged vector (B·in0)
	ys  [][]T // MLP outputs per layer (B·hid[l]); the last is the embedding

	// loss
	prob []T // softmax of the logits (B·J)

	// backward scratch
	dG  []T
	dHf []T
	dU  []T
	dS  []T
	dM  []T
	dYs [][]T
	du  []T
}

// newNet allocates the buffers for batch size B; train adds the backward ones.
func newNet[T float](l *layout, B int, train bool) *net[T] {
	fb := l.F * B
	n := &net[T]{lay: l, B: B, capB: B, in: make([]T, fb*l.m)}
	if l.ffcW.valid() {
		n.hf = make([]T, fb*l.m)
	}
	if l.cfg.FieldNorm {
		n.g = make([]T, fb*l.m)
		n.nrm = make([]T, fb)
	}
	if l.attW1.valid() {
		n.u = make([]T, fb*l.A)
		n.a = make([]T, fb*l.heads)
	}
	n.mv = make([]T, B*l.in0)
	for _, h := range l.hid {
		n.ys = append(n.ys, make([]T, B*h))
	}
	if train {
		n.prob = make([]T, B*(1+l.cfg.Negatives))
		n.dG = make([]T, fb*l.m)
		n.dHf = make([]T, fb*l.m)
		if l.attW1.valid() {
			n.dU = make([]T, fb*l.A)
			n.dS = make([]T, fb*l.heads)
		}
		n.dM = make([]T, B*l.in0)
		n.du = make([]T, B*l.d)
		for _, h := range l.hid {
			n.dYs = append(n.dYs, make([]T, B*h))
		}
	}
	n.full = &net[T]{}
	*n.full = *n
	n.full.ys = append([][]T(nil), n.ys...)
	n.full.dYs = append([][]T(nil), n.dYs...)
	return n
}

// use sets the active batch size to B ≤ capB, re-slicing every buffer.
func (n *net[T]) use(B int) {
	if B == n.B {
		return
	}
	if B > n.capB || B <= 0 {
		panic("userrep: net batch size out of range")
	}
	l, f := n.lay, n.full
	fb := l.F * B
	cut := func(s []T, k int) []T {
		if s == nil {
			return nil
		}
		return s[:k]
	}
	n.B = B
	n.in = f.in[:fb*l.m]
	n.hf, n.g, n.nrm = cut(f.hf, fb*l.m), cut(f.g, fb*l.m), cut(f.nrm, fb)
	n.u, n.a, n.mv = cut(f.u, fb*l.A), cut(f.a, fb*l.heads), cut(f.mv, B*l.in0)
	for i, h := range l.hid {
		n.ys[i] = cut(f.ys[i], B*h)
		if f.dYs != nil {
			n.dYs[i] = cut(f.dYs[i], B*h)
		}
	}
	n.prob = cut(f.prob, B*(1+l.cfg.Negatives))
	n.dG, n.dHf = cut(f.dG, fb*l.m), cut(f.dHf, fb*l.m)
	n.dU, n.dS, n.dM = cut(f.dU, fb*l.A), cut(f.dS, fb*l.heads), cut(f.dM, B*l.in0)
	n.du = cut(f.du, B*l.d)
}

// forward runs the tower on the pooled inputs x (F·B·m) and returns the user
// embeddings (B·d, owned by n). keep, if not nil, is the field-dropout mask
// (F·B): 0 drops a field; for the concat merge a kept value is the scale.
func (n *net[T]) forward(p *params[T], x, keep []T) []T {
	l := n.lay
	B, F, m := n.B, l.F, l.m
	fb := F * B

	// per-field dense layer
	hf := x
	if l.ffcW.valid() {
		hf = n.hf
		W, b := p.get(l.ffcW), p.get(l.ffcB)
		for f := 0; f < F; f++ {
			xs := x[f*B*m : (f+1)*B*m]
			hs := hf[f*B*m : (f+1)*B*m]
			simd.Gemm(false, false, B, m, m, 1, xs, m, W[f*m*m:(f+1)*m*m], m, 0, hs, m)
			addBias(hs, B, b[f*m:(f+1)*m])
		}
		switch l.cfg.FieldFC {
		case FieldFCTanh:
			simd.TanhInPlace(hf)
		case FieldFCReLU:
			for i, v := range hf {
				if v < 0 {
					hf[i] = 0
				}
			}
		}
	}

	// optional L2 normalisation of every field vector
	g := hf
	if l.cfg.FieldNorm {
		g = n.g
		for r := 0; r < fb; r++ {
			row := hf[r*m : r*m+m]
			nr := sqrtT(simd.Dot(row, row) + normEps)
			n.nrm[r] = nr
			inv := 1 / nr
			out := g[r*m : r*m+m]
			for k, v := range row {
				out[k] = v * inv
			}
		}
	}

	// merge
	mv := n.mv
	if l.attW1.valid() {
		A, H := l.A, l.heads
		u := n.u
		simd.Gemm(false, false, fb, A, m, 1, g, m, p.get(l.attW1), A, 0, u, A)
		addBias(u, fb, p.get(l.attB1))
		simd.TanhInPlace(u)
		a := n.a
		simd.Gemm(false, false, fb, H, A, T(1/l.cfg.Temperature), u, A, p.get(l.attW2), H, 0, a, H)
		clear(mv)
		for b := 0; b < B; b++ {
			for h := 0; h < H; h++ {
				// softmax over the kept fields of a[(f·B+b)·H+h]
				mx, any := T(0), false
				for f := 0; f < F; f++ {
					if keep != nil && keep[f*B+b] == 0 {
						continue
					}
					if v := a[(f*B+b)*H+h]; !any || v > mx {
						mx, any = v, true
					}
				}
				var sum T
				for f := 0; f < F; f++ {
					i := (f*B+b)*H + h
					if keep != nil && keep[f*B+b] == 0 {
						a[i] = 0
						continue
					}
					e := expT(a[i] - mx)
					a[i] = e
					sum += e
				}
				inv := 1 / sum
				dst := mv[b*l.in0+h*m : b*l.in0+h*m+m]
				for f := 0; f < F; f++ {
					i := (f*B+b)*H + h
					a[i] *= inv
					if l.gated {
						// block f of the concatenation, scaled by F·a
						blk := mv[b*l.in0+f*m : b*l.in0+f*m+m]
						s := T(F) * a[i]
						for k, v := range g[(f*B+b)*m : (f*B+b)*m+m] {
							blk[k] = s * v
						}
					} else if a[i] != 0 {
						simd.Axpy(a[i], g[(f*B+b)*m:(f*B+b)*m+m], dst)
					}
				}
			}
		}
	} else {
		for f := 0; f < F; f++ {
			for b := 0; b < B; b++ {
				src := g[(f*B+b)*m : (f*B+b)*m+m]
				dst := mv[b*l.in0+f*m : b*l.in0+f*m+m]
				if keep == nil {
					copy(dst, src)
					continue
				}
				s := keep[f*B+b]
				for k, v := range src {
					dst[k] = s * v
				}
			}
		}
	}

	// MLP: ReLU on all but the last layer
	in, inDim := mv, l.in0
	for i, h := range l.hid {
		y := n.ys[i]
		simd.Gemm(false, false, B, h, inDim, 1, in, inDim, p.get(l.mlpW[i]), h, 0, y, h)
		addBias(y, B, p.get(l.mlpB[i]))
		if i < len(l.hid)-1 {
			for k, v := range y {
				if v < 0 {
					y[k] = 0
				}
			}
		}
		in, inDim = y, h
	}
	return in
}

// normEps keeps the field-vector norm away from zero.
const normEps = 1e-6

// lossGrad computes the sampled-softmax loss of the embeddings u (B·d) against
// the targets tv (B·J·d), positive first, with optional logit offsets logQ
// (B·J, subtracted) and per-example weights w (B, zero for padding rows), and
// writes dL/du into n.du and dL/dtv into dtv. It returns Σ_b w_b·loss_b.
func (n *net[T]) lossGrad(u, tv, logQ, w, dtv []T) T {
	l := n.lay
	B, d, J := n.B, l.d, 1+l.cfg.Negatives
	du := n.du
	clear(du)
	var loss T
	for b := 0; b < B; b++ {
		ub := u[b*d : b*d+d]
		pr := n.prob[b*J : b*J+J]
		mx := T(0)
		for j := 0; j < J; j++ {
			z := simd.Dot(tv[(b*J+j)*d:(b*J+j)*d+d], ub)
			if logQ != nil {
				z -= logQ[b*J+j]
			}
			pr[j] = z
			if j == 0 || z > mx {
				mx = z
			}
		}
		var sum T
		for j := range pr {
			sum += expT(pr[j] - mx)
		}
		lse := mx + logT(sum)
		wb := w[b]
		loss += wb * (lse - pr[0])
		dub := du[b*d : b*d+d]
		for j := 0; j < J; j++ {
			p := expT(pr[j] - lse)
			pr[j] = p
			dz := p
			if j == 0 {
				dz -= 1
			}
			dz *= wb
			t := tv[(b*J+j)*d : (b*J+j)*d+d]
			dt := dtv[(b*J+j)*d : (b*J+j)*d+d]
			if dz == 0 {
				clear(dt)
				continue
			}
			for k := range dt {
				dt[k] = dz * ub[k]
			}
			simd.Axpy(dz, t, dub)
		}
	}
	return loss
}

// backward propagates dL/du (n.du) back through the tower of the last forward
// call on inputs x with mask keep. It writes dL/dx into dx and the gradients
// of the per-field, attention and MLP parameters into dense (other spans are
// left untouched).
func (n *net[T]) backward(p *params[T], x, keep, dx, dense []T) {
	l := n.lay
	B, F, m := n.B, l.F, l.m
	fb := F * B
	hf := x
	if l.ffcW.valid() {
		hf = n.hf
	}
	g := hf
	if l.cfg.FieldNorm {
		g = n.g
	}
	get := func(s span) []T { return dense[s.off : s.off+s.n()] }

	// MLP
	dy := n.du
	for i := len(l.hid) - 1; i >= 0; i-- {
		h := l.hid[i]
		if i < len(l.hid)-1 {
			y := n.ys[i]
			for k, v := range y {
				if v <= 0 {
					dy[k] = 0
				}
			}
		}
		in, inDim := n.mv, l.in0
		if i > 0 {
			in, inDim = n.ys[i-1], l.hid[i-1]
		}
		simd.Gemm(true, false, inDim, h, B, 1, in, inDim, dy, h, 0, get(l.mlpW[i]), h)
		db := get(l.mlpB[i])
		clear(db)
		sumRows(dy, B, db)
		var dIn []T
		if i > 0 {
			dIn = n.dYs[i-1]
		} else {
			dIn = n.dM
		}
		simd.Gemm(false, true, B, inDim, h, 1, dy, h, p.get(l.mlpW[i]), h, 0, dIn, inDim)
		dy = dIn
	}
	dM := n.dM

	// merge
	dG := n.dG
	if l.attW1.valid() {
		A, H := l.A, l.heads
		a, u, dS := n.a, n.u, n.dS
		clear(dG)
		for b := 0; b < B; b++ {
			for h := 0; h < H; h++ {
				dm := dM[b*l.in0+h*m : b*l.in0+h*m+m]
				var s T
				for f := 0; f < F; f++ {
					i := (f*B+b)*H + h
					gr := g[(f*B+b)*m : (f*B+b)*m+m]
					ai := a[i]
					if l.gated {
						// M block f = F·a·g
						dm = dM[b*l.in0+f*m : b*l.in0+f*m+m]
						ai *= T(F)
					}
					da := simd.Dot(dm, gr)
					if l.gated {
						da *= T(F)
					}
					dS[i] = da
					s += a[i] * da
					if ai != 0 {
						simd.Axpy(ai, dm, dG[(f*B+b)*m:(f*B+b)*m+m])
					}
				}
				for f := 0; f < F; f++ {
					i := (f*B+b)*H + h
					dS[i] = a[i] * (dS[i] - s)
				}
			}
		}
		invT := T(1 / l.cfg.Temperature)
		// w2: (A,H); scores = U·w2/τ
		simd.Gemm(true, false, A, H, fb, invT, u, A, dS, H, 0, get(l.attW2), H)
		dU := n.dU
		simd.Gemm(false, true, fb, A, H, invT, dS, H, p.get(l.attW2), H, 0, dU, A)
		for i, v := range u {
			dU[i] *= 1 - v*v
		}
		simd.Gemm(true, false, m, A, fb, 1, g, m, dU, A, 0, get(l.attW1), A)
		db1 := get(l.attB1)
		clear(db1)
		sumRows(dU, fb, db1)
		simd.Gemm(false, true, fb, m, A, 1, dU, A, p.get(l.attW1), A, 1, dG, m)
	} else {
		for f := 0; f < F; f++ {
			for b := 0; b < B; b++ {
				src := dM[b*l.in0+f*m : b*l.in0+f*m+m]
				dst := dG[(f*B+b)*m : (f*B+b)*m+m]
				if keep == nil {
					copy(dst, src)
					continue
				}
				s := keep[f*B+b]
				for k, v := range src {
					dst[k] = s * v
				}
			}
		}
	}

	// normalisation: dH = (dG - G·(G·dG)) / n
	dH := dG
	if l.cfg.FieldNorm {
		dH = n.dHf
		for r := 0; r < fb; r++ {
			gr := g[r*m : r*m+m]
			dgr := dG[r*m : r*m+m]
			c := simd.Dot(gr, dgr)
			inv := 1 / n.nrm[r]
			out := dH[r*m : r*m+m]
			for k := range out {
				out[k] = (dgr[k] - gr[k]*c) * inv
			}
		}
	}

	// per-field layer
	if !l.ffcW.valid() {
		copy(dx, dH)
		return
	}
	switch l.cfg.FieldFC {
	case FieldFCTanh:
		for i, v := range hf {
			dH[i] *= 1 - v*v
		}
	case FieldFCReLU:
		for i, v := range hf {
			if v <= 0 {
				dH[i] = 0
			}
		}
	}
	W, dW, db := p.get(l.ffcW), get(l.ffcW), get(l.ffcB)
	clear(db)
	for f := 0; f < F; f++ {
		xs := x[f*B*m : (f+1)*B*m]
		dz := dH[f*B*m : (f+1)*B*m]
		simd.Gemm(true, false, m, m, B, 1, xs, m, dz, m, 0, dW[f*m*m:(f+1)*m*m], m)
		sumRows(dz, B, db[f*m:(f+1)*m])
		simd.Gemm(false, true, B, m, m, 1, dz, m, W[f*m*m:(f+1)*m*m], m, 0, dx[f*B*m:(f+1)*B*m], m)
	}
}
