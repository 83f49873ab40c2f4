package userrep

import (
	"math"

	"github.com/ralmlab/ralm/internal/simd"
)

// Element-type helpers of the native pass; the kernels (GEMM, dot, axpy,
// tanh) are internal/simd's.

// tanhT is tanh in the element type.
func tanhT[T float](x T) T {
	if _, ok := any(x).(float32); ok {
		return T(simd.Tanh(float32(x)))
	}
	return T(math.Tanh(float64(x)))
}

// expT is exp in the element type.
func expT[T float](x T) T { return T(math.Exp(float64(x))) }

// logT is log in the element type.
func logT[T float](x T) T { return T(math.Log(float64(x))) }

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

// sumRows adds the column sums of the rows×len(dst) matrix x into dst.
func sumRows[T float](x []T, rows int, dst []T) {
	n := len(dst)
	for r := 0; r < rows; r++ {
		row := x[r*n : r*n+n]
		for k, v := range row {
			dst[k] += v
		}
	}
}
