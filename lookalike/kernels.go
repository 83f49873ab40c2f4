package lookalike

import "github.com/ralmlab/ralm/internal/simd"

// The inference kernels are internal/simd's. These one-line names are kept
// for the scoring code (infer.go, model.go) while another branch rewrites
// it; new code calls simd directly.

func dot(x, y []float32) float32 { return simd.Dot(x, y) }

func dot2rows(rows []float32, n, nq, h int, q, u, outQ, outU []float32) {
	simd.Dot2Rows(rows, n, nq, h, q, u, outQ, outU)
}

func dot2rowsPF(rows []float32, n, nq, h int, q, u, outQ, outU, next []float32) {
	simd.Dot2RowsPF(rows, n, nq, h, q, u, outQ, outU, next)
}

func expTanh(x []float32) { simd.ExpTanh(x) }

func wsum(rows []float32, k, h int, w, dst []float32) { simd.WSum(rows, k, h, w, dst) }

func linearRows(x []float32, n, d, h int, w, b, z []float32) {
	simd.LinearRows(x, n, d, h, w, b, z)
}
