package eval

import (
	"context"
	"github.com/ralmlab/ralm/internal/auc"
	"math"
	"sync/atomic"
	"testing"
)

// oracle scores the case's positives 1 and everyone else 0.
type oracle struct{}

func (oracle) Name() string      { return "oracle" }
func (oracle) Scores(*Case) bool { return true }
func (oracle) Score(_ context.Context, c *Case, cand []int32, out []float32) error {
	pos := map[int32]bool{}
	for _, p := range c.Positives {
		pos[p] = true
	}
	for i, u := range cand {
		out[i] = 0
		if pos[u] {
			out[i] = 1
		}
	}
	return nil
}

func universe(n int) Universe {
	u := Universe{TieRank: make([]int32, n)}
	for i := 0; i < n; i++ {
		u.Known = append(u.Known, int32(i))
		u.TieRank[i] = int32(i)
	}
	return u
}

func TestEvaluateBucketsAndCandidates(t *testing.T) {
	u := universe(300)
	seeds := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(i)
		}
		return s
	}
	cases := []Case{
		{Item: "tail", ItemIndex: 0, Seeds: seeds(10), Positives: []int32{250, 251}},
		{Item: "torso", ItemIndex: 1, Seeds: seeds(50), Positives: []int32{260}},
		{Item: "head", ItemIndex: 2, Seeds: seeds(200), Positives: []int32{270}},
		{Item: "fresh", ItemIndex: -1, Fresh: true, Seeds: seeds(10), Positives: []int32{280}},
		{Item: "nopos", ItemIndex: 3, Seeds: seeds(10)},
	}
	var sunk atomic.Int32 // the sink runs on several goroutines
	res, err := Evaluate(context.Background(), u, cases, []Scorer{oracle{}, Activity{Clicks: make([]int32, 300)}}, Options{
		Workers: 3,
		Sink: func(model string, c *Case, cand []int32, scores []float32, pos []bool) error {
			for _, x := range cand {
				for _, s := range c.Seeds {
					if x == s {
						t.Errorf("%s: seed %d among the candidates", c.Item, s)
					}
				}
			}
			sunk.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := sunk.Load(); n != 8 {
		t.Errorf("sink called %d times, want 8 (4 items with positives × 2 models)", n)
	}
	want := map[string]int{BucketWarm: 3, BucketFresh: 1, BucketTail: 1, BucketTorso: 1, BucketHead: 1}
	for b, n := range want {
		m := res.Table["oracle"][b]
		if m.NItems != n || m.AUC != 1 || m.R10 != 1 || m.R50 != 1 {
			t.Errorf("oracle %s = %+v, want %d items with perfect metrics", b, m, n)
		}
		// All activity scores tie at 0: AUC is exactly one half.
		if a := res.Table["activity"][b]; a.AUC != 0.5 {
			t.Errorf("activity %s AUC = %v, want 0.5", b, a.AUC)
		}
	}
	for _, r := range res.Items {
		if r.Model == "oracle" && r.Item == "head" && r.Candidates != 100 {
			t.Errorf("head item has %d candidates, want 300-200", r.Candidates)
		}
	}
}

func TestBaselines(t *testing.T) {
	// Users 0..3 point along x, users 4..7 along y; seeds are 0 and 1.
	dim := 2
	raw := []float32{1, 0, 2, 0.1, 3, 0, 1, 0.2, 0, 1, 0.1, 2, 0, 3, 0.2, 1}
	vec, err := NewVectors(raw, dim)
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{Item: "x", ItemIndex: 0, Seeds: []int32{0, 1}}
	cand := []int32{2, 3, 4, 5, 6, 7}
	for _, m := range []Scorer{Centroid{Vectors: vec}, KNN{Vectors: vec, K: 10}, ItemVec{Users: raw, Items: []float32{1, 0}, Dim: dim}} {
		out := make([]float32, len(cand))
		if err := m.Score(context.Background(), c, cand, out); err != nil {
			t.Fatal(err)
		}
		pos := []bool{true, true, false, false, false, false}
		if auc := auc.Labeled(out, pos); auc != 1 {
			t.Errorf("%s: AUC %v on separable data, want 1 (scores %v)", m.Name(), auc, out)
		}
	}
	if (ItemVec{}).Scores(&Case{Fresh: true, ItemIndex: -1}) {
		t.Error("itemvec claims to score a fresh item")
	}
	if _, err := NewVectors([]float32{1, 2, 3}, 2); err == nil {
		t.Error("NewVectors with a ragged matrix: want an error")
	}
}

func TestKNNMeanOfTopK(t *testing.T) {
	vec, _ := NewVectors([]float32{1, 0, 0, 1, 1, 1}, 2)
	out := make([]float32, 1)
	// Candidate 2 = (1,1)/√2 has cosine 1/√2 with both seeds; K=1 takes one.
	if err := (KNN{Vectors: vec, K: 1}).Score(context.Background(), &Case{Seeds: []int32{0, 1}}, []int32{2}, out); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(out[0])-1/math.Sqrt2) > 1e-6 {
		t.Errorf("knn score %v, want 1/√2", out[0])
	}
}

func TestEvaluateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []Case{{Item: "a", Seeds: []int32{0}, Positives: []int32{1}}}
	if _, err := Evaluate(ctx, universe(3), cases, []Scorer{oracle{}}, Options{}); err == nil {
		t.Error("cancelled context: want an error")
	}
}
