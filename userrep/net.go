package userrep

// This file is the inference pass of the user tower (per-field layer, merge,
// MLP): plain Go on the internal/simd kernels, no gorgonia. Training runs
// the gorgonia graph of graph.go; the tests check that this pass equals the
// graph's forward pass.
//
// Batch layout: the pooled field vectors X are f-major, X[(f·B+b)·m + k];
// the targets Tv are (B, 1+K, d) with the positive at index 0.

import "github.com/ralmlab/ralm/internal/simd"

// net holds the activations and scratch buffers of one forward pass at
// batch size B (at most capB, see use). It is not safe for concurrent use;
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
}

// newNet allocates the buffers for batch size B.
func newNet[T float](l *layout, B int) *net[T] {
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
	n.full = &net[T]{}
	*n.full = *n
	n.full.ys = append([][]T(nil), n.ys...)
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
	}
}

// forward runs the tower on the pooled inputs x (F·B·m) and returns the user
// embeddings (B·d, owned by n).
func (n *net[T]) forward(p *params[T], x []T) []T {
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
			tanhRows(hf, m)
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
		tanhRows(u, A)
		a := n.a
		simd.Gemm(false, false, fb, H, A, T(1/l.cfg.Temperature), u, A, p.get(l.attW2), H, 0, a, H)
		clear(mv)
		for b := 0; b < B; b++ {
			for h := 0; h < H; h++ {
				// softmax over the fields of a[(f·B+b)·H+h]
				mx := a[b*H+h]
				for f := 1; f < F; f++ {
					mx = max(mx, a[(f*B+b)*H+h])
				}
				var sum T
				for f := 0; f < F; f++ {
					i := (f*B+b)*H + h
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
		fieldRowsFwd(fieldRowsOp{F: F, B: B, m: m}, g, nil, mv) // the concatenation
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

// tanhRows applies tanh to x, rows of width values, so that every row gets
// the same bits wherever it lies: the SIMD kernel takes blocks of eight and
// its scalar tail rounds differently, so for a width that is not a multiple
// of eight it runs row by row.
func tanhRows[T float](x []T, width int) {
	if width%8 == 0 {
		simd.TanhInPlace(x)
		return
	}
	for r := 0; r+width <= len(x); r += width {
		simd.TanhInPlace(x[r : r+width])
	}
}

// normEps keeps the field-vector norm away from zero.
const normEps = 1e-6
