//go:build !amd64 || purego

package userrep

// useAVX2 is false without the amd64 kernels (or with the purego tag).
const useAVX2 = false

func sgemmKern4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic("userrep: no SIMD kernels in this build")
}

func saxpyAVX(n int, alpha float32, x *float32, y *float32) {
	panic("userrep: no SIMD kernels in this build")
}

func sdotAVX(n int, x *float32, y *float32) float32 {
	panic("userrep: no SIMD kernels in this build")
}

func sgemmKernT4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic("userrep: no SIMD kernels in this build")
}

func adamAVX(n int, w, grad, m, v *float32, p *[7]float32) {
	panic("userrep: no SIMD kernels in this build")
}

func tanhAVX(n int, x *float32) {
	panic("userrep: no SIMD kernels in this build")
}
