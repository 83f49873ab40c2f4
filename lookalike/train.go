package lookalike

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/auc"
	"github.com/ralmlab/ralm/internal/prefetch"
)

// TrainOptions controls a training run (not the model).
type TrainOptions struct {
	// Progress, if set, is called after every epoch and, when ProgressEvery
	// is positive, every ProgressEvery steps. It runs on the training
	// goroutine.
	Progress func(Progress)
	// ProgressEvery is the number of steps between two intra-epoch progress
	// calls; 0 reports epochs only.
	ProgressEvery int
	// ValidFraction is the share of trainable items held out of training to
	// report a validation AUC after each epoch (0 disables validation). Each
	// held-out item's clickers are split once into seeds (SeedFraction) and
	// positives; the model scores the positives against random non-clickers
	// from the item's seeds alone, as it would serve a fresh item.
	ValidFraction float64
	// ValidNegatives is the number of random non-clickers scored per
	// validation item; 100 when 0.
	ValidNegatives int
	// Threads is the number of data-parallel workers: each runs the graph
	// on 1/Threads of every batch's rows and the gradients are summed in
	// worker order, so the same seed and Threads give bit-identical
	// weights (another Threads rounds the sums differently, and training
	// can grow that into an equally good but different model). 0 means
	// GOMAXPROCS.
	Threads int
	// Checkpoint, if set, is called after every epoch (after Progress)
	// with the state of the run; an error stops training with that error.
	Checkpoint func(*Checkpoint) error
	// Resume continues the run saved in a checkpoint instead of starting
	// afresh: the same inputs, Config and Threads give the same weights as
	// the uninterrupted run. Another config, input shape or thread count is
	// refused.
	Resume *Checkpoint
}

// Progress is a snapshot of a training run.
type Progress struct {
	Epoch, Epochs int     // current epoch (1-based) and total
	Step, Steps   int     // steps done so far and total steps of the run
	Loss          float64 // mean training loss of the current epoch so far
	ValidAUC      float64 // validation AUC after the epoch; 0 without validation or mid-epoch
	EpochDone     bool    // true for the call at the end of an epoch
	Pairs         int64   // (target, item) pairs trained so far
	Elapsed       time.Duration
}

// EpochStats summarises one epoch.
type EpochStats struct {
	Epoch    int     `json:"epoch"`
	Loss     float64 `json:"loss"`
	ValidAUC float64 `json:"valid_auc"` // 0 without validation
	Pairs    int64   `json:"pairs"`
	Seconds  float64 `json:"seconds"`
}

// TrainReport describes a finished training run.
type TrainReport struct {
	Users        int          `json:"users"`         // rows of the embedding matrix
	KnownUsers   int          `json:"known_users"`   // users with at least one click (negatives are drawn from them)
	Items        int          `json:"items"`         // items given
	TrainItems   int          `json:"train_items"`   // items trained on
	ValidItems   int          `json:"valid_items"`   // items held out for validation
	SkippedItems int          `json:"skipped_items"` // items with fewer than MinClickers clickers
	Steps        int          `json:"steps"`
	Pairs        int64        `json:"pairs"`
	Reclusters   int          `json:"reclusters"`
	Seconds      float64      `json:"seconds"`
	PairsPerSec  float64      `json:"pairs_per_sec"`
	Epochs       []EpochStats `json:"epochs"`
}

// trainItem is one trainable item and its current epoch's split.
type trainItem struct {
	clickers []int32 // sorted, distinct
	perm     []int32 // this epoch's shuffled clickers: seeds then positives
	seeds    []int32 // this epoch's seeds
	pos      []int32 // this epoch's positive targets
	assign   []int32 // cluster of each seed (dense ids)
	nc       int     // number of clusters
	cents    []float32
}

// chunk is one training row: an item and a run of its positives.
type chunk struct {
	item     int32
	from, to int32 // positives pos[from:to]
}

// Train fits a look-alike model. emb holds the user embeddings row-major
// (users × dim); clickers[i] lists the user rows (indices into emb) who
// clicked item i (duplicates are ignored). Items with fewer than
// cfg.MinClickers distinct clickers are not trained on; negatives are drawn
// from the users who clicked anything. Zero fields of cfg take their
// defaults (see Config; start from DefaultConfig for the recommended
// settings). The run is reproducible: the same inputs, cfg and cfg.Seed give
// bit-identical weights. It stops with ctx's error when ctx is cancelled.
func Train(ctx context.Context, emb []float32, dim int, clickers [][]int32, cfg Config, opts TrainOptions) (*Model, *TrainReport, error) {
	t, err := newTrainer(ctx, emb, dim, clickers, cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := t.run(); err != nil {
		return nil, nil, err
	}
	rep := t.rep
	rep.Seconds = time.Since(t.start).Seconds()
	if rep.Seconds > 0 { // pairs trained by this call (not those of a resumed checkpoint)
		rep.PairsPerSec = float64(rep.Pairs-t.resumedPairs) / rep.Seconds
	}
	return t.m, rep, nil
}

// NonFiniteError is Train's error for a row of the embeddings given with a
// NaN or infinite value; a caller that knows the rows' user ids can name
// the user (errors.As).
type NonFiniteError struct {
	Row int // row of the embeddings given
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("embedding row %d (of the embeddings given) has a non-finite value", e.Row)
}

// newTrainer validates the inputs and sets up a run: trainable and
// validation items, the initial model and the step shapes.
func newTrainer(ctx context.Context, emb []float32, dim int, clickers [][]int32, cfg Config, opts TrainOptions) (*trainer, error) {
	start := time.Now()
	if dim < 2 {
		return nil, fmt.Errorf("train lookalike: embedding width %d must be at least 2", dim)
	}
	nUsers, err := checkRows("train lookalike: embeddings", emb, dim)
	if err != nil {
		return nil, err
	}
	for i, v := range emb {
		if !finite32(v) {
			return nil, fmt.Errorf("train lookalike: %w", &NonFiniteError{Row: i / dim})
		}
	}
	cfg = cfg.withDefaults(dim)
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("train lookalike: %w", err)
	}
	if cfg.Hidden < 2 {
		return nil, fmt.Errorf("train lookalike: hidden width %d must be at least 2", cfg.Hidden)
	}
	if opts.ValidFraction < 0 || opts.ValidFraction >= 1 || math.IsNaN(opts.ValidFraction) {
		return nil, fmt.Errorf("train lookalike: validation fraction %v out of range [0, 1)", opts.ValidFraction)
	}
	if opts.ValidNegatives == 0 {
		opts.ValidNegatives = 100
	}
	if opts.ValidNegatives < 1 {
		return nil, fmt.Errorf("train lookalike: %d validation negatives", opts.ValidNegatives)
	}
	rep := &TrainReport{Users: nUsers, Items: len(clickers)}

	// Distinct clickers per item, known users, trainable items.
	sets, known, err := data.ClickerSets(clickers, nUsers)
	if err != nil {
		return nil, fmt.Errorf("train lookalike: %w", err)
	}
	var eligible []int
	for i, s := range sets {
		if len(s) >= cfg.MinClickers {
			eligible = append(eligible, i)
		} else {
			rep.SkippedItems++
		}
	}
	rep.KnownUsers = len(known)
	if len(eligible) == 0 {
		return nil, fmt.Errorf("train lookalike: no item has at least %d distinct clickers", cfg.MinClickers)
	}

	// Validation hold-out.
	vrng := newRNG(uint64(cfg.Seed), streamValid)
	nValid := int(math.Round(opts.ValidFraction * float64(len(eligible))))
	if nValid >= len(eligible) {
		nValid = len(eligible) - 1
	}
	var valid []validItem
	if nValid > 0 {
		perm := slices.Clone(eligible)
		vrng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		held := perm[:nValid]
		slices.Sort(held)
		for _, i := range held {
			valid = append(valid, newValidItem(vrng, sets[i], known, cfg.SeedFraction, opts.ValidNegatives))
		}
		keep := perm[nValid:]
		slices.Sort(keep)
		eligible = keep
	}
	rep.ValidItems = len(valid)
	rep.TrainItems = len(eligible)
	items := make([]*trainItem, len(eligible))
	maxSeeds := 0
	for j, i := range eligible {
		items[j] = &trainItem{clickers: sets[i]}
		if ns := seedCount(len(sets[i]), cfg.SeedFraction); ns > maxSeeds {
			maxSeeds = ns
		}
	}

	m := newModel(cfg, dim)
	m.initWeights(newRNG(uint64(cfg.Seed), streamInit))

	t := &trainer{ctx: ctx, cfg: cfg, m: m, emb: emb, known: known, items: items, valid: valid,
		splitSrc: newPCG(uint64(cfg.Seed), streamSplit), sampleSrc: newPCG(uint64(cfg.Seed), streamSample),
		dropSrc: newPCG(uint64(cfg.Seed), streamDropout), rep: rep, opts: opts, start: start}
	t.splitRNG, t.sampleRNG, t.dropRNG = rand.New(t.splitSrc), rand.New(t.sampleSrc), rand.New(t.dropSrc)
	S := min(cfg.SeedsPerItem, maxSeeds)
	t.dims = graphDims{B: max(2, cfg.rowsPerBatch()), S: S, K: min(cfg.K, maxSeeds), T: cfg.targetsPerRow(), D: dim, H: cfg.Hidden}
	return t, nil
}

// seedCount is the number of seeds of an item with n clickers in a split.
func seedCount(n int, frac float64) int {
	s := int(math.Round(frac * float64(n)))
	return max(1, min(s, n-1))
}

// trainer holds the state of one training run.
type trainer struct {
	ctx   context.Context
	cfg   Config
	m     *Model
	emb   []float32
	known []int32
	items []*trainItem
	valid []validItem
	dims  graphDims
	opts  TrainOptions
	rep   *TrainReport
	start time.Time

	splitRNG, sampleRNG, dropRNG *rand.Rand
	splitSrc, sampleSrc, dropSrc *rand.PCG // their sources (checkpoint.go)

	sgs []*stepGraph // one per worker (parallel.go)
	// hosts are the buffers fill writes a step's inputs (all rows) into:
	// two when the next step is filled while one trains (prefetch), else
	// one, which with one worker is that worker's graph inputs.
	hosts      []stepInputs
	noPrefetch bool // fill every step just before it (tests compare the two)
	shardSize  int  // rows per worker
	// pairs of the checkpoint resumed from
	resumedPairs int64
	adam         *adam
	chunks       []chunk
	idx          []int32 // sampling scratch
	epoch        int
	// batches since the last re-clustering
	sinceRecluster int
}

// step trains on one batch of filled inputs and returns its loss.
func (t *trainer) step(in stepInputs) (float64, error) {
	l, err := t.runGraphs(in)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return 0, fmt.Errorf("loss is %v", l)
	}
	if err := t.adam.step(); err != nil {
		return 0, err
	}
	return l, nil
}

// prefetch reports whether a step's inputs may be filled while the step
// before it trains: unless the items are re-clustered between two steps
// (ReclusterEvery), nothing a step does changes what fill reads, and fill
// alone draws from the sampling and dropout generators, in step order.
func (t *trainer) prefetch() bool { return t.cfg.ReclusterEvery == 0 && !t.noPrefetch }

// runSteps trains on the batches rows(0), …, rows(n-1) in order and calls
// each after every step with its loss and pair count. With prefetch (two
// host buffers) the next batch is filled on another goroutine while a step
// trains; the inputs, and so the weights, are those of filling each batch
// just before its step.
func (t *trainer) runSteps(n int, rows func(s int) ([]chunk, error), each func(s int, loss float64, pairs int) error) error {
	fill := func(s int, in stepInputs) (int, error) {
		r, err := rows(s)
		if err != nil {
			return 0, err
		}
		return t.fill(in, r), nil
	}
	return prefetch.Run(n, t.hosts, fill, func(s int, in stepInputs, pairs int) error {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		l, err := t.step(in)
		if err != nil {
			return fmt.Errorf("step %d: %w", s, err)
		}
		return each(s, l, pairs)
	})
}

func (t *trainer) run() error {
	if t.opts.Resume != nil {
		if err := t.restoreWeights(t.opts.Resume); err != nil {
			return err
		}
	}
	if err := t.build(); err != nil {
		return err
	}
	defer t.closeGraphs()
	steps := 0
	totalSteps := 0 // estimated after the first split
	t.epoch = 1
	if t.opts.Resume != nil {
		var err error
		if totalSteps, err = t.restoreState(t.opts.Resume); err != nil {
			return err
		}
		steps, t.resumedPairs = t.rep.Steps, t.rep.Pairs
		t.epoch++
	}
	for ; t.epoch <= t.cfg.Epochs; t.epoch++ {
		ep := time.Now()
		t.split()
		if t.epoch == 1 || t.recluserDue() {
			if err := t.recluster(); err != nil {
				return err
			}
		} else if err := t.reassign(); err != nil {
			return err
		}
		t.makeChunks()
		B := t.dims.B
		nSteps := (len(t.chunks) + B - 1) / B
		if totalSteps == 0 {
			totalSteps = nSteps * t.cfg.Epochs
		}
		var lossSum float64
		var lossPairs, epochPairs int64
		rows := func(s int) ([]chunk, error) {
			// (no prefetch with ReclusterEvery: this runs between two steps)
			if t.cfg.ReclusterEvery > 0 && t.sinceRecluster >= t.cfg.ReclusterEvery {
				if err := t.recluster(); err != nil {
					return nil, err
				}
			}
			return t.chunks[s*B : min((s+1)*B, len(t.chunks))], nil
		}
		err := t.runSteps(nSteps, rows, func(s int, l float64, pairs int) error {
			lossSum += l * float64(pairs)
			lossPairs += int64(pairs)
			epochPairs += int64(pairs)
			t.rep.Pairs += int64(pairs)
			steps++
			t.sinceRecluster++
			if t.opts.Progress != nil && t.opts.ProgressEvery > 0 && steps%t.opts.ProgressEvery == 0 && s+1 < nSteps {
				t.opts.Progress(Progress{Epoch: t.epoch, Epochs: t.cfg.Epochs, Step: steps, Steps: totalSteps,
					Loss: lossSum / float64(max(1, lossPairs)), Pairs: t.rep.Pairs, Elapsed: time.Since(t.start)})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("train lookalike: epoch %d: %w", t.epoch, err)
		}
		t.rep.Steps = steps
		t.adam.sync(t.m)
		st := EpochStats{Epoch: t.epoch, Loss: lossSum / float64(max(1, lossPairs)), Pairs: epochPairs}
		if len(t.valid) > 0 {
			auc, err := t.validate()
			if err != nil {
				return err
			}
			st.ValidAUC = auc
		}
		st.Seconds = time.Since(ep).Seconds()
		t.rep.Epochs = append(t.rep.Epochs, st)
		if t.opts.Progress != nil {
			t.opts.Progress(Progress{Epoch: t.epoch, Epochs: t.cfg.Epochs, Step: steps, Steps: totalSteps,
				Loss: st.Loss, ValidAUC: st.ValidAUC, EpochDone: true, Pairs: t.rep.Pairs, Elapsed: time.Since(t.start)})
		}
		if t.opts.Checkpoint != nil {
			c, err := t.checkpoint(totalSteps)
			if err != nil {
				return err
			}
			if err := t.opts.Checkpoint(c); err != nil {
				return fmt.Errorf("train lookalike: checkpoint after epoch %d: %w", t.epoch, err)
			}
		}
	}
	t.adam.sync(t.m)
	return nil
}

// recluserDue reports whether the epoch-start clustering must be redone.
func (t *trainer) recluserDue() bool {
	return t.cfg.ReclusterEvery == 0 || t.sinceRecluster >= t.cfg.ReclusterEvery
}

// split draws this epoch's seeds/positives split of every training item.
func (t *trainer) split() {
	for _, it := range t.items {
		n := len(it.clickers)
		if it.perm == nil {
			it.perm = make([]int32, n)
		}
		perm := it.perm
		copy(perm, it.clickers)
		t.splitRNG.Shuffle(n, func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		ns := seedCount(n, t.cfg.SeedFraction)
		it.seeds, it.pos = perm[:ns:ns], perm[ns:]
	}
}

// forItems runs fn over the training items on all cores; fn must only touch
// its item (results are then independent of scheduling).
func (t *trainer) forItems(fn func(j int, it *trainItem, buf []float32) error) error {
	workers := min(runtime.GOMAXPROCS(0), len(t.items))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []float32
			for {
				mu.Lock()
				j := next
				next++
				stop := first != nil
				mu.Unlock()
				if stop || j >= len(t.items) {
					return
				}
				if err := t.ctx.Err(); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					return
				}
				it := t.items[j]
				need := len(it.seeds) * t.m.h
				if cap(buf) < need {
					buf = make([]float32, need)
				}
				if err := fn(j, it, buf[:need]); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// transformSeeds writes T(seed) for the item's seeds into hs.
func (t *trainer) transformSeeds(it *trainItem, hs []float32) {
	d, h := t.m.d, t.m.h
	src := make([]float32, len(it.seeds)*d)
	for s, u := range it.seeds {
		copy(src[s*d:(s+1)*d], t.emb[int(u)*d:(int(u)+1)*d])
	}
	t.m.transformBatch(hs[:len(it.seeds)*h], src, len(it.seeds))
}

// recluster runs k-means on every training item's transformed seeds with the
// current weights, warm-started from the item's previous centroids.
func (t *trainer) recluster() error {
	t.adam.sync(t.m)
	seed := uint64(t.cfg.Seed) ^ uint64(t.rep.Reclusters+1)*0x2545f4914f6cdd1d
	err := t.forItems(func(j int, it *trainItem, hs []float32) error {
		t.transformSeeds(it, hs)
		var init []float32
		if it.nc == t.cfg.K && len(it.cents) == t.cfg.K*t.m.h {
			init = it.cents
		}
		assign, nc, err := clusterAssign(t.ctx, hs, len(it.seeds), t.m.h, t.cfg.K, init, seed^uint64(j), t.cfg.KMeansIter, math.MaxInt)
		if err != nil {
			return fmt.Errorf("train lookalike: re-cluster item: %w", err)
		}
		it.assign, it.nc = assign, nc
		it.cents, _ = clusterMeans(hs, t.m.h, assign, nc)
		return nil
	})
	if err != nil {
		return err
	}
	t.rep.Reclusters++
	t.sinceRecluster = 0
	return nil
}

// reassign assigns this epoch's seeds of every item to the nearest of its
// stored centroids (used when a new split starts between re-clusterings).
func (t *trainer) reassign() error {
	t.adam.sync(t.m)
	h := t.m.h
	return t.forItems(func(j int, it *trainItem, hs []float32) error {
		t.transformSeeds(it, hs)
		n := len(it.seeds)
		if n <= t.cfg.K || it.nc == 0 {
			it.assign = make([]int32, n)
			for i := range it.assign {
				it.assign[i] = int32(i)
			}
			it.nc = n
			return nil
		}
		assign := make([]int32, n)
		for s := 0; s < n; s++ {
			row := hs[s*h : (s+1)*h]
			best, bd := 0, float32(math.Inf(1))
			for c := 0; c < it.nc; c++ {
				cr := it.cents[c*h : (c+1)*h]
				var dd float32
				for k, v := range row {
					x := v - cr[k]
					dd += x * x
				}
				if dd < bd {
					best, bd = c, dd
				}
			}
			assign[s] = int32(best)
		}
		// renumber densely
		remap := make([]int32, it.nc)
		for i := range remap {
			remap[i] = -1
		}
		nc := int32(0)
		for s, a := range assign {
			if remap[a] < 0 {
				remap[a] = nc
				nc++
			}
			assign[s] = remap[a]
		}
		it.assign, it.nc = assign, int(nc)
		return nil
	})
}

// makeChunks cuts every item's positives into rows of PositivesPerItem and
// shuffles the rows.
func (t *trainer) makeChunks() {
	t.chunks = t.chunks[:0]
	P := int32(t.cfg.PositivesPerItem)
	for j, it := range t.items {
		for f := int32(0); f < int32(len(it.pos)); f += P {
			t.chunks = append(t.chunks, chunk{item: int32(j), from: f, to: min(f+P, int32(len(it.pos)))})
		}
	}
	t.sampleRNG.Shuffle(len(t.chunks), func(a, b int) { t.chunks[a], t.chunks[b] = t.chunks[b], t.chunks[a] })
}

// fill writes one step's inputs for the given rows (padding missing rows)
// and returns the number of real (target, item) pairs. It names the users
// of the seed and target slots; their embeddings are copied by the workers,
// each for its rows (gatherRows), so that the copying (random rows of the
// embedding table) runs on every core rather than on the prefetcher, which
// gets no core of its own while the workers use them all.
func (t *trainer) fill(in stepInputs, rows []chunk) int {
	dm := t.dims
	B, S, K, T, H := dm.B, dm.S, dm.K, dm.T, dm.H
	seedUser, targUser, am, y, wt, mask, avgw := in.seedUser, in.targUser, in.am, in.y, in.wt, in.mask, in.avgw
	for i := range seedUser {
		seedUser[i] = -1
	}
	for i := range targUser {
		targUser[i] = -1
	}
	clear(avgw)
	clear(am)
	clear(wt)
	clear(y)
	P, neg := t.cfg.PositivesPerItem, t.cfg.Negatives
	cnt := make([]int, K)
	pairs := 0
	for b := 0; b < B; b++ {
		clear(cnt)
		if b >= len(rows) { // padding row: one valid slot, zero weight
			am[(b*K)*S] = 1
			cnt[0] = 1
		} else {
			r := rows[b]
			it := t.items[r.item]
			n := len(it.seeds)
			sel := t.sample(n, S)
			for j, si := range sel {
				seedUser[b*S+j] = it.seeds[si]
				cnt[it.assign[si]]++
			}
			for j, si := range sel {
				c := int(it.assign[si])
				am[(b*K+c)*S+j] = 1 / float32(cnt[c])
			}
			// targets: positives first, then their negatives
			for p := 0; p < P; p++ {
				ok := int32(p) < r.to-r.from
				base := b * T
				if ok {
					targUser[base+p] = it.pos[r.from+int32(p)]
					y[base+p] = 1
					wt[base+p] = 1
					pairs++
				}
				for q := 0; q < neg; q++ {
					slot := base + P + p*neg + q
					if !ok {
						continue
					}
					targUser[slot] = t.negative(it.clickers)
					wt[slot] = 1
					pairs++
				}
			}
		}
		slotInputs(cnt, !t.cfg.NoSizePrior, mask, avgw, b)
	}
	if pairs > 0 {
		inv := 1 / float32(pairs)
		for i := range wt {
			wt[i] *= inv
		}
	}
	if in.dropS != nil {
		fillDropout(t.dropRNG, in.dropS[:B*S*H], t.cfg.Dropout)
		fillDropout(t.dropRNG, in.dropT[:B*T*H], t.cfg.Dropout)
	}
	return pairs
}

// slotInputs writes row b's centroid-slot inputs from the number of sampled
// seeds per slot: the attention mask (-1e9 on empty slots; 0, or log(size)
// with the size prior, on the others) or the average-pooling weights.
func slotInputs(cnt []int, sizePrior bool, mask, avgw []float32, b int) {
	K := len(cnt)
	nonEmpty, total := 0, 0
	for _, c := range cnt {
		if c > 0 {
			nonEmpty++
			total += c
		}
	}
	for c, n := range cnt {
		if mask != nil {
			switch {
			case n == 0:
				mask[b*K+c] = maskNeg
			case sizePrior:
				mask[b*K+c] = float32(math.Log(float64(n)))
			default:
				mask[b*K+c] = 0
			}
		}
		if avgw != nil {
			switch {
			case n == 0:
				avgw[b*K+c] = 0
			case sizePrior:
				avgw[b*K+c] = float32(n) / float32(total)
			default:
				avgw[b*K+c] = 1 / float32(nonEmpty)
			}
		}
	}
}

// sample returns min(n, S) distinct seed indices in [0, n), uniformly.
func (t *trainer) sample(n, S int) []int32 {
	if cap(t.idx) < n {
		t.idx = make([]int32, n)
	}
	idx := t.idx[:n]
	for i := range idx {
		idx[i] = int32(i)
	}
	if n <= S {
		return idx
	}
	for i := 0; i < S; i++ {
		j := i + t.sampleRNG.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:S]
}

// negative draws a random known user who is not in clickers (sorted); after
// 32 unlucky draws it returns the last one.
func (t *trainer) negative(clickers []int32) int32 {
	var u int32
	for try := 0; try < 32; try++ {
		u = t.known[t.sampleRNG.IntN(len(t.known))]
		if _, found := slices.BinarySearch(clickers, u); !found {
			return u
		}
	}
	return u
}

// fillDropout writes an inverted-dropout mask: 0 with probability p, else
// 1/(1-p). Each uint64 from rng gives four 16-bit draws, lowest first; an
// element is dropped when its draw is below p·2¹⁶. The mask is built without
// a branch per element (a random branch mispredicts half the time).
func fillDropout(rng *rand.Rand, dst []float32, p float32) {
	keep := math.Float32bits(1 / (1 - p))
	thr := int32(float64(p) * (1 << 16))
	// bits is keep for a draw ≥ thr and 0 below it: thr-1-draw is negative
	// exactly when draw ≥ thr, and its sign bit spreads to a full mask.
	bits := func(r uint64) float32 {
		return math.Float32frombits(keep & uint32((thr-1-int32(r&0xffff))>>31))
	}
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		r := rng.Uint64()
		d := dst[i : i+4 : i+4]
		d[0] = bits(r)
		d[1] = bits(r >> 16)
		d[2] = bits(r >> 32)
		d[3] = bits(r >> 48)
	}
	if i < len(dst) {
		r := rng.Uint64()
		for ; i < len(dst); i++ {
			dst[i] = bits(r)
			r >>= 16
		}
	}
}

// validItem is a held-out item with a fixed split.
type validItem struct {
	seeds, pos, neg []int32
}

func newValidItem(rng *rand.Rand, clickers, known []int32, frac float64, nNeg int) validItem {
	perm := slices.Clone(clickers)
	rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
	ns := seedCount(len(perm), frac)
	v := validItem{seeds: perm[:ns], pos: perm[ns:]}
	for len(v.neg) < nNeg && len(known) > len(clickers) {
		u := known[rng.IntN(len(known))]
		if _, found := slices.BinarySearch(clickers, u); !found {
			v.neg = append(v.neg, u)
		}
	}
	return v
}

// validate returns the mean per-item AUC of the current model on the
// validation items, scoring through the inference path.
func (t *trainer) validate() (float64, error) {
	d := t.m.d
	var sum float64
	n := 0
	one := make([]*ItemState, 1)
	out := make([]float32, 1)
	for _, v := range t.valid {
		if len(v.neg) == 0 || len(v.pos) == 0 {
			continue
		}
		seeds := make([]float32, len(v.seeds)*d)
		for s, u := range v.seeds {
			copy(seeds[s*d:(s+1)*d], t.emb[int(u)*d:(int(u)+1)*d])
		}
		st, err := t.m.BuildItem(t.ctx, seeds, nil)
		if err != nil {
			return 0, fmt.Errorf("train lookalike: validation item: %w", err)
		}
		one[0] = st
		score := func(us []int32) []float32 {
			r := make([]float32, len(us))
			for i, u := range us {
				t.m.Score(t.emb[int(u)*d:(int(u)+1)*d], one, out)
				r[i] = out[0]
			}
			return r
		}
		// Both sides are non-empty here (see above), so auc.PosNeg cannot
		// return its NaN for an empty side.
		sum += auc.PosNeg(score(v.pos), score(v.neg))
		n++
	}
	if n == 0 {
		return 0, nil
	}
	return sum / float64(n), nil
}
