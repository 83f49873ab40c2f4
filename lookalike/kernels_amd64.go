//go:build amd64 && !purego

package lookalike

import "golang.org/x/sys/cpu"

// hasAVX2FMA is decided once from the CPU's features.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dot2AVX(rows *float32, n, nq, h int, q, u, outQ, outU *float32)

//go:noescape
func expTanhAVX(x *float32, n int)

//go:noescape
func wsumAVX(rows *float32, k, h int, w, dst *float32)

// dot2rows computes, for each of the n rows of width h in rows,
// outU[r] = row·u, and for the first nq rows outQ[r] = row·q.
func dot2rows(rows []float32, n, nq, h int, q, u, outQ, outU []float32) {
	if hasAVX2FMA && h%8 == 0 && n > 0 && h > 0 && nq <= n &&
		len(rows) >= n*h && len(q) >= h && len(u) >= h && len(outQ) >= nq && len(outU) >= n {
		qp := &u[0]
		if nq > 0 {
			qp = &q[0]
		}
		oq := &outU[0]
		if nq > 0 {
			oq = &outQ[0]
		}
		dot2AVX(&rows[0], n, nq, h, qp, &u[0], oq, &outU[0])
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
