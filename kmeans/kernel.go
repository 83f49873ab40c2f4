package kmeans

import "math"

// The distance kernels (scores against transposed centroids, argmins,
// float64 accumulation) live in internal/simd.

// finite reports whether every value of x is finite (neither NaN nor ±Inf:
// the exponent bits are not all ones).
func finite(x []float32) bool {
	const exp = 0x7f800000
	var bad uint32
	for _, v := range x {
		// (e^exp) is 0 exactly when the exponent is all ones; subtracting
		// 1 then sets the top bit, which no other exponent value can.
		bad |= ((math.Float32bits(v) & exp) ^ exp) - 1
	}
	return bad>>31 == 0
}
