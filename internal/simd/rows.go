package simd

// Row kernels of the look-alike inference and the fused graph ops: dot
// products of many rows against one or two vectors, weighted row sums,
// attention weights exp(tanh(x)) and the dense layers z = b + x·W.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Dot2Rows computes, for each of the n rows of width h in rows,
// outU[r] = row·u, and for the first nq rows outQ[r] = row·q.
func Dot2Rows(rows []float32, n, nq, h int, q, u, outQ, outU []float32) {
	Dot2RowsPF(rows, n, nq, h, q, u, outQ, outU, nil)
}

// Dot2RowsPF is Dot2Rows that also prefetches next (the rows worked on
// next) into the cache while it works. Without assembly it is Dot2Rows.
func Dot2RowsPF(rows []float32, n, nq, h int, q, u, outQ, outU, next []float32) {
	if useAsm && h%8 == 0 && n > 0 && h > 0 && nq <= n &&
		len(rows) >= n*h && (nq == 0 || len(q) >= h) && len(u) >= h && len(outQ) >= nq && len(outU) >= n {
		qp := &u[0]
		if nq > 0 {
			qp = &q[0]
		}
		oq := &outU[0]
		if nq > 0 {
			oq = &outQ[0]
		}
		pf, lines := &rows[0], 0
		if len(next) > 0 {
			pf, lines = &next[0], (len(next)*4+63)/64
		}
		dot2AVX(&rows[0], n, nq, h, qp, &u[0], oq, &outU[0], pf, lines)
		return
	}
	dot2RowsGo(rows, n, nq, h, q, u, outQ, outU)
}

// dot2RowsGo is the fallback of Dot2Rows.
func dot2RowsGo(rows []float32, n, nq, h int, q, u, outQ, outU []float32) {
	u = u[:h]
	if nq > 0 {
		q = q[:h]
	}
	for r := 0; r < n; r++ {
		row := rows[r*h : r*h+h]
		if r >= nq {
			outU[r] = dotGo(row, u)
			continue
		}
		var a0, a1, a2, a3, b0, b1, b2, b3 float32
		i := 0
		for ; i+4 <= h; i += 4 {
			x0, x1, x2, x3 := row[i], row[i+1], row[i+2], row[i+3]
			a0 += x0 * q[i]
			a1 += x1 * q[i+1]
			a2 += x2 * q[i+2]
			a3 += x3 * q[i+3]
			b0 += x0 * u[i]
			b1 += x1 * u[i+1]
			b2 += x2 * u[i+2]
			b3 += x3 * u[i+3]
		}
		for ; i < h; i++ {
			a0 += row[i] * q[i]
			b0 += row[i] * u[i]
		}
		outQ[r] = (a0 + a1) + (a2 + a3)
		outU[r] = (b0 + b1) + (b2 + b3)
	}
}

// ExpTanh replaces every x[i] by exp(tanh(x[i])): tanh by Tanh's rational
// approximation, then exp on [-1, 1] by its degree-9 Taylor polynomial
// (relative error below 1e-6).
func ExpTanh(x []float32) {
	n := len(x) &^ 7
	if useAsm && n > 0 {
		tanhAVX(&x[0], n, true)
		x = x[n:]
	}
	for i, v := range x {
		x[i] = expUnit(Tanh(v))
	}
}

// TanhInPlace replaces every x[i] by tanh(x[i]) (Tanh's approximation for
// float32, math.Tanh for float64).
func TanhInPlace[T Float](x []T) {
	if x32, ok := any(x).([]float32); ok {
		n := len(x32) &^ 7
		if useAsm && n > 0 {
			tanhAVX(&x32[0], n, false)
			x32 = x32[n:]
		}
		for i, v := range x32 {
			x32[i] = Tanh(v)
		}
		return
	}
	for i, v := range x {
		x[i] = T(tanh64(float64(v)))
	}
}

// tanhClamp is where the rational tanh reaches ±1 in float32.
const tanhClamp = 7.90531110763549805

// Tanh is a float32 tanh: the rational approximation of Eigen's
// ptanh_float (absolute error below 4e-7), much faster than math.Tanh. The
// assembly evaluates the same formula.
func Tanh(x float32) float32 {
	x = min(max(x, -tanhClamp), tanhClamp)
	x2 := x * x
	p := float32(-2.76076847742355e-16)
	p = p*x2 + 2.00018790482477e-13
	p = p*x2 + -8.60467152213735e-11
	p = p*x2 + 5.12229709037114e-08
	p = p*x2 + 1.48572235717979e-05
	p = p*x2 + 6.37261928875436e-04
	p = p*x2 + 4.89352455891786e-03
	p *= x
	q := float32(1.19825839466702e-06)
	q = q*x2 + 1.18534705686654e-04
	q = q*x2 + 2.26843463243900e-03
	q = q*x2 + 4.89352518554385e-03
	return p / q
}

// expUnit is exp(y) for y in [-1, 1] (Taylor polynomial of degree 9).
func expUnit(y float32) float32 {
	p := float32(1.0 / 362880)
	p = p*y + 1.0/40320
	p = p*y + 1.0/5040
	p = p*y + 1.0/720
	p = p*y + 1.0/120
	p = p*y + 1.0/24
	p = p*y + 1.0/6
	p = p*y + 0.5
	p = p*y + 1
	p = p*y + 1
	return p
}

// WSum writes dst = Σ_c w[c]·rows[c] for k rows of width h.
func WSum(rows []float32, k, h int, w, dst []float32) {
	if useAsm && h%8 == 0 && k > 0 && h > 0 && len(rows) >= k*h && len(w) >= k && len(dst) >= h {
		wsumAVX(&rows[0], k, h, &w[0], &dst[0])
		return
	}
	wsumGo(rows, k, h, w, dst)
}

// wsumGo is the fallback of WSum.
func wsumGo(rows []float32, k, h int, w, dst []float32) {
	dst = dst[:h]
	clear(dst)
	for c := 0; c < k; c++ {
		wc := w[c]
		row := rows[c*h : c*h+h]
		for j, v := range row {
			dst[j] += wc * v
		}
	}
}

// LinearRows writes z[r] = b + x[r]·W for the n rows of x (n,d), with W
// (d,h) and z (n,h).
//
// With the AVX2 kernels and h a multiple of 8, every element is summed
// from b in the order of x's columns, one fused multiply-add per term,
// whatever n: blocks of four rows and 16 columns share each load of W
// (h a multiple of 16), the other rows go one by one.
func LinearRows(x []float32, n, d, h int, w, b, z []float32) {
	if !useAsm || h%8 != 0 || n <= 0 || d <= 0 || len(x) < n*d || len(w) < d*h || len(b) < h || len(z) < n*h {
		linearRowsGo(x, n, d, h, w, b, z)
		return
	}
	n4 := 0
	if h%16 == 0 {
		n4 = n &^ 3
		for i := 0; i < n4; i += 4 {
			for j := 0; j < h; j += 16 {
				linear4x16(d, &x[i*d], d, &w[j], h, &b[j], &z[i*h+j], h)
			}
		}
	}
	if n4 < n {
		linearAVX(&x[n4*d], n-n4, d, h, &w[0], &b[0], &z[n4*h])
	}
}

// linearRowsGo is the fallback of LinearRows, with gonum's matrix product.
func linearRowsGo(x []float32, n, d, h int, w, b, z []float32) {
	for i := 0; i < n; i++ {
		copy(z[i*h:(i+1)*h], b[:h])
	}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas32.General{Rows: n, Cols: d, Stride: d, Data: x[:n*d]},
		blas32.General{Rows: d, Cols: h, Stride: h, Data: w[:d*h]},
		1, blas32.General{Rows: n, Cols: h, Stride: h, Data: z[:n*h]})
}
