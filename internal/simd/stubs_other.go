//go:build !amd64 || purego

package simd

// useAsm is false: no assembly in this build, every kernel runs its Go
// fallback. The stubs below are never called.
const useAsm = false

const noAsm = "simd: no assembly kernel in this build"

func dot4x24(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int) {
	panic(noAsm)
}

func dot4x8(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int) {
	panic(noAsm)
}

func argminRows(s *float32, kpad int, rows int, idx *int32, val *float32) { panic(noAsm) }

func addF32(s *float64, x *float32, n int) { panic(noAsm) }

func dotRows2x4(x *float32, xs int, c *float32, cs int, d int, bias *float32, out *float32, os int) {
	panic(noAsm)
}

func sqDiffF64(x *float32, mu *float64, n int) float64 { panic(noAsm) }

func sqDistF32(a *float32, b *float32, n int) float64 { panic(noAsm) }

func dot2AVX(rows *float32, n, nq, h int, q, u, outQ, outU, pf *float32, pfLines int) {
	panic(noAsm)
}

func tanhAVX(x *float32, n int, exp bool) { panic(noAsm) }

func wsumAVX(rows *float32, k, h int, w, dst *float32) { panic(noAsm) }

func linearAVX(x *float32, n, d, h int, w, b, z *float32) { panic(noAsm) }

func linear4x16(k int, x *float32, ldx int, w *float32, ldw int, b, z *float32, ldz int) {
	panic(noAsm)
}

func sgemmKern4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic(noAsm)
}

func sgemmKernT4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic(noAsm)
}

func saxpyAVX(n int, alpha float32, x *float32, y *float32) { panic(noAsm) }

func sdotAVX(n int, x *float32, y *float32) float32 { panic(noAsm) }

func adamAVX(n int, w, grad, m, v *float32, p *[7]float32) { panic(noAsm) }

func preluFwdAVX(y, z, alpha, mask *float32, rows, h8, stride int) { panic(noAsm) }

func preluGradZAVX(dst, z, alpha, grad, mask *float32, rows, h8, stride int) { panic(noAsm) }

func preluGradAlphaAVX(dst, z, grad, mask *float32, rows, h8, stride int) { panic(noAsm) }
