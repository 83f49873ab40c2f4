package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Every kernel is checked against its Go fallback (and, where it has one,
// a float64 reference), with guard elements before and after each output
// that the kernel must leave alone, as gonum's internal/asm tests do.

const (
	guardLen = 16
	guard    = float32(-7.25e31) // a value no kernel here produces
)

// guarded returns a slice of n values (copied from init when it is not nil)
// with guardLen guard elements on each side in the same backing array.
func guarded(n int, init []float32) (buf, v []float32) {
	buf = make([]float32, n+2*guardLen)
	for i := range buf {
		buf[i] = guard
	}
	v = buf[guardLen : guardLen+n]
	if init != nil {
		copy(v, init)
	}
	return buf, v
}

// checkGuards fails the test when a guard element was written.
func checkGuards(t *testing.T, what string, buf []float32) {
	t.Helper()
	n := len(buf) - 2*guardLen
	for i := 0; i < guardLen; i++ {
		if buf[i] != guard || buf[guardLen+n+i] != guard {
			t.Fatalf("%s: guard element written (before[%d]=%v after[%d]=%v)", what, i, buf[i], i, buf[guardLen+n+i])
		}
	}
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// near is a relative tolerance check for float32 results of different
// summation orders.
func near(got, want float64, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestScores4(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 2, 3, 7, 8, 9, 17, 64, 65} {
		for _, k := range []int{1, 3, 8, 9, 24, 25, 49} {
			kpad := PadLanes(k)
			x, ct, bias := randVec(rng, 4*d), randVec(rng, d*kpad), randVec(rng, kpad)
			buf, out := guarded(4*kpad, nil)
			want := make([]float32, 4*kpad)
			Scores4(x, d, ct, bias, kpad, out)
			scores4Go(x, d, ct, bias, kpad, want)
			checkGuards(t, "Scores4", buf)
			for r := 0; r < 4; r++ {
				for j := 0; j < kpad; j++ {
					ref := float64(bias[j])
					for i := 0; i < d; i++ {
						ref += float64(x[r*d+i]) * float64(ct[i*kpad+j])
					}
					tol := 1e-5 * (1 + float64(d))
					if !near(float64(out[r*kpad+j]), ref, tol) || !near(float64(want[r*kpad+j]), ref, tol) {
						t.Fatalf("d=%d k=%d [%d,%d]: kernel %v, fallback %v, want %v", d, k, r, j, out[r*kpad+j], want[r*kpad+j], ref)
					}
				}
			}
		}
	}
}

func TestDotRows2x4(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{1, 3, 8, 9, 17, 64, 65} {
		for _, k := range []int{4, 5, 8, 20} {
			kpad, k4 := PadLanes(k), (k+3)&^3
			x, c, bias := randVec(rng, 2*d), randVec(rng, k4*d), randVec(rng, k4)
			buf, out := guarded(kpad+k4, nil)
			want := make([]float32, kpad+k4)
			DotRows2x4(x, d, c, k, bias, kpad, out)
			dotRows2x4Go(x, d, c, k4, bias, kpad, want)
			checkGuards(t, "DotRows2x4", buf)
			for r := 0; r < 2; r++ {
				for j := 0; j < k4; j++ {
					if g, w := out[r*kpad+j], want[r*kpad+j]; !near(float64(g), float64(w), 1e-5*float64(1+d)) {
						t.Fatalf("d=%d k=%d [%d,%d]: %v, fallback %v", d, k, r, j, g, w)
					}
				}
			}
		}
	}
}

func TestDistances(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 33, 100} {
		a, b := randVec(rng, n), randVec(rng, n)
		mu := make([]float64, n)
		var wantD, wantC float64
		for i := range a {
			mu[i] = rng.NormFloat64()
			t1 := float64(a[i]) - float64(b[i])
			t2 := float64(a[i]) - mu[i]
			wantD += t1 * t1
			wantC += t2 * t2
		}
		if g := SqDist(a, b); !near(g, wantD, 1e-12) {
			t.Fatalf("SqDist n=%d: %v, want %v", n, g, wantD)
		}
		if g := CentredNorm(a, mu); !near(g, wantC, 1e-12) {
			t.Fatalf("CentredNorm n=%d: %v, want %v", n, g, wantC)
		}
		s := make([]float64, n+2*guardLen)
		for i := range s {
			s[i] = float64(guard)
		}
		acc := s[guardLen : guardLen+n]
		copy(acc, mu)
		AddTo64(acc, a)
		for i := range s {
			switch {
			case i < guardLen || i >= guardLen+n:
				if s[i] != float64(guard) {
					t.Fatalf("AddTo64 n=%d: guard %d written", n, i)
				}
			default:
				if j := i - guardLen; s[i] != mu[j]+float64(a[j]) {
					t.Fatalf("AddTo64 n=%d [%d]: %v, want %v", n, j, s[i], mu[j]+float64(a[j]))
				}
			}
		}
	}
}

func TestArgminRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range []int{1, 5, 8, 9, 30} {
		kpad, rows := PadLanes(k), 5
		s := randVec(rng, rows*kpad)
		for r := 0; r < rows; r++ {
			for j := k; j < kpad; j++ {
				s[r*kpad+j] = float32(math.Inf(1))
			}
		}
		s[kpad+k-1] = s[kpad] // a tie in row 1: the lowest index wins
		s[kpad] = -100
		s[kpad+k-1] = -100
		idx := make([]int32, rows+2*guardLen)
		for i := range idx {
			idx[i] = -99
		}
		vbuf, val := guarded(rows, nil)
		ArgminRows(s, k, kpad, idx[guardLen:guardLen+rows], val)
		checkGuards(t, "ArgminRows", vbuf)
		for i := 0; i < guardLen; i++ {
			if idx[i] != -99 || idx[guardLen+rows+i] != -99 {
				t.Fatalf("ArgminRows k=%d: index guard written", k)
			}
		}
		for r := 0; r < rows; r++ {
			best := 0
			for j := 1; j < k; j++ {
				if s[r*kpad+j] < s[r*kpad+best] {
					best = j
				}
			}
			if got := idx[guardLen+r]; int(got) != best || val[r] != s[r*kpad+best] {
				t.Fatalf("ArgminRows k=%d row %d: (%d, %v), want (%d, %v)", k, r, got, val[r], best, s[r*kpad+best])
			}
		}
	}
}

func TestRowKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, h := range []int{8, 16, 24, 64, 72, 128, 13} {
		for _, n := range []int{1, 7, 21} {
			t.Run(fmt.Sprintf("h=%d/n=%d", h, n), func(t *testing.T) {
				rows, q, u := randVec(rng, n*h), randVec(rng, h), randVec(rng, h)
				nq := n - 1
				bq, gq := guarded(n, nil)
				bu, gu := guarded(n, nil)
				wq, wu := make([]float32, n), make([]float32, n)
				Dot2RowsPF(rows, n, nq, h, q, u, gq[:max(nq, 0)], gu, rows)
				dot2RowsGo(rows, n, nq, h, q, u, wq, wu)
				checkGuards(t, "Dot2Rows q", bq)
				checkGuards(t, "Dot2Rows u", bu)
				for r := 0; r < n; r++ {
					if !near(float64(gu[r]), float64(wu[r]), 1e-5) || (r < nq && !near(float64(gq[r]), float64(wq[r]), 1e-5)) {
						t.Fatalf("Dot2Rows row %d: %v/%v, fallback %v/%v", r, gq[r], gu[r], wq[r], wu[r])
					}
				}
				w := randVec(rng, n)
				bs, gs := guarded(h, nil)
				ws := make([]float32, h)
				WSum(rows, n, h, w, gs)
				wsumGo(rows, n, h, w, ws)
				checkGuards(t, "WSum", bs)
				for j := range gs {
					if !near(float64(gs[j]), float64(ws[j]), 1e-5) {
						t.Fatalf("WSum[%d]: %v, fallback %v", j, gs[j], ws[j])
					}
				}
			})
		}
	}
}

func TestLinearKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, h := range []int{8, 16, 24, 64, 72, 136, 13} {
		for _, n := range []int{1, 2, 3, 4, 7, 9} {
			for _, d := range []int{1, 5, 64} {
				x, w, b := randVec(rng, n*d), randVec(rng, d*h), randVec(rng, h)
				bz, gz := guarded(n*h, nil)
				wz := make([]float32, n*h)
				LinearRows(x, n, d, h, w, b, gz)
				linearRowsGo(x, n, d, h, w, b, wz)
				checkGuards(t, "LinearRows", bz)
				for i := range gz {
					if !near(float64(gz[i]), float64(wz[i]), 1e-5) {
						t.Fatalf("LinearRows h=%d n=%d d=%d [%d]: %v, fallback %v", h, n, d, i, gz[i], wz[i])
					}
				}
				if !useAsm || h%8 != 0 {
					continue
				}
				// A row's bits do not depend on n (the four-row blocks
				// and the row-by-row kernel sum in the same order).
				for r := 0; r < n; r++ {
					one := make([]float32, h)
					LinearRows(x[r*d:(r+1)*d], 1, d, h, w, b, one)
					for j, v := range one {
						if math.Float32bits(v) != math.Float32bits(gz[r*h+j]) {
							t.Fatalf("LinearRows h=%d n=%d d=%d: row %d alone [%d] = %v, in the block %v", h, n, d, r, j, v, gz[r*h+j])
						}
					}
				}
			}
		}
	}
}

func TestTanhKernels(t *testing.T) {
	x := make([]float32, 0, 4003)
	for i := -2000; i <= 2002; i++ {
		x = append(x, float32(i)/100)
	}
	for _, withExp := range []bool{false, true} {
		buf, y := guarded(len(x), x)
		if withExp {
			ExpTanh(y)
		} else {
			TanhInPlace(y)
		}
		checkGuards(t, "tanh", buf)
		for i, v := range x {
			want, fb := math.Tanh(float64(v)), Tanh(v)
			if withExp {
				want, fb = math.Exp(want), expUnit(fb)
			}
			if math.Abs(float64(y[i])-want) > 3e-6 || !near(float64(y[i]), float64(fb), 5e-7) {
				t.Fatalf("exp=%v x=%v: kernel %v, fallback %v, want %v", withExp, v, y[i], fb, want)
			}
		}
	}
	if math.Abs(float64(Tanh(float32(math.Inf(1))))-1) > 5e-7 || math.Abs(float64(Tanh(float32(math.Inf(-1))))+1) > 5e-7 {
		t.Error("Tanh(±Inf) is not ±1")
	}
	x64 := []float64{-3, 0, 0.5}
	TanhInPlace(x64)
	if x64[0] != math.Tanh(-3) || x64[1] != 0 || x64[2] != math.Tanh(0.5) {
		t.Errorf("TanhInPlace[float64] = %v", x64)
	}
}

func TestDotAxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 64, 100} {
		x, y := randVec(rng, n), randVec(rng, n)
		if g, w := Dot(x, y), dotGo(x, y); !near(float64(g), float64(w), 1e-5) {
			t.Fatalf("Dot n=%d: %v, fallback %v", n, g, w)
		}
		buf, gy := guarded(n, y)
		Axpy(0.5, x, gy)
		checkGuards(t, "Axpy", buf)
		for i := range y {
			if w := y[i] + 0.5*x[i]; !near(float64(gy[i]), float64(w), 1e-6) {
				t.Fatalf("Axpy n=%d [%d]: %v, want %v", n, i, gy[i], w)
			}
		}
	}
}

func TestAdamUpdate(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	c := AdamCoeffs[float32]{B1: 0.9, B2: 0.999, Step: 0.01 / (1 - 0.9), InvBC2: 1 / float32(math.Sqrt(1-0.999)), Eps: 1e-8}
	for _, n := range []int{1, 7, 8, 9, 40} {
		w, g, m, v := randVec(rng, n), randVec(rng, n), randVec(rng, n), randVec(rng, n)
		for i := range v {
			v[i] *= v[i]
		}
		bw, gw := guarded(n, w)
		bm, gm := guarded(n, m)
		bv, gv := guarded(n, v)
		AdamUpdate(gw, g, gm, gv, c)
		checkGuards(t, "AdamUpdate w", bw)
		checkGuards(t, "AdamUpdate m", bm)
		checkGuards(t, "AdamUpdate v", bv)
		for i := range g {
			mi := 0.9*float64(m[i]) + 0.1*float64(g[i])
			vi := 0.999*float64(v[i]) + 0.001*float64(g[i])*float64(g[i])
			wi := float64(w[i]) - float64(c.Step)*mi/(math.Sqrt(vi)*float64(c.InvBC2)+1e-8)
			if !near(float64(gm[i]), mi, 1e-6) || !near(float64(gv[i]), vi, 1e-6) || !near(float64(gw[i]), wi, 1e-5) {
				t.Fatalf("AdamUpdate n=%d [%d]: w %v m %v v %v, want %v %v %v", n, i, gw[i], gm[i], gv[i], wi, mi, vi)
			}
		}
	}
}

func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, sh := range [][3]int{{1, 1, 1}, {4, 16, 1}, {5, 17, 3}, {8, 32, 64}, {13, 40, 7}, {300, 64, 64}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, 2}} {
				m, n, k := sh[0], sh[1], sh[2]
				tA, tB := tr[0], tr[1]
				lda, ldb := k, n
				if tA {
					lda = m
				}
				if tB {
					ldb = k
				}
				a, b, c0 := randVec(rng, m*k), randVec(rng, k*n), randVec(rng, m*n)
				bc, gc := guarded(m*n, c0)
				wc := append([]float32(nil), c0...)
				Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], gc, n)
				sgemmGo(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], wc, n)
				checkGuards(t, "Sgemm", bc)
				for i := range gc {
					if !near(float64(gc[i]), float64(wc[i]), 1e-5*float64(1+k)) {
						t.Fatalf("Sgemm %v tA=%v tB=%v alpha,beta=%v [%d]: %v, fallback %v", sh, tA, tB, ab, i, gc[i], wc[i])
					}
				}
			}
		}
	}
}

// TestSgemmNarrowBits: a product with fewer than 16 columns of B gives
// gonum's bits exactly, for shapes gonum computes serially and in parallel
// blocks (m ≥ 256), with zero terms in A that gonum skips.
func TestSgemmNarrowBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, sh := range [][3]int{{1, 1, 1}, {7, 3, 5}, {32, 1, 1536}, {1536, 1, 32}, {300, 15, 70}, {64, 8, 300}} {
		for _, tA := range []bool{false, true} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, 2}, {-3, 0.25}} {
				m, n, k := sh[0], sh[1], sh[2]
				lda := k
				if tA {
					lda = m
				}
				a, b, c0 := randVec(rng, m*k), randVec(rng, k*n), randVec(rng, m*n)
				for i := 0; i < len(a); i += 7 {
					a[i] = 0
				}
				bc, gc := guarded(m*n, c0)
				wc := append([]float32(nil), c0...)
				Sgemm(tA, false, m, n, k, ab[0], a, lda, b, n, ab[1], gc, n)
				sgemmGo(tA, false, m, n, k, ab[0], a, lda, b, n, ab[1], wc, n)
				checkGuards(t, "Sgemm", bc)
				for i := range gc {
					if math.Float32bits(gc[i]) != math.Float32bits(wc[i]) {
						t.Fatalf("Sgemm %v tA=%v alpha,beta=%v [%d]: %v, gonum %v", sh, tA, ab, i, gc[i], wc[i])
					}
				}
			}
		}
	}
}

// TestSgemmRowsIndependent checks that a row of C gets the same bits
// whether it is computed alone or inside a larger product at any position
// (a user's embedding must not depend on who is embedded with it).
func TestSgemmRowsIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, sh := range [][3]int{{9, 16, 5}, {13, 40, 64}, {70, 64, 32}, {6, 15, 3}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, 2}} {
				m, n, k := sh[0], sh[1], sh[2]
				tA, tB := tr[0], tr[1]
				lda, ldb := k, n
				if tA {
					lda = m
				}
				if tB {
					ldb = k
				}
				a, b, c0 := randVec(rng, m*k), randVec(rng, k*n), randVec(rng, m*n)
				full := append([]float32(nil), c0...)
				Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], full, n)
				// rows lo..hi-1 as a product of their own
				for _, span := range [][2]int{{0, 1}, {m - 1, m}, {m / 2, m/2 + 1}, {1, 4}, {2, 7}, {m - 3, m}, {0, m - 1}} {
					lo, hi := span[0], min(span[1], m)
					sub := append([]float32(nil), c0[lo*n:hi*n]...)
					if tA {
						Sgemm(tA, tB, hi-lo, n, k, ab[0], a[lo:], lda, b, ldb, ab[1], sub, n)
					} else {
						Sgemm(tA, tB, hi-lo, n, k, ab[0], a[lo*lda:], lda, b, ldb, ab[1], sub, n)
					}
					for i := range sub {
						if math.Float32bits(sub[i]) != math.Float32bits(full[lo*n+i]) {
							t.Fatalf("%v tA=%v tB=%v alpha,beta=%v: rows %d..%d alone, element %d: %v, inside the full product %v",
								sh, tA, tB, ab, lo, hi-1, lo*n+i, sub[i], full[lo*n+i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkLinearRows: the user model's first MLP layer at the MovieLens
// shape (256 rows, 6 fields × 64 → 128): LinearRows (four-row blocks)
// against the row-by-row kernel alone, the reference in the same run.
func BenchmarkLinearRows(b *testing.B) {
	const n, d, h = 256, 384, 128
	rng := rand.New(rand.NewPCG(1, 2))
	x, w, bias, z := randVec(rng, n*d), randVec(rng, d*h), randVec(rng, h), make([]float32, n*h)
	if !useAsm {
		b.Skip("no AVX2 kernels")
	}
	b.Run("blocked", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			LinearRows(x, n, d, h, w, bias, z)
		}
		b.ReportMetric(float64(2*n*d*h)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("row-by-row", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			linearAVX(&x[0], n, d, h, &w[0], &bias[0], &z[0])
		}
		b.ReportMetric(float64(2*n*d*h)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkSgemmNarrow: the user model's attention scores (1536 field rows
// × 32 → 1 column) and their weight gradient, through Sgemm (serial, the
// narrow loop) against gonum (the reference, the same bits).
func BenchmarkSgemmNarrow(b *testing.B) {
	const m, n, k = 1536, 1, 32
	rng := rand.New(rand.NewPCG(3, 4))
	u, w2, s := randVec(rng, m*k), randVec(rng, k*n), make([]float32, m*n)
	dw := make([]float32, k*n)
	for _, v := range []struct {
		name string
		gemm func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	}{{"Sgemm", Sgemm}, {"gonum", sgemmGo}} {
		b.Run(v.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				v.gemm(false, false, m, n, k, 1, u, k, w2, n, 0, s, n) // scores = u·w2
				v.gemm(true, false, k, n, m, 1, u, k, s, n, 0, dw, n)  // dW = uᵀ·g
			}
		})
	}
}

// TestPReLUKernels checks the PReLU kernels bit for bit against their Go
// fallbacks, with and without a mask, on widths with and without a tail of
// fewer than eight columns, signed zeros included.
func TestPReLUKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	negZero := float32(math.Copysign(0, -1))
	for _, h := range []int{3, 8, 13, 16, 64, 72} {
		for _, rows := range []int{1, 5} {
			for _, masked := range []bool{false, true} {
				name := fmt.Sprintf("h=%d/rows=%d/mask=%v", h, rows, masked)
				n := rows * h
				z, alpha, g := randVec(rng, n), randVec(rng, h), randVec(rng, n)
				z[0], z[n-1] = negZero, 0
				var mask []float32
				if masked {
					mask = make([]float32, n)
					for i := range mask {
						mask[i] = float32(rng.IntN(2)) * 1.25
					}
				}
				same := func(what string, buf, got, want []float32) {
					t.Helper()
					checkGuards(t, name+" "+what, buf)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %s [%d]: %v, fallback %v", name, what, i, got[i], want[i])
						}
					}
				}
				by, y := guarded(n, nil)
				wy := make([]float32, n)
				PReLU(y, z, alpha, mask, h)
				preluGo(wy, z, alpha, mask, h, 0)
				same("PReLU", by, y, wy)
				if y[0] != 0 || wy[n-1] != 0 {
					t.Fatalf("%s: PReLU(±0) = %v, %v", name, y[0], y[n-1])
				}

				bd, dz := guarded(n, nil)
				wd := make([]float32, n)
				PReLUGradZ(dz, z, alpha, g, mask, h)
				preluGradZGo(wd, z, alpha, g, mask, h, 0)
				same("PReLUGradZ", bd, dz, wd)

				init := randVec(rng, h)
				ba, da := guarded(h, init)
				wa := append([]float32(nil), init...)
				PReLUGradAlpha(da, z, g, mask, h)
				preluGradAlphaGo(wa, z, g, mask, h, 0)
				same("PReLUGradAlpha", ba, da, wa)
			}
		}
	}
	y64, z64 := make([]float64, 4), []float64{-2, -0.0, 0.5, 3}
	PReLU(y64, z64, []float64{0.25, 0.25}, nil, 2)
	if y64[0] != -0.5 || y64[2] != 0.5 || y64[3] != 3 {
		t.Errorf("PReLU[float64] = %v", y64)
	}
}
