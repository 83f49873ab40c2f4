package userrep

import (
	"math"
	"math/rand"
	"testing"
)

// TestLogUniformDistribution draws many samples and compares the frequency
// of every rank with p(r) = (log(r+2) − log(r+1)) / log(D+1).
func TestLogUniformDistribution(t *testing.T) {
	const D, N = 50, 400000
	counts := make([]int, D)
	rng := rand.New(rand.NewSource(1))
	for i := range counts {
		counts[i] = rng.Intn(1000) // item popularity, unrelated to index
	}
	s := newLogUniform(counts)
	// ranks follow popularity: rank 0 is the most clicked item
	for r := 1; r < D; r++ {
		if counts[s.byRank[r-1]] < counts[s.byRank[r]] {
			t.Fatalf("rank %d has more clicks than rank %d", r, r-1)
		}
	}
	var sum float64
	for r := 0; r < D; r++ {
		sum += s.prob(r)
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Fatalf("probabilities sum to %v", sum)
	}
	got := make([]int, D)
	for i := 0; i < N; i++ {
		got[s.rankOf[s.draw(rng)]]++
	}
	var chi2 float64
	for r := 0; r < D; r++ {
		e := N * s.prob(r)
		chi2 += (float64(got[r]) - e) * (float64(got[r]) - e) / e
	}
	// 49 degrees of freedom: the 99.9th percentile is about 85
	if chi2 > 85 {
		t.Errorf("chi-square %.1f over %d ranks: samples do not follow the log-uniform law", chi2, D)
	}
	if math.Abs(s.itemLogQ(s.byRank[3])-math.Log(s.prob(3))) > 1e-12 {
		t.Error("itemLogQ disagrees with prob")
	}
}

// TestDrawExcept never returns the excluded item, even the most likely one.
func TestDrawExcept(t *testing.T) {
	s := newLogUniform([]int{100, 5, 1})
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 10000; i++ {
		if s.drawExcept(rng, 0) == 0 {
			t.Fatal("drew the excluded item")
		}
	}
	one := newLogUniform([]int{3})
	if got := one.drawExcept(rng, 0); got != 0 {
		t.Fatalf("single item: got %d", got)
	}
}

// TestDrawKeep: dropout keeps at least one field per example, drops at
// about the requested rate and scales kept concat fields by 1/(1−p).
func TestDrawKeep(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, merge := range []Merge{MergeAttention, MergeConcat} {
		cfg := DefaultConfig()
		cfg.Merge, cfg.FieldDropout = merge, 0.5
		const F, B = 3, 20000
		keep := make([]float32, F*B)
		drawKeep(keep, F, B, cfg, rng)
		dropped := 0
		want := float32(1)
		if merge == MergeConcat {
			want = 2
		}
		for b := 0; b < B; b++ {
			kept := 0
			for f := 0; f < F; f++ {
				switch keep[f*B+b] {
				case 0:
					dropped++
				case want:
					kept++
				default:
					t.Fatalf("%s: keep value %v", merge, keep[f*B+b])
				}
			}
			if kept == 0 {
				t.Fatalf("%s: example %d lost every field", merge, b)
			}
		}
		// P(drop) = 0.5 minus the rescued all-dropped case: 0.5 − 1/(8·3)
		if rate := float64(dropped) / (F * B); math.Abs(rate-(0.5-1.0/24)) > 0.01 {
			t.Errorf("%s: drop rate %.3f", merge, rate)
		}
	}
}
