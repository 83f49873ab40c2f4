package lookalike

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

func preluA(y, z, alpha []float32, h int) {
	for i := 0; i+h <= len(z); i += h {
		zr, yr := z[i:i+h], y[i:i+h]
		yr = yr[:len(zr)]
		al := alpha[:len(zr)]
		for j, v := range zr {
			yr[j] = max(v, 0) + al[j]*min(v, 0)
		}
	}
}

func preluB(y, z, alpha []float32, h int) {
	for i := 0; i+h <= len(z); i += h {
		zr, yr := z[i:i+h], y[i:i+h]
		yr = yr[:len(zr)]
		al := alpha[:len(zr)]
		for j, v := range zr {
			s := float32(1)
			if v < 0 {
				s = al[j]
			}
			yr[j] = v * s
		}
	}
}

func microData() ([]float32, []float32, []float32) {
	n, h := 5100, 64
	z := make([]float32, n*h)
	y := make([]float32, n*h)
	al := make([]float32, h)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range z {
		z[i] = float32(r.NormFloat64())
	}
	return y, z, al
}

func BenchmarkMicroPreluOrig(b *testing.B) {
	y, z, al := microData()
	for i := 0; i < b.N; i++ {
		preluFwd(y, z, al, nil, 64)
	}
}
func BenchmarkMicroPreluA(b *testing.B) {
	y, z, al := microData()
	for i := 0; i < b.N; i++ {
		preluA(y, z, al, 64)
	}
}
func BenchmarkMicroPreluB(b *testing.B) {
	y, z, al := microData()
	for i := 0; i < b.N; i++ {
		preluB(y, z, al, 64)
	}
}

func BenchmarkMicroGradW(b *testing.B) {
	n, d, h := 5100, 64, 64
	x := make([]float32, n*d)
	g := make([]float32, n*h)
	dw := make([]float32, d*h)
	xt := make([]float32, n*d)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range x {
		x[i] = float32(r.NormFloat64())
		g[i] = float32(r.NormFloat64())
	}
	b.Run("TransNot", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			blas32.Gemm(blas.Trans, blas.NoTrans, 1,
				blas32.General{Rows: n, Cols: d, Stride: d, Data: x},
				blas32.General{Rows: n, Cols: h, Stride: h, Data: g},
				0, blas32.General{Rows: d, Cols: h, Stride: h, Data: dw})
		}
	})
	b.Run("TransposeThenNotNot", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for r := 0; r < n; r++ {
				for c := 0; c < d; c++ {
					xt[c*n+r] = x[r*d+c]
				}
			}
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
				blas32.General{Rows: d, Cols: n, Stride: n, Data: xt},
				blas32.General{Rows: n, Cols: h, Stride: h, Data: g},
				0, blas32.General{Rows: d, Cols: h, Stride: h, Data: dw})
		}
	})
	b.Run("Fwd", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
				blas32.General{Rows: n, Cols: d, Stride: d, Data: x},
				blas32.General{Rows: d, Cols: h, Stride: h, Data: dw},
				0, blas32.General{Rows: n, Cols: h, Stride: h, Data: g})
		}
	})
	b.Run("wsumRows", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for r := 0; r < n; r++ {
				wsum(dw, d, h, x[r*d:(r+1)*d], g[r*h:(r+1)*h])
			}
		}
	})
}
