package coldstart

import (
	"context"
	"slices"
	"testing"
)

// TestEpochPositives checks the per-epoch bound on the positives: a bound
// at or above the data's positives trains exactly as no bound, a lower
// one trains that many positives (and their negatives) every epoch.
func TestEpochPositives(t *testing.T) {
	p, enc, attrs := smallWorld(t)
	train := func(bound int) (*Model, *TrainReport) {
		t.Helper()
		cfg := Config{Epochs: 3, Hidden: 8, Dim: 4, Batch: 32, Seed: 1, EpochPositives: bound}
		m, rep, err := Train(context.Background(), p.emb, p.dim, p.clickers, attrs, enc, cfg, TrainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m, rep
	}
	unbounded, rep := train(1 << 30)
	n := rep.Positives
	if n < 100 {
		t.Fatalf("only %d positives in the fixture", n)
	}
	const negatives = 4 // the default
	tests := []struct {
		name      string
		bound     int
		perEpoch  int
		sameModel bool
	}{
		{"bound above the data", n + 1, n, true},
		{"bound at the data", n, n, true},
		{"default bound", 0, n, true},
		{"bound below the data", n / 3, n / 3, false},
		{"one positive", 1, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, rep := train(tt.bound)
			if rep.EpochPositives != tt.perEpoch {
				t.Errorf("%d positives per epoch, want %d", rep.EpochPositives, tt.perEpoch)
			}
			if want := int64(3 * tt.perEpoch * (1 + negatives)); rep.Pairs != want {
				t.Errorf("%d pairs trained, want %d", rep.Pairs, want)
			}
			if want := 3 * ((tt.perEpoch + 31) / 32); rep.Steps != want {
				t.Errorf("%d steps, want %d", rep.Steps, want)
			}
			// the weights, not the file (which holds the config)
			if same := sameWeights(m, unbounded); same != tt.sameModel {
				t.Errorf("same weights as without a bound: %v, want %v", same, tt.sameModel)
			}
		})
	}
	if _, _, err := Train(context.Background(), p.emb, p.dim, p.clickers, attrs, enc, Config{EpochPositives: -1}, TrainOptions{}); err == nil {
		t.Error("a negative bound was accepted")
	}
}

// sameWeights reports whether a and b have equal weights, bit for bit.
func sameWeights(a, b *Model) bool {
	return a.b2 == b.b2 && slices.EqualFunc(a.weights(), b.weights(), slices.Equal[[]float32])
}

// TestSampleTail checks the partial shuffle behind Config.EpochPositives:
// with k = len(v) it permutes exactly as rand.Shuffle from the same state,
// and with a smaller k it returns k distinct elements of v, v itself still
// a permutation of its elements.
func TestSampleTail(t *testing.T) {
	base := make([]int, 1000)
	for i := range base {
		base[i] = i
	}
	for _, k := range []int{0, 1, 7, 999, 1000} {
		v := slices.Clone(base)
		got := sampleTail(newRNG(5, 1), v, k)
		if len(got) != k {
			t.Fatalf("k=%d: %d elements", k, len(got))
		}
		if s := slices.Sorted(slices.Values(v)); !slices.Equal(s, base) {
			t.Fatalf("k=%d: v is no longer a permutation", k)
		}
		if k == len(base) {
			want := slices.Clone(base)
			newRNG(5, 1).Shuffle(len(want), func(a, b int) { want[a], want[b] = want[b], want[a] })
			if !slices.Equal(got, want) {
				t.Errorf("k=len: differs from rand.Shuffle")
			}
		}
	}
	if got := sampleTail(newRNG(5, 1), []int{4}, 1); !slices.Equal(got, []int{4}) {
		t.Errorf("one element: %v", got)
	}
}
