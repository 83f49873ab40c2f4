package coldstart

import (
	"context"
	"math"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/auc"
)

// planted is a synthetic world where an item's attributes determine its
// audience: every user has a taste (one of G groups, written noisily into
// their embedding) and an activity level (log-normal); an item has a
// category (its group), one or two tags (one of its group's pair, plus
// sometimes a random one) and a meaningless year. A user clicks an item of
// their group with a much higher probability than another one, scaled by
// their activity.
type planted struct {
	emb      []float32
	dim      int
	clickers [][]int32
	table    *data.Table
}

func newPlanted(seed uint64, users, items, groups int) *planted {
	rng := newRNG(seed, 77)
	const noise = 0.35
	dim := groups + 2
	p := &planted{dim: dim, emb: make([]float32, users*dim), clickers: make([][]int32, items)}
	taste := make([]int, users)
	act := make([]float64, users)
	for u := range taste {
		taste[u] = rng.IntN(groups)
		act[u] = math.Exp(0.8 * rng.NormFloat64())
		row := p.emb[u*dim : (u+1)*dim]
		for k := range row {
			row[k] = float32(noise * rng.NormFloat64())
		}
		row[taste[u]] += 1
		row[groups] = float32(math.Log(act[u]) + 0.1*rng.NormFloat64())
	}
	keys := data.NewVocab(data.IDString)
	cat := data.Column{Name: "category", Kind: data.ColumnCategorical, Values: data.NewVocab(data.IDString), Offsets: []int32{0}}
	tags := data.Column{Name: "tags", Kind: data.ColumnMulti, Values: data.NewVocab(data.IDString), Offsets: []int32{0}}
	year := data.Column{Name: "year", Kind: data.ColumnContinuous}
	for i := 0; i < items; i++ {
		keys.Add("i" + itoa(i))
		g := rng.IntN(groups)
		cat.Codes = append(cat.Codes, cat.Values.MustAdd("c"+itoa(g)))
		cat.Offsets = append(cat.Offsets, int32(len(cat.Codes)))
		tags.Codes = append(tags.Codes, tags.Values.MustAdd("t"+itoa(2*g+rng.IntN(2))))
		if rng.Float64() < 0.4 {
			tags.Codes = append(tags.Codes, tags.Values.MustAdd("t"+itoa(rng.IntN(2*groups))))
		}
		tags.Offsets = append(tags.Offsets, int32(len(tags.Codes)))
		year.Floats = append(year.Floats, float64(1980+rng.IntN(40)))
		for u := range taste {
			pc := 0.004
			if taste[u] == g {
				pc = 0.035
			}
			if rng.Float64() < min(1, pc*act[u]) {
				p.clickers[i] = append(p.clickers[i], int32(u))
			}
		}
	}
	p.table = &data.Table{Keys: keys, Columns: []data.Column{cat, tags, year}}
	return p
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// TestLearnsPlanted trains on 80% of the planted items and scores the other
// 20% from their attributes alone (zero seeds): the network must beat the
// activity prior and the per-attribute popularity baseline on mean AUC by a
// margin.
func TestLearnsPlanted(t *testing.T) {
	if testing.Short() {
		t.Skip("learning test (about 2 s)")
	}
	const users, items, groups = 800, 400, 8
	p := newPlanted(11, users, items, groups)
	enc, err := NewEncoder(p.table, 0)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]Attrs, items)
	for i := range all {
		if all[i], _, err = enc.Row(p.table, i); err != nil {
			t.Fatal(err)
		}
	}
	nTrain := items * 4 / 5
	train := make([]Attrs, items)
	copy(train, all[:nTrain]) // test items have no attributes in training
	trainClicks := make([][]int32, items)
	copy(trainClicks, p.clickers[:nTrain])
	positives := 0
	for _, cl := range trainClicks {
		positives += len(cl)
	}
	pop, err := NewPopularity(enc, trainClicks, train)
	if err != nil {
		t.Fatal(err)
	}
	activity := make([]float32, users)
	for _, cl := range trainClicks {
		for _, u := range cl {
			activity[u]++
		}
	}
	var known []int32
	for u, a := range activity {
		if a > 0 {
			known = append(known, int32(u))
		}
	}
	knownEmb := make([]float32, len(known)*p.dim)
	for k, u := range known {
		copy(knownEmb[k*p.dim:(k+1)*p.dim], p.emb[int(u)*p.dim:(int(u)+1)*p.dim])
	}
	// The same work twice: every positive for 12 epochs, and a fresh
	// quarter of them for 48 (Config.EpochPositives, as on a large log).
	tests := []struct {
		name string
		cfg  Config
	}{
		{"every positive", Config{Epochs: 12, Seed: 3}},
		{"a quarter per epoch", Config{Epochs: 48, Seed: 3, EpochPositives: positives / 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, rep, err := Train(context.Background(), p.emb, p.dim, trainClicks, train, enc, tt.cfg, TrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.EpochLoss[len(rep.EpochLoss)-1] >= rep.EpochLoss[0] {
				t.Errorf("loss did not fall: %v", rep.EpochLoss)
			}
			var sum [3]float64
			n := 0
			model, popS, actS := make([]float32, len(known)), make([]float32, len(known)), make([]float32, len(known))
			for i := nTrain; i < items; i++ {
				if len(p.clickers[i]) == 0 {
					continue
				}
				it, err := m.Item(all[i])
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Logits(knownEmb, it, model); err != nil {
					t.Fatal(err)
				}
				if err := pop.Scores(all[i], known, popS); err != nil {
					t.Fatal(err)
				}
				for k, u := range known {
					actS[k] = activity[u]
				}
				isPos := make([]bool, len(known))
				np := 0
				for _, u := range p.clickers[i] {
					for k, ku := range known {
						if ku == u {
							isPos[k] = true
							np++
						}
					}
				}
				if np == 0 || np == len(known) {
					continue
				}
				for j, s := range [][]float32{model, actS, popS} {
					sum[j] += auc.Labeled(s, isPos)
				}
				n++
			}
			if n < 20 {
				t.Fatalf("only %d test items with known clickers", n)
			}
			mAUC, aAUC, pAUC := sum[0]/float64(n), sum[1]/float64(n), sum[2]/float64(n)
			t.Logf("zero-seed AUC over %d items: cold-start %.3f, activity %.3f, popularity %.3f (%d steps, %.0f pairs/s)",
				n, mAUC, aAUC, pAUC, rep.Steps, rep.PairsPerSec)
			const margin = 0.03
			if mAUC < aAUC+margin || mAUC < pAUC+margin {
				t.Errorf("cold-start AUC %.3f does not beat activity %.3f and popularity %.3f by %.2f", mAUC, aAUC, pAUC, margin)
			}
		})
	}
}
