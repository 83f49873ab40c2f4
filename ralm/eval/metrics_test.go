package eval

import (
	"github.com/ralmlab/ralm/internal/auc"
	"math"
	"math/rand"
	"sort"
	"testing"
)

func TestAUC(t *testing.T) {
	tests := []struct {
		name   string
		scores []float32
		pos    []bool
		want   float64
	}{
		{"perfect", []float32{0.9, 0.8, 0.1, 0.2}, []bool{true, true, false, false}, 1},
		{"inverted", []float32{0.1, 0.2, 0.9, 0.8}, []bool{true, true, false, false}, 0},
		{"all tied", []float32{1, 1, 1, 1}, []bool{true, false, false, true}, 0.5},
		// positive 0.5 vs negatives {0.5, 0.1, 0.9}: 0.5 + 1 + 0 = 1.5 of 3.
		{"single positive with a tie", []float32{0.5, 0.5, 0.1, 0.9}, []bool{true, false, false, false}, 0.5},
		// positives {3,1} vs negatives {2,1}: (3>2)+(3>1)+(1<2: 0)+(1=1: .5) = 2.5 of 4.
		{"mixed ties", []float32{3, 1, 2, 1}, []bool{true, true, false, false}, 0.625},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auc.Labeled(tt.scores, tt.pos); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("AUC = %v, want %v", got, tt.want)
			}
		})
	}
	for _, pos := range [][]bool{{true, true}, {false, false}} {
		if got := auc.Labeled([]float32{1, 2}, pos); !math.IsNaN(got) {
			t.Errorf("AUC with labels %v = %v, want NaN", pos, got)
		}
	}
}

// TestAUCMatchesPairCount compares the rank formula with the definition.
func TestAUCMatchesPairCount(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 50; trial++ {
		n := 2 + rng.Intn(40)
		scores := make([]float32, n)
		pos := make([]bool, n)
		for i := range scores {
			scores[i] = float32(rng.Intn(5)) // many ties
			pos[i] = rng.Intn(3) == 0
		}
		pos[0], pos[1] = true, false
		var num, den float64
		for i := range scores {
			for j := range scores {
				if !pos[i] || pos[j] {
					continue
				}
				den++
				switch {
				case scores[i] > scores[j]:
					num++
				case scores[i] == scores[j]:
					num += 0.5
				}
			}
		}
		if got, want := auc.Labeled(scores, pos), num/den; math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d: AUC = %v, pair count = %v", trial, got, want)
		}
	}
}

func TestRecallAtK(t *testing.T) {
	tests := []struct {
		name    string
		scores  []float32
		pos     []bool
		tieRank []int32
		ks      []int
		want    []float64
	}{
		{
			name:    "single positive at rank 2",
			scores:  []float32{0.9, 0.8, 0.1},
			pos:     []bool{false, true, false},
			tieRank: []int32{0, 1, 2},
			ks:      []int{1, 2},
			want:    []float64{0, 1},
		},
		{
			// All four tie; ascending tie rank puts candidates 3 and 0 first.
			name:    "ties broken by ascending user id",
			scores:  []float32{1, 1, 1, 1},
			pos:     []bool{false, true, true, false},
			tieRank: []int32{1, 2, 3, 0},
			ks:      []int{2, 3},
			want:    []float64{0, 0.5},
		},
		{
			name:    "all positives",
			scores:  []float32{0.3, 0.2, 0.1},
			pos:     []bool{true, true, true},
			tieRank: []int32{0, 1, 2},
			ks:      []int{2, 10},
			want:    []float64{1, 1},
		},
		{
			// K=50 exceeds the 4 candidates: every candidate is in the top K and
			// the denominator is min(K, |positives|) = 2.
			name:    "K larger than the candidate count",
			scores:  []float32{0.4, 0.3, 0.2, 0.1},
			pos:     []bool{false, false, true, true},
			tieRank: []int32{0, 1, 2, 3},
			ks:      []int{1, 50},
			want:    []float64{0, 1},
		},
		{
			// 3 positives, K=2: denominator min(2,3)=2; top 2 holds one positive.
			name:    "more positives than K",
			scores:  []float32{0.9, 0.8, 0.7, 0.6},
			pos:     []bool{true, false, true, true},
			tieRank: []int32{0, 1, 2, 3},
			ks:      []int{2},
			want:    []float64{0.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RecallAtK(tt.scores, tt.pos, tt.tieRank, tt.ks)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				if math.Abs(got[i]-tt.want[i]) > 1e-12 {
					t.Errorf("recall@%d = %v, want %v", tt.ks[i], got[i], tt.want[i])
				}
			}
		})
	}
}

func TestRecallAtKErrors(t *testing.T) {
	if _, err := RecallAtK([]float32{1}, []bool{true, false}, []int32{0}, []int{1}); err == nil {
		t.Error("mismatched lengths: want an error")
	}
	if _, err := RecallAtK([]float32{1}, []bool{true}, []int32{0}, []int{0}); err == nil {
		t.Error("K=0: want an error")
	}
	got, err := RecallAtK([]float32{1, 2}, []bool{false, false}, []int32{0, 1}, []int{1})
	if err != nil || !math.IsNaN(got[0]) {
		t.Errorf("no positives: got %v, %v; want NaN", got, err)
	}
}

// TestTopKMatchesFullSort checks the partial selection against a full sort.
func TestTopKMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for trial := 0; trial < 30; trial++ {
		n := 1 + rng.Intn(200)
		scores := make([]float32, n)
		ranks := rng.Perm(n)
		tie := make([]int32, n)
		for i := range scores {
			scores[i] = float32(rng.Intn(10))
			tie[i] = int32(ranks[i])
		}
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		sort.Slice(all, func(a, b int) bool { return before(scores, tie, all[a], all[b]) })
		k := 1 + rng.Intn(n)
		got := topK(scores, tie, k)
		for i := 0; i < k; i++ {
			if got[i] != all[i] {
				t.Fatalf("trial %d: top-%d[%d] = %d, want %d", trial, k, i, got[i], all[i])
			}
		}
	}
}
