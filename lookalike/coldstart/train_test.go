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
