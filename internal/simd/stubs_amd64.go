//go:build amd64 && !purego

package simd

import "golang.org/x/sys/cpu"

// useAsm is the one CPU-feature flag: the AVX2+FMA kernels run when set.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// Distance kernels (dist_amd64.s); see Scores4 and the functions of dist.go.

//go:noescape
func dot4x24(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int)

//go:noescape
func dot4x8(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int)

//go:noescape
func argminRows(s *float32, kpad int, rows int, idx *int32, val *float32)

//go:noescape
func addF32(s *float64, x *float32, n int)

//go:noescape
func dotRows2x4(x *float32, xs int, c *float32, cs int, d int, bias *float32, out *float32, os int)

//go:noescape
func sqDiffF64(x *float32, mu *float64, n int) float64

//go:noescape
func sqDistF32(a *float32, b *float32, n int) float64

// Row kernels (rows_amd64.s); see rows.go.

//go:noescape
func dot2AVX(rows *float32, n, nq, h int, q, u, outQ, outU, pf *float32, pfLines int)

//go:noescape
func tanhAVX(x *float32, n int, exp bool)

//go:noescape
func wsumAVX(rows *float32, k, h int, w, dst *float32)

//go:noescape
func linearAVX(x *float32, n, d, h int, w, b, z *float32)

//go:noescape
func linear4x16(k int, x *float32, ldx int, w *float32, ldw int, b, z *float32, ldz int)

// BLAS-like kernels (blas_amd64.s); see blas.go.

//go:noescape
func sgemmKern4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func sgemmKernT4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func saxpyAVX(n int, alpha float32, x *float32, y *float32)

//go:noescape
func sdotAVX(n int, x *float32, y *float32) float32

//go:noescape
func adamAVX(n int, w, grad, m, v *float32, p *[7]float32)

// PReLU kernels (prelu_amd64.s); see prelu.go.

//go:noescape
func preluFwdAVX(y, z, alpha, mask *float32, rows, h8, stride int)

//go:noescape
func preluGradZAVX(dst, z, alpha, grad, mask *float32, rows, h8, stride int)

//go:noescape
func preluGradAlphaAVX(dst, z, grad, mask *float32, rows, h8, stride int)
