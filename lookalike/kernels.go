package lookalike

// This file holds the portable kernels of the inference hot loop. On amd64
// with AVX2 and FMA, dot2rows, expTanh and wsum run assembly versions
// (kernels_amd64.*) of the same computations; the Go versions here are the
// reference and the fallback.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// dot returns x·y over len(x) elements (y must be at least as long).
func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot2rowsGo computes, for each of the n rows of width h in rows,
// outU[r] = row·u, and for the first nq rows outQ[r] = row·q.
func dot2rowsGo(rows []float32, n, nq, h int, q, u, outQ, outU []float32) {
	u = u[:h]
	if nq > 0 {
		q = q[:h]
	}
	for r := 0; r < n; r++ {
		row := rows[r*h : r*h+h]
		if r >= nq {
			outU[r] = dot(row, u)
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

// expTanhGo replaces every x[i] by exp(tanh(x[i])): tanh by the rational
// approximation used by Eigen (absolute error below 4e-7 in float32), then
// exp on [-1, 1] by its degree-9 Taylor polynomial (relative error below
// 1e-6). The AVX2 kernel evaluates the same formulas.
func expTanhGo(x []float32) {
	for i, v := range x {
		x[i] = expUnit(tanhApprox(v))
	}
}

// tanhClamp is where the rational tanh reaches ±1 in float32.
const tanhClamp = 7.90531110763549805

func tanhApprox(x float32) float32 {
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

// wsumGo writes dst = Σ_c w[c]·rows[c] for k rows of width h.
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

// linearRowsGo writes z[r] = b + x[r]·W for x (n,d), W (d,h), z (n,h), with
// gonum's matrix product.
func linearRowsGo(x []float32, n, d, h int, w, b, z []float32) {
	for i := 0; i < n; i++ {
		copy(z[i*h:(i+1)*h], b[:h])
	}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas32.General{Rows: n, Cols: d, Stride: d, Data: x[:n*d]},
		blas32.General{Rows: d, Cols: h, Stride: h, Data: w[:d*h]},
		1, blas32.General{Rows: n, Cols: h, Stride: h, Data: z[:n*h]})
}

// rank1RowsGo adds xᵀg to dw (d,h) for x (n,d) and g (n,h), with gonum's
// matrix product.
func rank1RowsGo(x []float32, n, d, h int, g, dw []float32) {
	blas32.Gemm(blas.Trans, blas.NoTrans, 1,
		blas32.General{Rows: n, Cols: d, Stride: d, Data: x[:n*d]},
		blas32.General{Rows: n, Cols: h, Stride: h, Data: g[:n*h]},
		1, blas32.General{Rows: d, Cols: h, Stride: h, Data: dw[:d*h]})
}
