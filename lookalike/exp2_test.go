package lookalike

import (
	"os"
	"testing"
)

func TestExpBaselines(t *testing.T) {
	if os.Getenv("LKEXP") == "" {
		t.Skip()
	}
	for _, sp := range []plantedSpec{
		{users: 1500, comms: 20, dim: 8, trainItems: 200, testItems: 40, noise: 0.3, clickRate: 0.25, randomRate: 0.002, seed: 1},
		{users: 1500, comms: 20, dim: 8, trainItems: 200, testItems: 40, noise: 0.5, clickRate: 0.25, randomRate: 0.002, seed: 1},
		{users: 1500, comms: 20, dim: 16, trainItems: 200, testItems: 40, noise: 0.5, clickRate: 0.25, randomRate: 0.002, seed: 1},
		{users: 1500, comms: 40, dim: 8, trainItems: 200, testItems: 40, noise: 0.3, clickRate: 0.4, randomRate: 0.002, seed: 1},
	} {
		p := makePlanted(sp)
		oracle := func(seeds []float32, users []int32) []float32 { return nil }
		_ = oracle
		t.Logf("%+v centroid %.4f knn %.4f", sp, p.heldOut(1, p.centroidScorer), p.heldOut(1, p.knnScorer))
	}
}
