package kmeans

import "math"

// The distance kernel. For a block of four points (rows of x with stride d)
// it computes, for every lane j of a padded centroid block,
//
//	out[r*kpad+j] = bias[j] + Σ_i x[r*d+i] · ct[i*kpad+j]
//
// where ct holds −2·(c_j − μ) transposed (d rows of kpad lanes) and bias[j]
// is ‖c_j − μ‖² + 2μ·(c_j − μ). The result is ‖c_j − μ‖² − 2(x − μ)·(c_j − μ),
// the squared distance ‖x − c_j‖² minus the per-point constant ‖x − μ‖²:
// the ‖x‖² − 2x·c + ‖c‖² form, computed relative to the data mean μ for
// precision. kpad is a multiple of 8. On amd64 with AVX2 and FMA the work is
// done by assembly micro-kernels (4 points × 24 lanes and 4 points × 8
// lanes); elsewhere by the portable Go loops below.

// laneBlock is the centroid padding granularity of the kernels.
const laneBlock = 8

// padLanes rounds k up to a multiple of laneBlock.
func padLanes(k int) int { return (k + laneBlock - 1) / laneBlock * laneBlock }

// scores4 fills out (4*kpad) for the four rows of x (4*d).
func scores4(x []float32, d int, ct []float32, bias []float32, kpad int, out []float32) {
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

// scores4Go is the portable kernel: four points against eight lanes at a
// time, accumulating in float32 like the assembly.
func scores4Go(x []float32, d int, ct []float32, bias []float32, kpad int, out []float32) {
	x0, x1, x2, x3 := x[0:d], x[d:2*d], x[2*d:3*d], x[3*d:4*d]
	for j := 0; j < kpad; j += laneBlock {
		var a0, a1, a2, a3 [laneBlock]float32
		b := (*[laneBlock]float32)(bias[j : j+laneBlock])
		a0, a1, a2, a3 = *b, *b, *b, *b
		for i := 0; i < d; i++ {
			c := (*[laneBlock]float32)(ct[i*kpad+j : i*kpad+j+laneBlock])
			v0, v1, v2, v3 := x0[i], x1[i], x2[i], x3[i]
			for l := 0; l < laneBlock; l++ {
				cl := c[l]
				a0[l] += v0 * cl
				a1[l] += v1 * cl
				a2[l] += v2 * cl
				a3[l] += v3 * cl
			}
		}
		copy(out[j:j+laneBlock], a0[:])
		copy(out[kpad+j:kpad+j+laneBlock], a1[:])
		copy(out[2*kpad+j:2*kpad+j+laneBlock], a2[:])
		copy(out[3*kpad+j:3*kpad+j+laneBlock], a3[:])
	}
}

// sqDist is the exact squared Euclidean distance, accumulated in float64.
func sqDist(a, b []float32) float64 {
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

// addTo adds the float32 row x into the float64 accumulator s.
func addTo(s []float64, x []float32) {
	x = x[:len(s)]
	if useAsm && len(s) >= 8 {
		addF32(&s[0], &x[0], len(s))
		return
	}
	for i := range s {
		s[i] += float64(x[i])
	}
}

// argmins stores, for each of len(idx) rows of kpad scores in s (the first
// k of them real, the padding lanes +Inf), the lowest index of the row
// minimum into idx and the minimum into val.
func argmins(s []float32, k, kpad int, idx []int32, val []float32) {
	rows := len(idx)
	if rows == 0 {
		return
	}
	_ = s[rows*kpad-1]
	val = val[:rows]
	if useAsm {
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

// centredNorm returns ‖x − mu‖², accumulated in float64.
func centredNorm(x []float32, mu []float64) float64 {
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
