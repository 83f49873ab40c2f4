package eval

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestSampledCandidatesMatchFullListing checks the universe-free sampled
// listing against the full listing followed by sampleNegatives: the same
// candidates, labels and tie ranks in the same order, on universes with
// gaps, seeds that are also positives, repeated and unknown users.
func TestSampledCandidatesMatchFullListing(t *testing.T) {
	tests := []struct {
		name                   string
		users, seeds, pos, neg int
	}{
		{"many negatives", 3000, 40, 60, 100},
		{"few seeds", 500, 1, 5, 10},
		{"negatives just above the sample", 200, 20, 69, 100},
		{"negatives at the sample size", 200, 20, 80, 100},
		{"no positive", 300, 10, 0, 50},
		{"every candidate positive", 50, 5, 200, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, uint64(tt.users)))
			var u Universe
			u.TieRank = make([]int32, tt.users)
			for i := range u.TieRank {
				u.TieRank[i] = int32(r.IntN(tt.users))
				if r.IntN(4) > 0 { // gaps: not every user is known
					u.Known = append(u.Known, int32(i))
				}
			}
			pick := func(k int) []int32 {
				var out []int32
				for range k {
					out = append(out, int32(r.IntN(tt.users+10))) // some unknown, some repeated
				}
				return out
			}
			for trial := range 20 {
				c := &Case{Item: string(rune('a' + trial)), Seeds: pick(tt.seeds), Positives: pick(tt.pos)}
				c.Positives = append(c.Positives, c.Seeds[:len(c.Seeds)/2]...) // seeds that are positives
				o := Options{Candidates: tt.neg, Seed: int64(trial)}
				wc, wp, wt, wn := allCandidates(u, c)
				if wn == 0 || wn == len(wc) {
					wc, wp, wt, wn = nil, nil, nil, 0
				} else {
					wc, wp, wt = sampleNegatives(o, c.Item, wc, wp, wt)
				}
				gc, gp, gt, gn, ok := sampledCandidates(o, u, c)
				if !ok {
					gc, gp, gt, gn = allCandidates(u, c)
					if gn == 0 || gn == len(gc) {
						gc, gp, gt, gn = nil, nil, nil, 0
					}
				}
				if gn != wn || !reflect.DeepEqual(gc, wc) || !reflect.DeepEqual(gp, wp) || !reflect.DeepEqual(gt, wt) {
					t.Fatalf("trial %d: got %d positives, candidates %v, want %d, %v", trial, gn, gc, wn, wc)
				}
			}
		})
	}
	if _, _, _, _, ok := sampledCandidates(Options{}, Universe{}, &Case{}); ok {
		t.Error("exact scoring: sampledCandidates should not apply")
	}
}
