package coldstart

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/data"
	adamopt "github.com/ralmlab/ralm/internal/adam"
)

// TrainOptions controls a training run (not the model).
type TrainOptions struct {
	// Progress, if set, is called after every epoch on the training
	// goroutine.
	Progress func(Progress)
}

// Progress is a snapshot of a training run after an epoch.
type Progress struct {
	Epoch, Epochs int
	Loss          float64 // mean training loss of the epoch
	Pairs         int64   // (item, user) pairs trained so far
	PairsPerSec   float64
	Elapsed       time.Duration
}

// TrainReport describes a finished run.
type TrainReport struct {
	Items          int       `json:"items"`           // items given
	TrainItems     int       `json:"train_items"`     // items with attributes and clickers
	Positives      int       `json:"positives"`       // (item, clicker) pairs in the data
	EpochPositives int       `json:"epoch_positives"` // positives trained per epoch (a sample when fewer than Positives)
	Steps          int       `json:"steps"`
	Pairs          int64     `json:"pairs"`
	Seconds        float64   `json:"seconds"`
	PairsPerSec    float64   `json:"pairs_per_sec"`
	EpochLoss      []float64 `json:"epoch_loss"`
}

// RNG streams of a run.
const (
	streamInit uint64 = iota + 1
	streamSample
)

func newRNG(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15^stream))
}

// Train fits the cold-start network. emb holds the user embeddings
// row-major (users × dim); clickers[i] lists the user rows who clicked item
// i; attrs[i] are item i's attributes under enc (nil: no row in the items
// table, not trained on). Every clicker of an item with attributes is a
// positive against cfg.Negatives users drawn uniformly from the users who
// clicked anything but not this item, as in the look-alike stage; an epoch
// trains on at most cfg.EpochPositives of them, drawn afresh each epoch. The run
// is reproducible from cfg.Seed and stops with ctx's error when ctx is
// cancelled.
func Train(ctx context.Context, emb []float32, dim int, clickers [][]int32, attrs []Attrs, enc *Encoder, cfg Config, opts TrainOptions) (*Model, *TrainReport, error) {
	start := time.Now()
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, nil, fmt.Errorf("train cold-start model: %w", err)
	}
	if enc == nil {
		return nil, nil, fmt.Errorf("train cold-start model: no encoder")
	}
	if dim < 1 || len(emb)%dim != 0 {
		return nil, nil, fmt.Errorf("train cold-start model: %d embedding values are not rows of width %d", len(emb), dim)
	}
	for i, v := range emb {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("train cold-start model: embedding of user %d has a non-finite value", i/dim)
		}
	}
	nUsers := len(emb) / dim
	if len(attrs) != len(clickers) {
		return nil, nil, fmt.Errorf("train cold-start model: %d attribute rows for %d items", len(attrs), len(clickers))
	}
	rep := &TrainReport{Items: len(clickers)}
	sets, known, err := data.ClickerSets(clickers, nUsers)
	if err != nil {
		return nil, nil, fmt.Errorf("train cold-start model: %w", err)
	}
	type pos struct{ item, user int32 }
	total := 0
	for i, s := range sets {
		if attrs[i] == nil || len(s) == 0 {
			continue
		}
		if err := enc.check(attrs[i]); err != nil {
			return nil, nil, fmt.Errorf("train cold-start model: item %d: %w", i, err)
		}
		rep.TrainItems++
		total += len(s)
	}
	positives := make([]pos, 0, total)
	for i, s := range sets {
		if attrs[i] == nil || len(s) == 0 {
			continue
		}
		for _, u := range s {
			positives = append(positives, pos{int32(i), u})
		}
	}
	if len(positives) == 0 {
		return nil, nil, fmt.Errorf("train cold-start model: no item has both attributes and clickers")
	}
	rep.Positives = len(positives)
	rep.EpochPositives = min(len(positives), cfg.EpochPositives)

	m := newModel(cfg, enc, dim)
	m.initWeights(newRNG(uint64(cfg.Seed), streamInit))
	rng := newRNG(uint64(cfg.Seed), streamSample)
	K := cfg.Negatives
	P := min(cfg.Batch, len(positives))
	N := max(2, P*(1+K))
	xw, h := m.itemWidth(), cfg.Hidden
	sg, err := buildGraph(tensor.Float32, N, xw, dim, h, m.w1, m.b1, m.w2, m.b2, m.wv)
	if err != nil {
		return nil, nil, fmt.Errorf("train cold-start model: %w", err)
	}
	defer sg.close()
	opt, err := adamopt.New[float32](cfg.LR)
	if err != nil {
		return nil, nil, fmt.Errorf("train cold-start model: %w", err)
	}
	dense := [][]float32{m.w1, m.b1, m.w2, nil, m.wv} // graph order; nil is the scalar b2
	var m1, m2 [][]float32
	for _, w := range dense {
		n := max(1, len(w))
		m1, m2 = append(m1, make([]float32, n)), append(m2, make([]float32, n))
	}
	e := cfg.Dim
	tg := make([][]float32, len(m.tables)) // table gradients (touched rows only are non-zero)
	tm1 := make([][]float32, len(m.tables))
	tm2 := make([][]float32, len(m.tables))
	touched := make([][]int32, len(m.tables))
	mark := make([][]bool, len(m.tables))
	for f, t := range m.tables {
		tg[f], tm1[f], tm2[f] = make([]float32, len(t)), make([]float32, len(t)), make([]float32, len(t))
		mark[f] = make([]bool, len(t)/e)
	}
	X := sg.data(sg.x).([]float32)
	U := sg.data(sg.u).([]float32)
	Y := sg.data(sg.y).([]float32)
	WT := sg.data(sg.wt).([]float32)
	rowItem := make([]int32, N) // item of each row, -1 for padding

	negative := func(cl []int32) int32 {
		var u int32
		for try := 0; try < 32; try++ {
			u = known[rng.IntN(len(known))]
			if _, found := slices.BinarySearch(cl, u); !found {
				return u
			}
		}
		return u
	}

	for ep := 1; ep <= cfg.Epochs; ep++ {
		epoch := sampleTail(rng, positives, rep.EpochPositives)
		var lossSum float64
		var epPairs int64
		for s := 0; s < len(epoch); s += P {
			if err := ctx.Err(); err != nil {
				return nil, nil, fmt.Errorf("train cold-start model: %w", err)
			}
			batch := epoch[s:min(s+P, len(epoch))]
			clear(WT)
			clear(Y)
			for r := range rowItem {
				rowItem[r] = -1
			}
			pairs := 0
			for p, ps := range batch {
				base := p * (1 + K)
				m.pool(attrs[ps.item], X[base*xw:(base+1)*xw])
				for q := 0; q <= K; q++ {
					r := base + q
					u := ps.user
					if q > 0 {
						copy(X[r*xw:(r+1)*xw], X[base*xw:(base+1)*xw])
						u = negative(sets[ps.item])
					} else {
						Y[r] = 1
					}
					copy(U[r*dim:(r+1)*dim], emb[int(u)*dim:(int(u)+1)*dim])
					WT[r] = 1
					rowItem[r] = ps.item
					pairs++
				}
			}
			inv := 1 / float32(pairs)
			for r := range WT {
				WT[r] *= inv
			}
			sg.setB2(float64(m.b2))
			if err := sg.run(); err != nil {
				return nil, nil, fmt.Errorf("train cold-start model: epoch %d: %w", ep, err)
			}
			l := sg.loss()
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return nil, nil, fmt.Errorf("train cold-start model: epoch %d: loss is %v", ep, l)
			}
			lossSum += l * float64(pairs)
			epPairs += int64(pairs)
			// Scatter dX into the touched embedding rows (mean pooling: each
			// of an item's codes gets 1/len of its field's gradient).
			gxAny, err := sg.grad(0)
			if err != nil {
				return nil, nil, fmt.Errorf("train cold-start model: %w", err)
			}
			gx := gxAny.([]float32)
			for r, it := range rowItem {
				if it < 0 {
					continue
				}
				for f, codes := range attrs[it] {
					if len(codes) == 0 {
						continue
					}
					inv := 1 / float32(len(codes))
					src := gx[r*xw+f*e : r*xw+(f+1)*e]
					for _, c := range codes {
						if !mark[f][c] {
							mark[f][c] = true
							touched[f] = append(touched[f], c)
						}
						dst := tg[f][int(c)*e : (int(c)+1)*e]
						for k, v := range src {
							dst[k] += inv * v
						}
					}
				}
			}
			opt.Begin()
			for i := range dense {
				ga, err := sg.grad(1 + i)
				if err != nil {
					return nil, nil, fmt.Errorf("train cold-start model: %w", err)
				}
				g := ga.([]float32)
				if dense[i] == nil { // b2
					w := []float32{float32(sg.b2())}
					opt.Update(w, g, m1[i], m2[i])
					m.b2 = w[0]
					continue
				}
				opt.Update(dense[i], g, m1[i], m2[i])
			}
			for f := range touched {
				for _, c := range touched[f] {
					lo, hi := int(c)*e, (int(c)+1)*e
					opt.Update(m.tables[f][lo:hi], tg[f][lo:hi], tm1[f][lo:hi], tm2[f][lo:hi])
					clear(tg[f][lo:hi])
					mark[f][c] = false
				}
				touched[f] = touched[f][:0]
			}
			rep.Steps++
			rep.Pairs += int64(pairs)
		}
		rep.EpochLoss = append(rep.EpochLoss, lossSum/float64(max(1, epPairs)))
		if opts.Progress != nil {
			el := time.Since(start)
			opts.Progress(Progress{Epoch: ep, Epochs: cfg.Epochs, Loss: rep.EpochLoss[ep-1], Pairs: rep.Pairs,
				PairsPerSec: float64(rep.Pairs) / max(1e-9, el.Seconds()), Elapsed: el})
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.PairsPerSec = float64(rep.Pairs) / rep.Seconds
	}
	return m, rep, nil
}

// sampleTail moves a uniform random sample of k elements of v, in random
// order, to its end and returns them: the last k steps of a Fisher–Yates
// shuffle, so its cost is k, not len(v), and with k = len(v) it draws and
// swaps exactly as rand.Shuffle does.
func sampleTail[T any](rng *rand.Rand, v []T, k int) []T {
	n := len(v)
	for i := n - 1; i >= n-k && i > 0; i-- {
		j := rng.IntN(i + 1)
		v[i], v[j] = v[j], v[i]
	}
	return v[n-k:]
}
