//go:build amd64 && !purego

package userrep

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2+FMA float32 kernels of simd_amd64.s.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func sgemmKern4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func saxpyAVX(n int, alpha float32, x *float32, y *float32)

//go:noescape
func sdotAVX(n int, x *float32, y *float32) float32

//go:noescape
func sgemmKernT4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func adamAVX(n int, w, grad, m, v *float32, p *[7]float32)

//go:noescape
func tanhAVX(n int, x *float32)
