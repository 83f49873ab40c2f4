package userrep

import "math"

// Element-type helpers of the inference pass (net.go); the kernels (GEMM,
// dot, axpy, tanh) are internal/simd's.

// expT is exp in the element type.
func expT[T float](x T) T { return T(math.Exp(float64(x))) }

// sqrtT is the square root in the element type.
func sqrtT[T float](x T) T { return T(math.Sqrt(float64(x))) }

// addBias adds the bias b to every row of the rows×len(b) matrix x.
func addBias[T float](x []T, rows int, b []T) {
	n := len(b)
	for r := 0; r < rows; r++ {
		row := x[r*n : r*n+n]
		for k, v := range b {
			row[k] += v
		}
	}
}
