package data

import (
	"math"
	"math/rand"
	"testing"
)

// TestIntCodes checks the id → code table against a Go map on key sets
// that stress a hash table: random, consecutive, strided by powers of two,
// negative and extreme ids, with repeats and codeUnknown codes.
func TestIntCodes(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	cases := []struct {
		name string
		id   func(i int) int64
	}{
		{"random", func(int) int64 { return rng.Int63() - rng.Int63() }},
		{"consecutive", func(i int) int64 { return int64(i) }},
		{"stride 2^20", func(i int) int64 { return int64(i) << 20 }},
		{"stride 2^40", func(i int) int64 { return int64(i) << 40 }},
		{"negative", func(i int) int64 { return -int64(i) * 7919 }},
		{"extremes", func(i int) int64 {
			return []int64{math.MinInt64, math.MaxInt64, 0, -1, 1, math.MinInt64 + 1}[i%6] + int64(i/6)*(1<<58)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := newIntCodes()
			want := map[int64]int32{}
			for i := 0; i < 20_000; i++ {
				id := tc.id(i)
				if c, ok := want[id]; ok {
					if got := tab.get(id); got != c {
						t.Fatalf("id %d: code %d, want %d", id, got, c)
					}
					continue
				}
				if got := tab.get(id); got != codeUncached {
					t.Fatalf("id %d not stored yet: code %d", id, got)
				}
				c := int32(len(want))
				if i%5 == 0 {
					c = codeUnknown
				}
				tab.put(id, c)
				want[id] = c
			}
			for id, c := range want {
				if got := tab.get(id); got != c {
					t.Fatalf("id %d: code %d, want %d", id, got, c)
				}
			}
			if tab.n != len(want) || 2*tab.n > len(tab.slots) {
				t.Fatalf("%d codes in %d slots, want %d at most half full", tab.n, len(tab.slots), len(want))
			}
		})
	}
}
