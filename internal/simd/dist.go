package simd

// Distance kernels of k-means. For a block of four points (rows of x with
// stride d) Scores4 computes, for every lane j of a padded centroid block,
//
//	out[r*kpad+j] = bias[j] + Σ_i x[r*d+i] · ct[i*kpad+j]
//
// where ct holds the centroids transposed (d rows of kpad lanes). kmeans
// feeds it −2·(c_j − μ) and ‖c_j − μ‖² + 2μ·(c_j − μ), so that the result is
// the squared distance less a per-point constant. kpad is a multiple of
// LaneBlock. The assembly runs micro-kernels of 4 points × 24 lanes and
// 4 points × 8 lanes.

// LaneBlock is the centroid padding granularity of Scores4.
const LaneBlock = 8

// PadLanes rounds k up to a multiple of LaneBlock.
func PadLanes(k int) int { return (k + LaneBlock - 1) / LaneBlock * LaneBlock }

// Scores4 fills out (4·kpad) for the four rows of x (4·d); see above.
func Scores4(x []float32, d int, ct []float32, bias []float32, kpad int, out []float32) {
	_ = x[4*d-1]
	_ = ct[d*kpad-1]
	_ = bias[kpad-1]
	_ = out[4*kpad-1]
	if useAsm {
		j := 0
		for ; j+24 <= kpad; j += 24 {
			dot4x24(&x[0], d, &ct[j], kpad, d, &bias[j], &out[j], kpad)
		}
		for ; j < kpad; j += 8 {
			dot4x8(&x[0], d, &ct[j], kpad, d, &bias[j], &out[j], kpad)
		}
		return
	}
	scores4Go(x, d, ct, bias, kpad, out)
}

// scores4Go is the fallback of Scores4: four points against eight lanes at
// a time, accumulating in float32 like the assembly.
func scores4Go(x []float32, d int, ct []float32, bias []float32, kpad int, out []float32) {
	x0, x1, x2, x3 := x[0:d], x[d:2*d], x[2*d:3*d], x[3*d:4*d]
	for j := 0; j < kpad; j += LaneBlock {
		var a0, a1, a2, a3 [LaneBlock]float32
		b := (*[LaneBlock]float32)(bias[j : j+LaneBlock])
		a0, a1, a2, a3 = *b, *b, *b, *b
		for i := 0; i < d; i++ {
			c := (*[LaneBlock]float32)(ct[i*kpad+j : i*kpad+j+LaneBlock])
			v0, v1, v2, v3 := x0[i], x1[i], x2[i], x3[i]
			for l := 0; l < LaneBlock; l++ {
				cl := c[l]
				a0[l] += v0 * cl
				a1[l] += v1 * cl
				a2[l] += v2 * cl
				a3[l] += v3 * cl
			}
		}
		copy(out[j:j+LaneBlock], a0[:])
		copy(out[kpad+j:kpad+j+LaneBlock], a1[:])
		copy(out[2*kpad+j:2*kpad+j+LaneBlock], a2[:])
		copy(out[3*kpad+j:3*kpad+j+LaneBlock], a3[:])
	}
}

// DotRows2x4 computes two points (rows of x, stride d) against k row-major
// centroids c, in groups of four:
//
//	out[r*kpad+t] = bias[t] + Σ_i x[r*d+i] · c[t*d+i]  for r < 2, t < k4,
//
// with k4 = k rounded up to a multiple of 4: c (k4·d), bias (k4) and the
// two output rows (k4 lanes each, kpad ≥ k4 apart) must have room for the
// padding centroids. It vectorises along the dimension, which suits few
// centroids.
func DotRows2x4(x []float32, d int, c []float32, k int, bias []float32, kpad int, out []float32) {
	k4 := (k + 3) &^ 3
	if k4 == 0 {
		return
	}
	_ = x[2*d-1]
	_ = c[k4*d-1]
	_ = bias[k4-1]
	_ = out[kpad+k4-1]
	if useAsm {
		for g := 0; g < k4; g += 4 {
			dotRows2x4(&x[0], d, &c[g*d], d, d, &bias[g], &out[g], kpad)
		}
		return
	}
	dotRows2x4Go(x, d, c, k4, bias, kpad, out)
}

// dotRows2x4Go is the fallback of DotRows2x4 (k a multiple of 4 here).
func dotRows2x4Go(x []float32, d int, c []float32, k int, bias []float32, kpad int, out []float32) {
	for r := 0; r < 2; r++ {
		xr := x[r*d : r*d+d]
		for t := 0; t < k; t++ {
			out[r*kpad+t] = bias[t] + dotGo(xr, c[t*d:t*d+d])
		}
	}
}

// SqDist is the exact squared Euclidean distance ‖a − b‖², accumulated in
// float64.
func SqDist(a, b []float32) float64 {
	b = b[:len(a)]
	if useAsm && len(a) > 0 {
		return sqDistF32(&a[0], &b[0], len(a))
	}
	var s0, s1 float64
	i := 0
	for ; i+1 < len(a); i += 2 {
		d0 := float64(a[i]) - float64(b[i])
		d1 := float64(a[i+1]) - float64(b[i+1])
		s0 += d0 * d0
		s1 += d1 * d1
	}
	if i < len(a) {
		d0 := float64(a[i]) - float64(b[i])
		s0 += d0 * d0
	}
	return s0 + s1
}

// AddTo64 adds the float32 row x into the float64 accumulator s.
func AddTo64(s []float64, x []float32) {
	x = x[:len(s)]
	if useAsm && len(s) >= 8 {
		addF32(&s[0], &x[0], len(s))
		return
	}
	for i := range s {
		s[i] += float64(x[i])
	}
}

// ArgminRows stores, for each of len(idx) rows of kpad scores in s (the
// first k of them real, the padding lanes +Inf), the lowest index of the row
// minimum into idx and the minimum into val. A row of NaNs gets index 0.
func ArgminRows(s []float32, k, kpad int, idx []int32, val []float32) {
	rows := len(idx)
	if rows == 0 {
		return
	}
	_ = s[rows*kpad-1]
	val = val[:rows]
	if useAsm && kpad%LaneBlock == 0 {
		argminRows(&s[0], kpad, rows, &idx[0], &val[0])
		for r, j := range idx {
			if int(j) >= k { // NaN scores: keep the index valid
				idx[r] = 0
			}
		}
		return
	}
	for r := range idx {
		row := s[r*kpad : r*kpad+k]
		best, bv := 0, row[0]
		for j, v := range row {
			if v < bv {
				best, bv = j, v
			}
		}
		idx[r], val[r] = int32(best), bv
	}
}

// CentredNorm returns ‖x − mu‖², accumulated in float64.
func CentredNorm(x []float32, mu []float64) float64 {
	mu = mu[:len(x)]
	if useAsm && len(x) > 0 {
		return sqDiffF64(&x[0], &mu[0], len(x))
	}
	var s float64
	for i, v := range x {
		t := float64(v) - mu[i]
		s += t * t
	}
	return s
}
