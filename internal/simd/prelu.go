package simd

import "math"

// PReLU kernels. z, y, g, dst and mask hold rows of h values (a trailing
// partial row is ignored); alpha holds h slopes, one per column. A nil mask
// multiplies by one. The assembly gives the Go loops' bits: it rounds the
// product and the sum separately, as the Go compiler does on amd64.

// PReLU writes y = (max(z,0) + α·min(z,0)) ⊙ mask; y may be z.
func PReLU[T Float](y, z, alpha, mask []T, h int) {
	rows := len(z) / h
	if rows == 0 {
		return
	}
	n := rows * h
	y, z, alpha = y[:n], z[:n], alpha[:h]
	if mask != nil {
		mask = mask[:n]
	}
	h0 := 0
	if z32, ok := any(z).([]float32); ok && useAsm && h >= 8 {
		h0 = h &^ 7
		preluFwdAVX(&any(y).([]float32)[0], &z32[0], &any(alpha).([]float32)[0], first32(mask), rows, h0, h)
	}
	preluGo(y, z, alpha, mask, h, h0)
}

// preluGo is the fallback of PReLU on columns h0 to h of every row.
func preluGo[T Float](y, z, alpha, mask []T, h, h0 int) {
	for i := 0; i+h <= len(z); i += h {
		zr, yr, al := z[i+h0:i+h], y[i+h0:i+h], alpha[h0:]
		yr, al = yr[:len(zr)], al[:len(zr)]
		for j, v := range zr {
			// min/max compile without branches: signs are random, and a
			// mispredicted branch per element cost 10x.
			yr[j] = max(v, 0) + al[j]*min(v, 0)
		}
		if mask != nil {
			mr := mask[i+h0 : i+h]
			for j := range yr {
				yr[j] *= mr[j]
			}
		}
	}
}

// PReLUGradZ writes the gradient with respect to z of PReLU,
// dst = g ⊙ mask ⊙ slope, where the slope is 1 + (α−1)·s and s is z's sign
// bit (so −0 takes slope α).
func PReLUGradZ[T Float](dst, z, alpha, g, mask []T, h int) {
	rows := len(z) / h
	if rows == 0 {
		return
	}
	n := rows * h
	dst, z, g, alpha = dst[:n], z[:n], g[:n], alpha[:h]
	if mask != nil {
		mask = mask[:n]
	}
	h0 := 0
	if z32, ok := any(z).([]float32); ok && useAsm && h >= 8 {
		h0 = h &^ 7
		preluGradZAVX(&any(dst).([]float32)[0], &z32[0], &any(alpha).([]float32)[0], &any(g).([]float32)[0], first32(mask), rows, h0, h)
	}
	preluGradZGo(dst, z, alpha, g, mask, h, h0)
}

// preluGradZGo is the fallback of PReLUGradZ on columns h0 to h of every
// row.
func preluGradZGo[T Float](dst, z, alpha, g, mask []T, h, h0 int) {
	for i := 0; i+h <= len(z); i += h {
		zr, dr, gr, al := z[i+h0:i+h], dst[i+h0:i+h], g[i+h0:i+h], alpha[h0:]
		dr, gr, al = dr[:len(zr)], gr[:len(zr)], al[:len(zr)]
		for j, v := range zr {
			dr[j] = gr[j] * (1 + (al[j]-1)*signBit(v))
		}
		if mask != nil {
			mr := mask[i+h0 : i+h]
			for j := range dr {
				dr[j] *= mr[j]
			}
		}
	}
}

// PReLUGradAlpha adds the gradient with respect to α of PReLU to dst (h
// values): dst[j] += Σ over rows of g·min(z,0)·mask, row by row in order.
func PReLUGradAlpha[T Float](dst, z, g, mask []T, h int) {
	rows := len(z) / h
	if rows == 0 {
		return
	}
	n := rows * h
	dst, z, g = dst[:h], z[:n], g[:n]
	if mask != nil {
		mask = mask[:n]
	}
	h0 := 0
	if z32, ok := any(z).([]float32); ok && useAsm && h >= 8 {
		h0 = h &^ 7
		preluGradAlphaAVX(&any(dst).([]float32)[0], &z32[0], &any(g).([]float32)[0], first32(mask), rows, h0, h)
	}
	preluGradAlphaGo(dst, z, g, mask, h, h0)
}

// preluGradAlphaGo is the fallback of PReLUGradAlpha on columns h0 to h.
func preluGradAlphaGo[T Float](dst, z, g, mask []T, h, h0 int) {
	d := dst[h0:h]
	for i := 0; i+h <= len(z); i += h {
		zr, gr := z[i+h0:i+h], g[i+h0:i+h]
		gr, d := gr[:len(zr)], d[:len(zr)]
		if mask == nil {
			for j, v := range zr {
				d[j] += gr[j] * min(v, 0)
			}
			continue
		}
		mr := mask[i+h0 : i+h]
		mr = mr[:len(zr)]
		for j, v := range zr {
			d[j] += gr[j] * min(v, 0) * mr[j]
		}
	}
}

// signBit is 1 when v's sign bit is set (v < 0 or v = −0) and 0 otherwise,
// without a branch.
func signBit[T Float](v T) T {
	return T(math.Float64bits(float64(v)) >> 63)
}

// first32 is &v[0] of a float32 slice, or nil for a nil or empty one.
func first32[T Float](v []T) *float32 {
	if len(v) == 0 {
		return nil
	}
	return &any(v).([]float32)[0]
}
