//go:build !amd64 || purego

package lookalike

const hasAVX2FMA = false

// dot2rows computes, for each of the n rows of width h in rows,
// outU[r] = row·u, and for the first nq rows outQ[r] = row·q.
func dot2rows(rows []float32, n, nq, h int, q, u, outQ, outU []float32) {
	dot2rowsGo(rows, n, nq, h, q, u, outQ, outU)
}

// expTanh replaces x[i] by exp(tanh(x[i])); see expTanhGo.
func expTanh(x []float32) { expTanhGo(x) }

// wsum writes dst = Σ_c w[c]·rows[c] for k rows of width h.
func wsum(rows []float32, k, h int, w, dst []float32) { wsumGo(rows, k, h, w, dst) }
