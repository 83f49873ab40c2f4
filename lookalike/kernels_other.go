//go:build !amd64 || purego

package lookalike

const hasAVX2FMA = false

// dot2rows computes, for each of the n rows of width h in rows,
// outU[r] = row·u, and for the first nq rows outQ[r] = row·q.
func dot2rows(rows []float32, n, nq, h int, q, u, outQ, outU []float32) {
	dot2rowsGo(rows, n, nq, h, q, u, outQ, outU)
}

// dot2rowsPF is dot2rows; prefetching is left to the hardware here.
func dot2rowsPF(rows []float32, n, nq, h int, q, u, outQ, outU, next []float32) {
	dot2rowsGo(rows, n, nq, h, q, u, outQ, outU)
}

// expTanh replaces x[i] by exp(tanh(x[i])); see expTanhGo.
func expTanh(x []float32) { expTanhGo(x) }

// wsum writes dst = Σ_c w[c]·rows[c] for k rows of width h.
func wsum(rows []float32, k, h int, w, dst []float32) { wsumGo(rows, k, h, w, dst) }

// linearRows writes z[r] = b + Σ_k x[r,k]·w[k] for the n rows of x (n,d),
// with w (d,h) and z (n,h).
func linearRows(x []float32, n, d, h int, w, b, z []float32) { linearRowsGo(x, n, d, h, w, b, z) }

// rank1Rows adds Σ_r x[r]ᵀ·g[r] to dw (d,h) for x (n,d) and g (n,h).
func rank1Rows(x []float32, n, d, h int, g, dw []float32) { rank1RowsGo(x, n, d, h, g, dw) }
