package lookalike

import (
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

func BenchmarkMicroPrelu(b *testing.B) {
	n, h := 5100, 64
	z := make([]float32, n*h)
	y := make([]float32, n*h)
	al := make([]float32, h)
	for i := range z {
		z[i] = float32(i%7) - 3
	}
	b.SetBytes(int64(n * h * 4))
	for i := 0; i < b.N; i++ {
		preluFwd(y, z, al, nil, h)
	}
}

func BenchmarkMicroSgemm(b *testing.B) {
	n, d, h := 5100, 64, 64
	x := make([]float32, n*d)
	w := make([]float32, d*h)
	z := make([]float32, n*h)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	for i := 0; i < b.N; i++ {
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas32.General{Rows: n, Cols: d, Stride: d, Data: x},
			blas32.General{Rows: d, Cols: h, Stride: h, Data: w},
			0, blas32.General{Rows: n, Cols: h, Stride: h, Data: z})
	}
	b.ReportMetric(float64(2*n*d*h)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
