package main

import (
	"math"
	"strings"
	"testing"
)

func TestExponent(t *testing.T) {
	xs := []float64{1e4, 3e4, 1e5}
	tests := []struct {
		name string
		f    func(x float64) float64
		want float64
	}{
		{"linear", func(x float64) float64 { return 2e-5 * x }, 1},
		{"quadratic", func(x float64) float64 { return 1e-9 * x * x }, 2},
		{"n log n", func(x float64) float64 { return x * math.Log(x) }, 1.10},
		{"constant", func(float64) float64 { return 3 }, 0},
	}
	for _, tt := range tests {
		ys := make([]float64, len(xs))
		for i, x := range xs {
			ys[i] = tt.f(x)
		}
		if got := exponent(xs, ys); math.Abs(got-tt.want) > 0.01 {
			t.Errorf("%s: exponent %.3f, want %.2f", tt.name, got, tt.want)
		}
	}
	if !math.IsNaN(exponent([]float64{1}, []float64{1})) {
		t.Error("one point: want NaN")
	}
}

func TestTable(t *testing.T) {
	all := []Stage{
		{Users: 1000, Name: "embed", Seconds: 1, Count: 1000, Unit: "users", PeakMB: 10, PerStep: true},
		{Users: 2000, Name: "embed", Seconds: 2, Count: 2000, Unit: "users", PeakMB: 12, PerStep: true},
	}
	got := table(all, []int{1000, 2000}, 1, "1 1 1", "2 2 2")
	for _, want := range []string{"| embed | 1.00 s, 1000 users/s, 10 MB | 2.00 s, 1000 users/s, 12 MB | 1.00 |", "load average (1/5/15 min) 1 1 1 before, 2 2 2 after"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
