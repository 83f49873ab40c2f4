package lookalike

import (
	"context"
	"fmt"
	"os"
	"testing"
)

func TestExpLearn(t *testing.T) {
	if os.Getenv("LKEXP") == "" {
		t.Skip()
	}
	p := makePlanted(plantedSpec{users: 800, comms: 12, dim: 8, nuisance: 8, nuisanceStd: 1.2,
		trainItems: 80, testItems: 30, noise: 0.4, clickRate: 0.3, randomRate: 0.003, seed: 1})
	t.Logf("centroid %.4f knn %.4f", p.heldOut(1, p.centroidScorer), p.heldOut(1, p.knnScorer))
	for _, cfg := range []Config{
		{K: 8, SeedsPerItem: 40, Epochs: 12, LR: 1e-2, Seed: 1},
		{K: 8, SeedsPerItem: 40, Epochs: 12, LR: 2e-2, Seed: 1},
		{K: 8, SeedsPerItem: 40, Epochs: 12, LR: 2e-2, Seed: 1, PositivesPerItem: 4},
		{K: 8, SeedsPerItem: 40, Epochs: 12, LR: 5e-2, Seed: 1},
	} {
		m, rep, err := Train(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := p.heldOut(1, func(seeds []float32, users []int32) []float32 {
			st, _ := m.BuildItem(context.Background(), seeds, nil)
			out := make([]float32, len(users))
			for i, u := range users {
				m.Score(p.emb[int(u)*p.dim:(int(u)+1)*p.dim], []*ItemState{st}, out[i:i+1])
			}
			return out
		})
		var ls string
		for _, e := range rep.Epochs {
			ls += fmt.Sprintf(" %.3f", e.Loss)
		}
		t.Logf("prior=%v pool=%s lr=%v ppi=%d: %.4f  losses%s  a=%.2f c=%.2f", cfg.SizePrior, cfg.Pooling, cfg.LR, cfg.PositivesPerItem, got, ls, m.a, m.c)
	}
}
