package userrep

import (
	"context"
	"math"
	"testing"
)

// smallPlanted is the planted data set of the learning tests.
func smallPlanted() *planted {
	return genPlanted(plantedSpec{users: 1200, items: 400, communities: 20, clicksPerUser: 12, inCommunity: 0.85, seed: 7})
}

// TestLearnsPlanted trains both merges on planted data and requires the
// held-out recall@10 of user·item_vector to be at least 3× the most-popular
// baseline.
func TestLearnsPlanted(t *testing.T) {
	p := smallPlanted()
	for _, merge := range []string{MergeAttention, MergeConcat} {
		t.Run(merge, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Merge = merge
			cfg.Dim = 32
			cfg.Hidden = []int{64, 32}
			cfg.Epochs = 6
			cfg.LR = 5e-3
			cfg.Batch = 128
			m, rep, err := Train(context.Background(), p.fb, p.clicks, cfg, TrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			best := rep.Epochs[rep.BestEpoch-1].HeldOutRecall10
			for _, e := range rep.Epochs {
				t.Logf("epoch %d loss %.4f recall@10 %.4f mrr %.4f (%v)", e.Epoch, e.Loss, e.HeldOutRecall10, e.HeldOutMRR, e.Duration)
			}
			t.Logf("popular recall@10 %.4f, model %.4f over %d held-out users", rep.PopularRecall10, best, rep.HeldOutUsers)
			if rep.HeldOutUsers < 500 {
				t.Fatalf("only %d held-out users", rep.HeldOutUsers)
			}
			if !(best >= 3*rep.PopularRecall10) || rep.PopularRecall10 <= 0 {
				t.Errorf("recall@10 %.4f is not 3× the popular baseline %.4f", best, rep.PopularRecall10)
			}
			if first, last := rep.Epochs[0].Loss, rep.Epochs[len(rep.Epochs)-1].Loss; !(last < first) || math.IsNaN(last) {
				t.Errorf("training loss did not fall: %v -> %v", first, last)
			}
			if m.Dim() != 32 || len(m.ItemVectors()) != 400*32 {
				t.Errorf("model dim %d, %d item values", m.Dim(), len(m.ItemVectors()))
			}
		})
	}
}
