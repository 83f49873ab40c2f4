//go:build amd64 && !purego

package kmeans

import "golang.org/x/sys/cpu"

// useAsm selects the AVX2/FMA micro-kernels.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dot4x24 computes four points against 24 lanes; see scores4.
//
//go:noescape
func dot4x24(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int)

// dot4x8 computes four points against 8 lanes; see scores4.
//
//go:noescape
func dot4x8(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int)

// argminRows stores, for each of rows rows of kpad scores, the lowest index
// of the row minimum into idx and the minimum into val.
//
//go:noescape
func argminRows(s *float32, kpad int, rows int, idx *int32, val *float32)

// addF32 adds n float32 values of x into the float64 values of s.
//
//go:noescape
func addF32(s *float64, x *float32, n int)

// dotRows2x4 computes two points against four row-major centroids; see
// scoreRows.
//
//go:noescape
func dotRows2x4(x *float32, xs int, c *float32, cs int, d int, bias *float32, out *float32, os int)

// sqDiffF64 returns Σ (float64(x[i]) − mu[i])² over n values.
//
//go:noescape
func sqDiffF64(x *float32, mu *float64, n int) float64

// sqDistF32 returns Σ (float64(a[i]) − float64(b[i]))² over n values.
//
//go:noescape
func sqDistF32(a *float32, b *float32, n int) float64
