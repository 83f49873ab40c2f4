package lookalike

import (
	"context"
	"os"
	"testing"
)

func TestExpPlanted(t *testing.T) {
	if os.Getenv("LKEXP") == "" {
		t.Skip()
	}
	p := makePlanted(plantedSpec{users: 1500, comms: 20, dim: 8, trainItems: 200, testItems: 40, noise: 0.5, clickRate: 0.25, randomRate: 0.002, seed: 1})
	base := p.heldOut(1, p.centroidScorer)
	t.Logf("centroid baseline AUC %.4f", base)
	for _, v := range []struct {
		pool  string
		prior bool
		lr    float64
	}{{PoolingAttention, false, 1e-2}, {PoolingAttention, true, 1e-2}, {PoolingAvg, false, 1e-2}, {PoolingAttention, false, 3e-3}} {
		cfg := Config{K: 10, SeedsPerItem: 50, Epochs: 15, LR: v.lr, Pooling: v.pool, SizePrior: v.prior, Seed: 1}
		m, rep, err := Train(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{ValidFraction: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		var vs []float64
		for _, e := range rep.Epochs {
			vs = append(vs, float64(int(e.ValidAUC*1000))/1000)
		}
		auc := p.heldOut(1, func(seeds []float32, users []int32) []float32 {
			st, err := m.BuildItem(context.Background(), seeds, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, len(users))
			one := []*ItemState{st}
			for i, u := range users {
				m.Score(p.emb[int(u)*p.dim:(int(u)+1)*p.dim], one, out[i:i+1])
			}
			return out
		})
		t.Logf("%+v AUC %.4f loss %.4f valid %v (%.0f pairs/s)", v, auc, rep.Epochs[len(rep.Epochs)-1].Loss, vs, rep.PairsPerSec)
	}
}
