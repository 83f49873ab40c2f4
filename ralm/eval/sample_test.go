package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// sampleFixture: 2000 known users with random activity, items with seeds
// and a few hundred positives each.
func sampleFixture() (Universe, []Case, []Scorer) {
	const n = 2000
	r := rand.New(rand.NewPCG(1, 2))
	clicks := make([]int32, n)
	for i := range clicks {
		clicks[i] = int32(r.IntN(100))
	}
	var cases []Case
	for it := 0; it < 6; it++ {
		c := Case{Item: string(rune('a' + it)), ItemIndex: int32(it), Fresh: it%2 == 1}
		for u := 0; u < n; u++ {
			switch x := r.IntN(100); {
			case x < 3:
				c.Seeds = append(c.Seeds, int32(u))
			case x < 3+int(clicks[u])/10: // positives lean to active users
				c.Positives = append(c.Positives, int32(u))
			}
		}
		cases = append(cases, c)
	}
	return universe(n), cases, []Scorer{oracle{}, Activity{Clicks: clicks}}
}

func TestEvaluateSampledCandidates(t *testing.T) {
	ctx := context.Background()
	u, cases, models := sampleFixture()
	exact, err := Evaluate(ctx, u, cases, models, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if exact.Scoring != "exact" {
		t.Errorf("default scoring %q, want exact", exact.Scoring)
	}
	run := func(o Options) *Result {
		t.Helper()
		res, err := Evaluate(ctx, u, cases, models, o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	tests := []struct {
		name string
		a, b Options
		same bool
	}{
		{"reproducible for any number of workers", Options{Candidates: 100, Seed: 7, Workers: 1}, Options{Candidates: 100, Seed: 7, Workers: 4}, true},
		{"the seed changes the sample", Options{Candidates: 100, Seed: 7}, Options{Candidates: 100, Seed: 8}, false},
		{"N at least all negatives is exact", Options{Candidates: 2000, Seed: 3}, Options{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := run(tt.a), run(tt.b)
			if got := reflect.DeepEqual(a.Items, b.Items); got != tt.same {
				t.Errorf("per-item results equal = %v, want %v", got, tt.same)
			}
		})
	}
	sampled := run(Options{Candidates: 100, Seed: 7})
	if sampled.Scoring != "sampled: 100 negatives per item, seed 7" {
		t.Errorf("scoring %q", sampled.Scoring)
	}
	for i, r := range sampled.Items {
		if r.Candidates != r.Positives+100 || r.Positives != exact.Items[i].Positives {
			t.Errorf("%s/%s: %d candidates, %d positives; want all %d positives + 100", r.Model, r.Item, r.Candidates, r.Positives, exact.Items[i].Positives)
		}
	}
	// AUC is unbiased: averaged over seeds, sampled AUC approaches exact AUC.
	const draws = 40
	mean := make([]float64, len(exact.Items))
	for s := range draws {
		for i, r := range run(Options{Candidates: 100, Seed: int64(s)}).Items {
			mean[i] += r.AUC / draws
		}
	}
	for i, r := range exact.Items {
		if math.Abs(mean[i]-r.AUC) > 0.01 {
			t.Errorf("%s/%s: mean sampled AUC %.4f, exact %.4f", r.Model, r.Item, mean[i], r.AUC)
		}
	}
}
