//go:build amd64 && !purego

package lookalike

import "golang.org/x/sys/cpu"

// hasAVX2FMA is decided once from the CPU's features.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dot2AVX(rows *float32, n, nq, h int, q, u, outQ, outU, pf *float32, pfLines int)

//go:noescape
func expTanhAVX(x *float32, n int)

//go:noescape
func wsumAVX(rows *float32, k, h int, w, dst *float32)

// dot2rows computes, for each of the n rows of width h in rows,
// outU[r] = row·u, and for the first nq rows outQ[r] = row·q.
func dot2rows(rows []float32, n, nq, h int, q, u, outQ, outU []float32) {
	dot2rowsPF(rows, n, nq, h, q, u, outQ, outU, nil)
}

// dot2rowsPF is dot2rows that also prefetches next (the rows of the item
// scored next) into the cache while it works.
func dot2rowsPF(rows []float32, n, nq, h int, q, u, outQ, outU, next []float32) {
	if hasAVX2FMA && h%8 == 0 && n > 0 && h > 0 && nq <= n &&
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
	dot2rowsGo(rows, n, nq, h, q, u, outQ, outU)
}

// expTanh replaces x[i] by exp(tanh(x[i])); see expTanhGo.
func expTanh(x []float32) {
	n := len(x) &^ 7
	if hasAVX2FMA && n > 0 {
		expTanhAVX(&x[0], n)
		expTanhGo(x[n:])
		return
	}
	expTanhGo(x)
}

// wsum writes dst = Σ_c w[c]·rows[c] for k rows of width h.
func wsum(rows []float32, k, h int, w, dst []float32) {
	if hasAVX2FMA && h%8 == 0 && k > 0 && h > 0 && len(rows) >= k*h && len(w) >= k && len(dst) >= h {
		wsumAVX(&rows[0], k, h, &w[0], &dst[0])
		return
	}
	wsumGo(rows, k, h, w, dst)
}

//go:noescape
func linearAVX(x *float32, n, d, h int, w, b, z *float32)

//go:noescape
func rank1AVX(x *float32, n, d, h int, gr, dw *float32)

// linearRows writes z[r] = b + Σ_k x[r,k]·w[k] for the n rows of x (n,d),
// with w (d,h) and z (n,h).
func linearRows(x []float32, n, d, h int, w, b, z []float32) {
	if hasAVX2FMA && h%8 == 0 && n > 0 && d > 0 && len(x) >= n*d && len(w) >= d*h && len(b) >= h && len(z) >= n*h {
		linearAVX(&x[0], n, d, h, &w[0], &b[0], &z[0])
		return
	}
	linearRowsGo(x, n, d, h, w, b, z)
}

// rank1Rows adds Σ_r x[r]ᵀ·g[r] to dw (d,h) for x (n,d) and g (n,h).
func rank1Rows(x []float32, n, d, h int, g, dw []float32) {
	if hasAVX2FMA && h%8 == 0 && n > 0 && d > 0 && len(x) >= n*d && len(g) >= n*h && len(dw) >= d*h {
		rank1AVX(&x[0], n, d, h, &g[0], &dw[0])
		return
	}
	rank1RowsGo(x, n, d, h, g, dw)
}
