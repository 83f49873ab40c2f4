package lookalike

import (
	"context"
	"testing"
)

func TestTopUsers(t *testing.T) {
	// 6 users of width 1; scores are the values; users 1 and 4 tie.
	users := UserRows{Vecs: []float32{0.1, 0.5, 0.9, float32Nan(), 0.5, 0.3}, Dim: 1}
	score := func(_ int32, v []float32) float32 { return v[0] }
	for _, tc := range []struct {
		name string
		n    int
		skip func(int32) bool
		want []int32
	}{
		{"top 3, tie by id", 3, nil, []int32{2, 1, 4}},
		{"skip", 2, func(u int32) bool { return u == 2 }, []int32{1, 4}},
		{"more than there are (NaN left out)", 10, nil, []int32{2, 1, 4, 5, 0}},
	} {
		got, err := TopUsers(context.Background(), users, tc.n, score, tc.skip)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %v, want users %v", tc.name, got, tc.want)
		}
		for i, u := range tc.want {
			if got[i].User != u {
				t.Errorf("%s: %v, want users %v", tc.name, got, tc.want)
				break
			}
		}
	}
	if _, err := TopUsers(context.Background(), users, 0, score, nil); err == nil {
		t.Error("n = 0: no error")
	}
}

func float32Nan() float32 { z := float32(0); return z / z }
