package simd

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// Dot is the inner product of x and y over len(x) elements (y must be at
// least as long).
func Dot[T Float](x, y []T) T {
	y = y[:len(x)]
	if x32, ok := any(x).([]float32); ok && useAsm && len(x) >= 8 {
		y32 := any(y).([]float32)
		n8 := len(x) &^ 7
		s := sdotAVX(n8, &x32[0], &y32[0])
		for i := n8; i < len(x32); i++ {
			s += x32[i] * y32[i]
		}
		return T(s)
	}
	return dotGo(x, y)
}

// dotGo is the fallback of Dot: four accumulators.
func dotGo[T Float](x, y []T) T {
	y = y[:len(x)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy does y += alpha·x over len(x) elements.
func Axpy[T Float](alpha T, x, y []T) {
	y = y[:len(x)]
	if x32, ok := any(x).([]float32); ok && useAsm && len(x) >= 8 {
		y32 := any(y).([]float32)
		n8 := len(x) &^ 7
		saxpyAVX(n8, float32(alpha), &x32[0], &y32[0])
		x, y = x[n8:], y[n8:]
	}
	for i, v := range x {
		y[i] += alpha * v
	}
}

// tanh64 is the float64 tanh of TanhInPlace.
func tanh64(x float64) float64 { return math.Tanh(x) }

// AdamCoeffs are the coefficients of one Adam step (PyTorch's rule):
// B1, B2 the moment decays, Step = lr/(1−β1^t), InvBC2 = 1/sqrt(1−β2^t) and
// Eps the denominator's ε.
type AdamCoeffs[T Float] struct{ B1, B2, Step, InvBC2, Eps T }

// AdamUpdate applies one Adam step to w with gradient g and moments m, v
// (all of len(g)):
//
//	m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  w −= Step·m / (sqrt(v)·InvBC2 + ε)
func AdamUpdate[T Float](w, g, m, v []T, c AdamCoeffs[T]) {
	w, m, v = w[:len(g)], m[:len(g)], v[:len(g)]
	b1, b2 := c.B1, c.B2
	c1, c2 := 1-b1, 1-b2
	if g32, ok := any(g).([]float32); ok && useAsm && len(g) >= 8 {
		n8 := len(g) &^ 7
		p := [7]float32{float32(b1), float32(c1), float32(b2), float32(c2), float32(c.Step), float32(c.InvBC2), float32(c.Eps)}
		adamAVX(n8, &any(w).([]float32)[0], &g32[0], &any(m).([]float32)[0], &any(v).([]float32)[0], &p)
		w, g, m, v = w[n8:], g[n8:], m[n8:], v[n8:]
	}
	for i, gi := range g {
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		w[i] -= c.Step * mi / (T(math.Sqrt(float64(vi)))*c.InvBC2 + c.Eps)
	}
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, with
// op(A) m×k and op(B) k×n: Sgemm for float32, gonum's Dgemm for float64.
func Gemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	switch cc := any(c).(type) {
	case []float32:
		Sgemm(tA, tB, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), cc, ldc)
	case []float64:
		blas64.Implementation().Dgemm(trans(tA), trans(tB), m, n, k, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), cc, ldc)
	}
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// parallelFlops is the size m·n·k from which Sgemm uses several cores.
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

// Sgemm is Gemm for float32: the AVX2 4×16 kernel on packed row-major
// operands when available, gonum otherwise. A B of fewer than 16 columns
// (not transposed) goes through a serial loop with gonum's bits
// (sgemmNarrow). Large products are split by rows over the available
// cores; every element of C is computed by one kernel call in the same
// order whatever the split.
//
// A row of C does not depend on the other rows of A or on its position: the
// last m mod 4 rows (all of them when m < 4) go through the same kernel from
// a zero-padded block of four, so a product over one row of A gives the
// bits that row gets inside any larger product (gonum's fallback computes
// each row on its own too).
func Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if n < 16 && !tB && n > 0 && k > 0 && alpha != 0 {
		scaleC(m, n, beta, c, ldc)
		sgemmNarrow(tA, m, n, k, alpha, a, lda, b, ldb, c, ldc)
		return
	}
	if !useAsm || n < 16 || k == 0 {
		sgemmGo(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	scaleC(m, n, beta, c, ldc)
	ap, alda := a, lda
	transA := tA && alpha == 1 // read Aᵀ directly with the transposed kernel
	if transA {
		if len(a) < (k-1)*lda+m {
			panic("simd: Sgemm: short A")
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
		panic("simd: Sgemm: short A")
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
		panic("simd: Sgemm: short B")
	}
	if len(c) < (m-1)*ldc+n {
		panic("simd: Sgemm: short C")
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
	if m4 < m {
		sgemmTailRows(transA, m4, m, n16, k, ap, alda, bp, bldb, c, ldc)
	}
	for i := 0; i < m; i++ {
		for j := n16; j < n; j++ {
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

// scaleC multiplies the m×n matrix C by beta (0 clears it, as BLAS does).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
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
}

// sgemmNarrow adds alpha·op(A)·B to C for B with fewer than 16 columns
// (not transposed), on the calling goroutine: gonum splits such a product
// into goroutines of 64 rows and calls its axpy once per element of C and
// term. It gives gonum's bits: each element of C gets its terms in the order
// of l, each product (alpha·a)·b rounded on its own before it is added, and
// terms with alpha·a == 0 left out.
func sgemmNarrow(tA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if tA {
		if len(a) < (k-1)*lda+m {
			panic("simd: Sgemm: short A")
		}
	} else if len(a) < (m-1)*lda+k {
		panic("simd: Sgemm: short A")
	}
	if len(b) < (k-1)*ldb+n {
		panic("simd: Sgemm: short B")
	}
	if len(c) < (m-1)*ldc+n {
		panic("simd: Sgemm: short C")
	}
	if tA {
		// l outermost, as gonum: the m sums of a row of B advance together.
		for l := 0; l < k; l++ {
			al, bl := a[l*lda:l*lda+m], b[l*ldb:l*ldb+n]
			for i, av := range al {
				t := alpha * av
				if t == 0 {
					continue
				}
				if n == 1 {
					c[i*ldc] += float32(t * bl[0]) // rounded before the sum: no fused multiply-add
					continue
				}
				ci := c[i*ldc : i*ldc+n]
				for j := range ci {
					ci[j] += float32(t * bl[j])
				}
			}
		}
		return
	}
	for i := 0; i < m; i++ {
		ai, ci := a[i*lda:i*lda+k], c[i*ldc:i*ldc+n]
		if n == 1 {
			s := ci[0]
			for l, av := range ai {
				if t := alpha * av; t != 0 {
					s += float32(t * b[l*ldb])
				}
			}
			ci[0] = s
			continue
		}
		for l, av := range ai {
			t := alpha * av
			if t == 0 {
				continue
			}
			bl := b[l*ldb : l*ldb+n]
			for j := range ci {
				ci[j] += float32(t * bl[j])
			}
		}
	}
}

// sgemmTailRows adds rows i0..m-1 (fewer than four) of op(A)·B to C over
// the first n16 columns with the 4×16 kernel of the full row blocks, from
// operands copied into a zero-padded block of four rows.
func sgemmTailRows(transA bool, i0, m, n16, k int, ap []float32, alda int, bp []float32, bldb int, c []float32, ldc int) {
	r := m - i0
	pa := getPack(4*k + 4*n16)
	defer packPool.Put(pa)
	blk, tc := (*pa)[:4*k], (*pa)[4*k:]
	clear(*pa)
	for q := 0; q < r; q++ {
		if transA { // A is k×m: the kernel reads four consecutive values per step
			for l := 0; l < k; l++ {
				blk[l*4+q] = ap[l*alda+i0+q]
			}
		} else {
			copy(blk[q*k:q*k+k], ap[(i0+q)*alda:(i0+q)*alda+k])
		}
		copy(tc[q*n16:q*n16+n16], c[(i0+q)*ldc:(i0+q)*ldc+n16])
	}
	for j := 0; j < n16; j += 16 {
		if transA {
			sgemmKernT4x16(k, &blk[0], 4, &bp[j], bldb, &tc[j], n16)
		} else {
			sgemmKern4x16(k, &blk[0], k, &bp[j], bldb, &tc[j], n16)
		}
	}
	for q := 0; q < r; q++ {
		copy(c[(i0+q)*ldc:(i0+q)*ldc+n16], tc[q*n16:q*n16+n16])
	}
}

// sgemmGo is the fallback of Sgemm: gonum's pure-Go Sgemm.
func sgemmGo(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	blas32.Implementation().Sgemm(trans(tA), trans(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
