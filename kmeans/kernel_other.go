//go:build !amd64 || purego

package kmeans

// useAsm is false: no assembly kernels on this platform.
var useAsm = false

func dot4x24(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int) {
	panic("kmeans: no assembly kernel")
}

func dot4x8(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int) {
	panic("kmeans: no assembly kernel")
}

func argminRows(s *float32, kpad int, rows int, idx *int32, val *float32) {
	panic("kmeans: no assembly kernel")
}

func addF32(s *float64, x *float32, n int) {
	panic("kmeans: no assembly kernel")
}

func dotRows2x4(x *float32, xs int, c *float32, cs int, d int, bias *float32, out *float32, os int) {
	panic("kmeans: no assembly kernel")
}

func sqDiffF64(x *float32, mu *float64, n int) float64 {
	panic("kmeans: no assembly kernel")
}

func sqDistF32(a *float32, b *float32, n int) float64 {
	panic("kmeans: no assembly kernel")
}
