package lookalike

// Data-parallel training. A step's B item rows are filled (in row order, from
// the seeded generators; the next step's while one trains, see
// trainer.runSteps) into one set of host inputs and cut into shards of
// ceil(B/N) rows; every worker runs its own graph (its own VM) on its shard
// with a private copy of the weights, so no two machines share a tensor
// (gorgonia pitfall P12). The loss weights are normalised over the whole
// batch before the cut, so the shards' losses and gradients add up to the
// batch's; the gradients are summed worker 0, 1, … and one Adam step updates
// worker 0's weights (the model's storage), which are then copied to the
// others. The result depends on the number of workers (the order of float
// additions), not on scheduling.

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/ralmlab/ralm/internal/shard"
)

// stepInputs are the input buffers of a step, row-major by item row. fill
// writes the users of the seed and target slots (seedUser, targUser: -1
// for an empty slot); gatherRows copies their embeddings into xs and xt.
type stepInputs struct {
	xs, xt, am, y, wt, mask, avgw, dropS, dropT []float32
	seedUser, targUser                          []int32
}

// inputs returns the graph's input tensors' storage (nil when absent; no
// slot users).
func (sg *stepGraph) inputs() stepInputs {
	in := stepInputs{xs: sg.f32(sg.xs), xt: sg.f32(sg.xt), am: sg.f32(sg.amat), y: sg.f32(sg.y), wt: sg.f32(sg.wt)}
	if sg.avg {
		in.avgw = sg.f32(sg.avgw)
	} else {
		in.mask = sg.f32(sg.mask)
	}
	if sg.dropout {
		in.dropS, in.dropT = sg.f32(sg.dropS), sg.f32(sg.dropT)
	}
	return in
}

// newStepInputs allocates host buffers for dims.
func newStepInputs(dm graphDims, avg, dropout bool) stepInputs {
	B, S, K, T, H := dm.B, dm.S, dm.K, dm.T, dm.H
	in := stepInputs{am: make([]float32, B*K*S), y: make([]float32, B*T), wt: make([]float32, B*T),
		seedUser: make([]int32, B*S), targUser: make([]int32, B*T)}
	if avg {
		in.avgw = make([]float32, B*K)
	} else {
		in.mask = make([]float32, B*K)
	}
	if dropout {
		in.dropS, in.dropT = make([]float32, B*S*H), make([]float32, B*T*H)
	}
	return in
}

// gatherRows copies the embeddings (dim D, from emb) of the seed and target
// users of rows [lo, hi) of src into dst's xs and xt (sized for size rows),
// and zeroes the empty slots and the rows after hi.
func (dst stepInputs) gatherRows(src stepInputs, emb []float32, dm graphDims, lo, hi, size int) {
	S, T, D := dm.S, dm.T, dm.D
	rows := func(x []float32, users []int32) {
		for i, u := range users {
			row := x[i*D : i*D+D]
			if u < 0 {
				clear(row)
			} else {
				copy(row, emb[int(u)*D:int(u)*D+D])
			}
		}
		clear(x[len(users)*D:])
	}
	rows(dst.xs[:size*S*D], src.seedUser[lo*S:hi*S])
	rows(dst.xt[:size*T*D], src.targUser[lo*T:hi*T])
}

// shard copies rows [lo, hi) of src into dst (sized for size rows) and
// writes padding rows (one valid seed slot, zero weight) after them; the
// embeddings are gathered from emb (gatherRows).
func (dst stepInputs) shard(src stepInputs, emb []float32, dm graphDims, lo, hi, size int, sizePrior bool) {
	S, K, T, H := dm.S, dm.K, dm.T, dm.H
	n := hi - lo
	cp := func(d, s []float32, w int) {
		if d == nil {
			return
		}
		copy(d[:n*w], s[lo*w:hi*w])
		clear(d[n*w:])
	}
	dst.gatherRows(src, emb, dm, lo, hi, size)
	cp(dst.am, src.am, K*S)
	cp(dst.y, src.y, T)
	cp(dst.wt, src.wt, T)
	cp(dst.mask, src.mask, K)
	cp(dst.avgw, src.avgw, K)
	cp(dst.dropS, src.dropS, S*H)
	cp(dst.dropT, src.dropT, T*H)
	cnt := make([]int, K)
	cnt[0] = 1
	for b := n; b < size; b++ {
		dst.am[(b*K)*S] = 1
		slotInputs(cnt, sizePrior, dst.mask, dst.avgw, b)
	}
}

// build creates one step graph per worker and the optimiser. Worker 0's
// graph is bound to the model's storage; the others get copies.
func (t *trainer) build() error {
	size, n := shard.Split(t.dims.B, t.opts.Threads, 2) // a graph needs at least two rows
	dm := t.dims
	if n > 1 {
		dm.B = size
	}
	dropout := t.cfg.Dropout > 0
	for i := 0; i < n; i++ {
		data := t.m.tensorData()
		if i > 0 {
			for j, d := range data {
				data[j] = append([]float32(nil), d.([]float32)...)
			}
		}
		sg, err := buildStepGraph(t.m, tensor.Float32, dm, dropout, data, true)
		if err != nil {
			t.closeGraphs()
			return fmt.Errorf("train lookalike: %w", err)
		}
		t.sgs = append(t.sgs, sg)
	}
	t.shardSize = size
	avg := t.m.cfg.Pooling == PoolingAvg
	switch {
	case t.prefetch():
		t.hosts = []stepInputs{newStepInputs(t.dims, avg, dropout), newStepInputs(t.dims, avg, dropout)}
	case n == 1:
		h := t.sgs[0].inputs()
		h.seedUser, h.targUser = make([]int32, dm.B*dm.S), make([]int32, dm.B*dm.T)
		t.hosts = []stepInputs{h}
	default:
		t.hosts = []stepInputs{newStepInputs(t.dims, avg, dropout)}
	}
	var err error
	if t.adam, err = newAdam(t.cfg.LR, t.sgs); err != nil {
		t.closeGraphs()
		return fmt.Errorf("train lookalike: %w", err)
	}
	return nil
}

// closeGraphs releases every worker's machine.
func (t *trainer) closeGraphs() {
	for _, sg := range t.sgs {
		sg.close()
	}
	t.sgs = nil
}

// runGraphs runs every worker's graph on its shard of the filled host
// inputs in (in parallel with more than one) and returns the batch loss.
// The workers have copied what they need of in when it returns.
func (t *trainer) runGraphs(in stepInputs) (float64, error) {
	if len(t.sgs) == 1 {
		if t.prefetch() {
			t.sgs[0].inputs().shard(in, t.emb, t.dims, 0, t.dims.B, t.dims.B, !t.cfg.NoSizePrior)
		} else { // in is the graph's own inputs
			in.gatherRows(in, t.emb, t.dims, 0, t.dims.B, t.dims.B)
		}
		if err := t.sgs[0].run(); err != nil {
			return 0, err
		}
		return t.sgs[0].lossValue(), nil
	}
	if err := t.adam.replicate(); err != nil {
		return 0, err
	}
	errs := make([]error, len(t.sgs))
	shard.Run(len(t.sgs), func(i int) {
		lo, hi := min(i*t.shardSize, t.dims.B), min((i+1)*t.shardSize, t.dims.B)
		sg := t.sgs[i]
		sg.inputs().shard(in, t.emb, t.dims, lo, hi, t.shardSize, !t.cfg.NoSizePrior)
		errs[i] = sg.run()
	})
	var loss float64
	for i, sg := range t.sgs {
		if errs[i] != nil {
			return 0, fmt.Errorf("worker %d: %w", i, errs[i])
		}
		loss += sg.lossValue()
	}
	return loss, nil
}
