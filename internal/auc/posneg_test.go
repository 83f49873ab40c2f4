package auc

import (
	"math"
	"testing"
)

// TestPosNeg covers the split form the look-alike validation uses (the
// cases of its former private AUC, whose 0.5 for an empty side is NaN
// here: its caller skips such items).
func TestPosNeg(t *testing.T) {
	cases := []struct {
		pos, neg []float32
		want     float64
	}{
		{[]float32{3}, []float32{1, 2}, 1},
		{[]float32{0}, []float32{1, 2}, 0},
		{[]float32{1}, []float32{1}, 0.5},
		{[]float32{2, 1}, []float32{1, 0}, (2 + 1.5) / 4},
		{[]float32{1, 1}, []float32{1, 1, 1}, 0.5},
		{nil, []float32{1}, math.NaN()},
		{[]float32{1}, nil, math.NaN()},
	}
	for _, tc := range cases {
		got := PosNeg(tc.pos, tc.neg)
		if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12) {
			t.Errorf("PosNeg(%v, %v) = %v, want %v", tc.pos, tc.neg, got, tc.want)
		}
	}
}
