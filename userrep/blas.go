package userrep

import (
	"math"
	"runtime"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, with
// op(A) m×k and op(B) k×n, through the gonum BLAS of the element type.
func gemm[T float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	switch cc := any(c).(type) {
	case []float32:
		sgemm(tA, tB, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), cc, ldc)
	case []float64:
		blas64.Implementation().Dgemm(ta, tb, m, n, k, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), cc, ldc)
	}
}

// dot is the inner product of two equal-length vectors.
func dot[T float](a, b []T) T {
	b = b[:len(a)]
	var z T
	if useAVX2 && unsafe.Sizeof(z) == 4 && len(a) >= 8 {
		n8 := len(a) &^ 7
		s := T(sdotAVX(len(a), (*float32)(unsafe.Pointer(&a[0])), (*float32)(unsafe.Pointer(&b[0]))))
		for i := n8; i < len(a); i++ {
			s += a[i] * b[i]
		}
		return s
	}
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy does y += alpha·x.
func axpy[T float](alpha T, x, y []T) {
	y = y[:len(x)]
	if useAVX2 && unsafe.Sizeof(alpha) == 4 && len(x) >= 8 {
		n8 := len(x) &^ 7
		saxpyAVX(len(x), float32(alpha), (*float32)(unsafe.Pointer(&x[0])), (*float32)(unsafe.Pointer(&y[0])))
		x, y = x[n8:], y[n8:]
	}
	for i, v := range x {
		y[i] += alpha * v
	}
}

// tanhT is tanh in the element type.
func tanhT[T float](x T) T {
	if _, ok := any(x).(float32); ok {
		return T(tanh32(float32(x)))
	}
	return T(math.Tanh(float64(x)))
}

// expT is exp in the element type.
func expT[T float](x T) T { return T(math.Exp(float64(x))) }

// logT is log in the element type.
func logT[T float](x T) T { return T(math.Log(float64(x))) }

// sqrtT is the square root in the element type.
func sqrtT[T float](x T) T { return T(math.Sqrt(float64(x))) }

// tanhInPlace replaces every x[i] by tanh(x[i]).
func tanhInPlace[T float](x []T) {
	var z T
	if useAVX2 && unsafe.Sizeof(z) == 4 && len(x) >= 8 {
		n8 := len(x) &^ 7
		tanhAVX(n8, (*float32)(unsafe.Pointer(&x[0])))
		x = x[n8:]
	}
	for i, v := range x {
		x[i] = tanhT(v)
	}
}

// tanh32 is a float32 tanh: the rational approximation of Eigen's
// ptanh_float (a few ulps of error), much faster than math.Tanh.
func tanh32(x float32) float32 {
	const clamp = 7.90531110763549805
	if x > clamp {
		x = clamp
	} else if x < -clamp {
		x = -clamp
	}
	x2 := x * x
	p := x2*-2.76076847742355e-16 + 2.00018790482477e-13
	p = p*x2 + -8.60467152213735e-11
	p = p*x2 + 5.12229709037114e-08
	p = p*x2 + 1.48572235717979e-05
	p = p*x2 + 6.37261928875436e-04
	p = p*x2 + 4.89352455891786e-03
	p *= x
	q := x2*1.19825839466702e-06 + 1.18534705686654e-04
	q = q*x2 + 2.26843463243900e-03
	q = q*x2 + 4.89352518554385e-03
	return p / q
}

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

// parallelFlops is the size m·n·k from which sgemm uses several cores.
const parallelFlops = 1 << 20

// packPool holds scratch buffers for packing GEMM operands.
var packPool = sync.Pool{New: func() any { return new([]float32) }}

// getPack returns a pooled buffer of n floats (contents undefined).
func getPack(n int) *[]float32 {
	p := packPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// sgemm is gemm for float32: the AVX2 4×16 kernel on packed row-major
// operands when available, gonum otherwise (and for narrow shapes).
func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !useAVX2 || n < 16 || m < 4 || k == 0 {
		ta, tb := blas.NoTrans, blas.NoTrans
		if tA {
			ta = blas.Trans
		}
		if tB {
			tb = blas.Trans
		}
		blas32.Implementation().Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	switch beta {
	case 0:
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	case 1:
	default:
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
	ap, alda := a, lda
	transA := tA && alpha == 1 // read Aᵀ directly with the transposed kernel
	if transA {
		if len(a) < (k-1)*lda+m {
			panic("userrep: sgemm: short A")
		}
	} else if tA || alpha != 1 {
		pa := getPack(m * k)
		defer packPool.Put(pa)
		ap, alda = *pa, k
		for i := 0; i < m; i++ {
			dst := ap[i*k : i*k+k]
			if tA {
				for l := range dst {
					dst[l] = alpha * a[l*lda+i]
				}
			} else {
				src := a[i*lda : i*lda+k]
				for l, v := range src {
					dst[l] = alpha * v
				}
			}
		}
	} else if len(a) < (m-1)*lda+k {
		panic("userrep: sgemm: short A")
	}
	bp, bldb := b, ldb
	if tB {
		pb := getPack(k * n)
		defer packPool.Put(pb)
		bp, bldb = *pb, n
		for j := 0; j < n; j++ {
			src := b[j*ldb : j*ldb+k]
			for l, v := range src {
				bp[l*n+j] = v
			}
		}
	} else if len(b) < (k-1)*ldb+n {
		panic("userrep: sgemm: short B")
	}
	if len(c) < (m-1)*ldc+n {
		panic("userrep: sgemm: short C")
	}
	m4, n16 := m&^3, n&^15
	kernRows := func(i0, i1 int) {
		for j := 0; j < n16; j += 16 {
			for i := i0; i < i1; i += 4 {
				if transA {
					sgemmKernT4x16(k, &ap[i], alda, &bp[j], bldb, &c[i*ldc+j], ldc)
				} else {
					sgemmKern4x16(k, &ap[i*alda], alda, &bp[j], bldb, &c[i*ldc+j], ldc)
				}
			}
		}
	}
	// Large products are split by rows over the available cores; every
	// element of C is still computed by one kernel call in the same order,
	// so the result does not depend on the split.
	workers := min(runtime.GOMAXPROCS(0), m4/64)
	if workers > 1 && m*n*k >= parallelFlops {
		var wg sync.WaitGroup
		chunk := (m4/4 + workers - 1) / workers * 4
		for i0 := 0; i0 < m4; i0 += chunk {
			wg.Add(1)
			go func(i0, i1 int) {
				defer wg.Done()
				kernRows(i0, i1)
			}(i0, min(i0+chunk, m4))
		}
		wg.Wait()
	} else {
		kernRows(0, m4)
	}
	for i := 0; i < m; i++ {
		j0 := n16
		if i >= m4 {
			j0 = 0
		}
		for j := j0; j < n; j++ {
			var s float32
			for l := 0; l < k; l++ {
				var av float32
				if transA {
					av = ap[l*alda+i]
				} else {
					av = ap[i*alda+l]
				}
				s += av * bp[l*bldb+j]
			}
			c[i*ldc+j] += s
		}
	}
}
