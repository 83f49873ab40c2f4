package auc

import (
	"math"
	"testing"
)

func TestLabeled(t *testing.T) {
	tests := []struct {
		name   string
		scores []float32
		pos    []bool
		want   float64
	}{
		{"perfect", []float32{0.9, 0.8, 0.1}, []bool{true, true, false}, 1},
		{"inverted", []float32{0.1, 0.8, 0.9}, []bool{true, false, false}, 0},
		{"ties count half", []float32{0.5, 0.5}, []bool{true, false}, 0.5},
		{"mixed", []float32{0.9, 0.3, 0.5, 0.1}, []bool{true, true, false, false}, 0.75},
		{"no negatives", []float32{0.9}, []bool{true}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Labeled(tt.scores, tt.pos)
			if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-12) {
				t.Fatalf("Labeled = %v, want %v", got, tt.want)
			}
			var p, n []float32
			for i, s := range tt.scores {
				if tt.pos[i] {
					p = append(p, s)
				} else {
					n = append(n, s)
				}
			}
			if pn := PosNeg(p, n); math.IsNaN(pn) != math.IsNaN(got) || (!math.IsNaN(got) && pn != got) {
				t.Fatalf("PosNeg = %v, Labeled = %v", pn, got)
			}
		})
	}
}
