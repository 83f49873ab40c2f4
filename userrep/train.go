package userrep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"slices"
	"time"

	"github.com/ralmlab/ralm/data"

	"github.com/ralmlab/ralm/internal/prefetch"
	"github.com/ralmlab/ralm/internal/simd"
)

// FeatureBuilder turns a user's clicks into model inputs; *data.FeatureSet
// implements it. Fields describes the inputs; Build fills dst with the
// features of user userID given the clicked item indices (indices of the
// item vocabulary of the training clicks). Build must be deterministic and
// safe for concurrent use (embedding builds users' features in parallel).
type FeatureBuilder interface {
	Fields() []data.Field
	Build(userID string, clicked []int32, dst *data.Features)
}

// TrainOptions receives progress during training. Either callback may be nil.
type TrainOptions struct {
	// OnStep is called after every optimisation step.
	OnStep func(StepStats)
	// OnEpoch is called after every epoch, once the held-out metric is known.
	OnEpoch func(EpochStats)
	// Threads is the number of data-parallel workers: each computes the
	// gradients of 1/Threads of every batch on its own graph, and the sums
	// are taken in worker order, so the same seed and Threads give
	// byte-identical weights (another Threads rounds the sums differently,
	// and training can grow that into an equally good but different
	// model). 0 means GOMAXPROCS.
	Threads int
	// Checkpoint, if set, is called after every epoch (after OnEpoch) with
	// the state of the run; an error stops training with that error.
	Checkpoint func(*Checkpoint) error
	// Resume continues the run saved in a checkpoint instead of starting
	// afresh: the same clicks, features, Config and Threads give the same
	// weights as the uninterrupted run. Anything else is refused.
	Resume *Checkpoint
}

// StepStats describes one optimisation step.
type StepStats struct {
	Epoch      int     `json:"epoch"`       // 1-based
	Step       int     `json:"step"`        // 1-based, within the epoch
	Steps      int     `json:"steps"`       // steps in this epoch
	GlobalStep int     `json:"global_step"` // 1-based, over the whole run
	Examples   int     `json:"examples"`    // real (non-padding) examples in the step
	Loss       float64 `json:"loss"`        // mean sampled-softmax loss of the step
}

// EpochStats describes one finished epoch.
type EpochStats struct {
	Epoch    int     `json:"epoch"`
	Examples int     `json:"examples"`
	Loss     float64 `json:"loss"` // mean training loss over the epoch
	// Held-out metrics: every held-out user is embedded from its training
	// clicks and all items it did not click in training are ranked by the
	// model's score user·item_vector + item_bias (see Model.ItemBias).
	// HeldOutAUC is
	// the mean share of those items ranked below the held-out item (the
	// early-stopping criterion), HeldOutRecall10 the share of held-out items
	// in the top 10, HeldOutMRR the mean reciprocal rank. NaN without
	// held-out users.
	HeldOutAUC      float64       `json:"heldout_auc"`
	HeldOutRecall10 float64       `json:"heldout_recall10"`
	HeldOutMRR      float64       `json:"heldout_mrr"`
	Best            bool          `json:"best"` // best held-out AUC so far
	Duration        time.Duration `json:"duration_ns"`
}

// TrainReport summarises a training run.
type TrainReport struct {
	Epochs       []EpochStats  `json:"epochs"`
	BestEpoch    int           `json:"best_epoch"` // epoch whose weights the model holds
	StoppedEarly bool          `json:"stopped_early"`
	Examples     int64         `json:"examples"` // examples processed over all epochs
	Duration     time.Duration `json:"duration_ns"`
	// HeldOutUsers is the number of users scored each epoch.
	HeldOutUsers int `json:"heldout_users"`
	// PopularAUC and PopularRecall10 are the held-out metrics of the
	// most-popular ranking (training click counts): the trivial baseline.
	PopularAUC      float64 `json:"popular_auc"`
	PopularRecall10 float64 `json:"popular_recall10"`
}

// MarshalJSON writes NaN metrics (no held-out users) as null.
func (e EpochStats) MarshalJSON() ([]byte, error) { return marshalNaNNull(e) }

// MarshalJSON writes NaN metrics (no held-out users) as null.
func (r TrainReport) MarshalJSON() ([]byte, error) { return marshalNaNNull(r) }

// marshalNaNNull marshals the struct v (EpochStats, TrainReport) with every
// float64 field that is NaN or ±Inf written as null, as JSON has neither:
// the held-out metrics are NaN without held-out users. It marshals a copy
// of v into a struct type made for it (the same fields and tags, float64
// fields as *float64), which has no MarshalJSON method of its own.
func marshalNaNNull(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	var fields []reflect.StructField
	var from []int // field of v behind each field of the copy
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if !f.IsExported() { // not marshalled anyway
			continue
		}
		if f.Type.Kind() == reflect.Float64 {
			f.Type = reflect.PointerTo(f.Type)
		}
		fields = append(fields, f)
		from = append(from, i)
	}
	out := reflect.New(reflect.StructOf(fields)).Elem()
	for j, i := range from {
		fv := rv.Field(i)
		if fv.Kind() != reflect.Float64 {
			out.Field(j).Set(fv)
			continue
		}
		if x := fv.Float(); !math.IsNaN(x) && !math.IsInf(x, 0) {
			p := reflect.New(fv.Type())
			p.Elem().SetFloat(x)
			out.Field(j).Set(p)
		}
	}
	return json.Marshal(out.Interface())
}

// Train fits the user model on clicks, whose item indices must be those the
// feature builder uses. It returns the model with the weights of the best
// epoch by held-out AUC (the last epoch without a held-out slice).
// Same data, config and seed give byte-identical weights.
func Train(ctx context.Context, fb FeatureBuilder, clicks *data.Clicks, cfg Config, opts TrainOptions) (*Model, *TrainReport, error) {
	tr, err := newTrainer[float32](fb, clicks, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer tr.close()
	if err := tr.setThreads(opts.Threads); err != nil {
		return nil, nil, err
	}
	rep, err := tr.run(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	m, err := newModel(tr.p, fb, clicks.Items)
	if err != nil {
		return nil, nil, err
	}
	return m, rep, nil
}

// userClicks are one user's distinct clicked items in time order.
type userClicks struct {
	train   []int32 // training items, by (ts, item)
	heldOut int32   // held-out item or -1
}

// prepareClicks groups the clicks by user, keeps each user's earliest click
// of an item, orders them by (ts, item) and holds out the last one of every
// user with at least minClicks distinct items (minClicks 0: none).
func prepareClicks(c *data.Clicks, minClicks int) ([]userClicks, error) {
	nu, ni := c.Users.Len(), c.Items.Len()
	if len(c.Item) != len(c.User) || (c.TS != nil && len(c.TS) != len(c.User)) {
		return nil, fmt.Errorf("userrep: clicks columns have different lengths")
	}
	counts := make([]int32, nu+1)
	for i, u := range c.User {
		if u < 0 || int(u) >= nu {
			return nil, fmt.Errorf("userrep: click %d: user index %d out of range [0,%d)", i, u, nu)
		}
		if it := c.Item[i]; it < 0 || int(it) >= ni {
			return nil, fmt.Errorf("userrep: click %d: item index %d out of range [0,%d)", i, it, ni)
		}
		counts[u+1]++
	}
	for u := 0; u < nu; u++ {
		counts[u+1] += counts[u]
	}
	order := make([]int32, len(c.User))
	pos := append([]int32(nil), counts[:nu]...)
	for i, u := range c.User {
		order[pos[u]] = int32(i)
		pos[u]++
	}
	ts := func(i int32) int64 {
		if c.TS == nil {
			return 0
		}
		return c.TS[i]
	}
	users := make([]userClicks, nu)
	seen := make([]int32, ni) // user+1 that last saw the item
	for u := 0; u < nu; u++ {
		idx := order[counts[u]:counts[u+1]]
		slices.SortFunc(idx, func(a, b int32) int {
			if ta, tb := ts(a), ts(b); ta != tb {
				if ta < tb {
					return -1
				}
				return 1
			}
			if c.Item[a] != c.Item[b] {
				return int(c.Item[a] - c.Item[b])
			}
			return int(a - b)
		})
		items := make([]int32, 0, len(idx))
		for _, i := range idx {
			it := c.Item[i]
			if seen[it] == int32(u+1) {
				continue
			}
			seen[it] = int32(u + 1)
			items = append(items, it)
		}
		uc := userClicks{train: items, heldOut: -1}
		if minClicks > 0 && len(items) >= minClicks {
			uc.heldOut = items[len(items)-1]
			uc.train = items[:len(items)-1]
		}
		users[u] = uc
	}
	return users, nil
}

// example is one (user, positive item) training pair.
type example struct{ user, item int32 }

// batch is one loaded batch: its examples, their features (built by the
// workers, see worker.build), targets (positive first, then the negatives),
// loss weights (1/n, zero for padding rows) and dropout mask.
type batch[T float] struct {
	ex      []example
	feats   []data.Features
	targets []int32
	w       []T
	keep    []T
}

func newBatch[T float](B, J, F int, dropout bool) *batch[T] {
	bt := &batch[T]{feats: make([]data.Features, B), targets: make([]int32, B*J), w: make([]T, B)}
	if dropout {
		bt.keep = make([]T, F*B)
	}
	return bt
}

// trainer holds the state of one training run.
type trainer[T float] struct {
	cfg     Config
	lay     *layout
	fb      FeatureBuilder
	clicks  *data.Clicks
	p       *params[T]
	rng     *rand.Rand
	src     *countingSource // rng's source (checkpoint.go)
	users   []userClicks
	sampler *logUniform
	itemCnt []int
	workers []*worker[T] // data-parallel shards of the batch (parallel.go)
	opt     *adam[T]
	B, J    int

	// batch buffers
	dense   []T // dense gradient
	tabGrad []*sparseGrad[T]
	outGrad *sparseGrad[T]
	// applyRuns is apply's reused list of work.
	applyRuns []applyRun
	cur       *batch[T]    // the batch being computed
	bufs      [2]*batch[T] // the batches of pipelined training

	valUsers []int32 // held-out users scored each epoch
	evalNet  *net[T]
}

// newTrainer checks the inputs and initialises the model.
func newTrainer[T float](fb FeatureBuilder, clicks *data.Clicks, cfg Config) (*trainer[T], error) {
	if fb == nil {
		return nil, errors.New("userrep: nil feature builder")
	}
	if clicks == nil || clicks.Len() == 0 || clicks.Users == nil || clicks.Items == nil {
		return nil, errors.New("userrep: no clicks to train on")
	}
	lay, err := newLayout(cfg, fb.Fields(), clicks.Items.Len())
	if err != nil {
		return nil, err
	}
	users, err := prepareClicks(clicks, cfg.HoldOutMinClicks)
	if err != nil {
		return nil, err
	}
	tr := &trainer[T]{cfg: cfg, lay: lay, fb: fb, clicks: clicks, users: users, B: cfg.Batch, J: 1 + cfg.Negatives}
	tr.src = newCountingSource(cfg.Seed)
	tr.rng = rand.New(tr.src)
	tr.p = newParams[T](lay)
	tr.p.init(tr.rng)

	tr.itemCnt = make([]int, lay.nItems)
	nTrain := 0
	for _, uc := range users {
		for _, it := range uc.train {
			tr.itemCnt[it]++
		}
		nTrain += len(uc.train)
	}
	if nTrain == 0 {
		return nil, errors.New("userrep: no training clicks left after the held-out slice")
	}
	tr.sampler = newLogUniform(tr.itemCnt)
	if !cfg.LogQ {
		// logits of the uncorrected loss estimate log p(item|user) − log q(item)
		for i := range tr.p.bias {
			tr.p.bias[i] = T(tr.sampler.itemLogQ(int32(i)))
		}
	}

	B, F, m, d, J := tr.B, lay.F, lay.m, lay.d, tr.J
	for i := range tr.bufs {
		tr.bufs[i] = newBatch[T](B, J, F, cfg.FieldDropout > 0)
	}
	tr.cur = tr.bufs[0]
	tr.dense = make([]T, len(tr.p.dense))
	tr.tabGrad = make([]*sparseGrad[T], F)
	for f := range lay.fields {
		if r := lay.tableRows(f); r > 0 {
			tr.tabGrad[f] = newSparseGrad[T](r, m)
		}
	}
	tr.outGrad = newSparseGrad[T](lay.nItems, d)
	opt, err := newAdam(tr.p, cfg.LR)
	if err != nil {
		return nil, fmt.Errorf("userrep: %w", err)
	}
	tr.opt = opt

	if err := tr.setThreads(1); err != nil {
		return nil, err
	}

	// held-out users: a seeded sample of at most MaxValidationUsers
	for u, uc := range users {
		if uc.heldOut >= 0 {
			tr.valUsers = append(tr.valUsers, int32(u))
		}
	}
	if k := cfg.MaxValidationUsers; k > 0 && len(tr.valUsers) > k {
		tr.rng.Shuffle(len(tr.valUsers), func(i, j int) { tr.valUsers[i], tr.valUsers[j] = tr.valUsers[j], tr.valUsers[i] })
		tr.valUsers = tr.valUsers[:k]
		slices.Sort(tr.valUsers)
	}
	return tr, nil
}

func (tr *trainer[T]) close() { tr.closeWorkers() }

// epochExamples draws the examples of one epoch: up to MaxPositivesPerUser
// random training clicks per user, shuffled.
func (tr *trainer[T]) epochExamples(dst []example) []example {
	dst = dst[:0]
	P := tr.cfg.MaxPositivesPerUser
	var idx []int32
	for u, uc := range tr.users {
		n := len(uc.train)
		if n <= P {
			for _, it := range uc.train {
				dst = append(dst, example{int32(u), it})
			}
			continue
		}
		idx = idx[:0]
		for i := 0; i < n; i++ {
			idx = append(idx, int32(i))
		}
		for i := 0; i < P; i++ { // partial Fisher-Yates
			j := i + tr.rng.Intn(n-i)
			idx[i], idx[j] = idx[j], idx[i]
			dst = append(dst, example{int32(u), uc.train[idx[i]]})
		}
	}
	tr.rng.Shuffle(len(dst), func(i, j int) { dst[i], dst[j] = dst[j], dst[i] })
	return dst
}

// loadBatch loads the examples into the current batch.
func (tr *trainer[T]) loadBatch(ex []example) { tr.fill(tr.cur, ex) }

// fill loads the examples (at most B; the remaining rows are padding with
// zero weight) into bt: their targets, with the negatives drawn, the loss
// weights and the dropout mask. It is the only user of the random
// generator while an epoch runs. The features are built later, by the
// workers (each for its rows, in parallel): unlike the draws they need no
// order, and the prefetcher that runs fill gets no core of its own while
// the workers use them all.
func (tr *trainer[T]) fill(bt *batch[T], ex []example) {
	J := tr.J
	n := len(ex)
	bt.ex = ex
	for b, e := range ex {
		t := bt.targets[b*J : b*J+J]
		t[0] = e.item
		for j := 1; j < J; j++ {
			t[j] = tr.sampler.drawExcept(tr.rng, e.item)
		}
		bt.w[b] = 1 / T(n)
	}
	for b := n; b < tr.B; b++ {
		bt.w[b] = 0
		clear(bt.targets[b*J : b*J+J])
	}
	if bt.keep != nil {
		drawKeep(bt.keep, tr.lay.F, tr.B, tr.cfg, tr.rng)
	}
}

// computeGrads runs gather, the engine and scatter on the loaded batch of n
// examples and returns Σ_b w_b·loss_b. Gradients are left in dense,
// tabGrad and outGrad.
func (tr *trainer[T]) computeGrads(n int) (T, error) {
	for _, sg := range tr.tabGrad {
		if sg != nil {
			sg.reset()
		}
	}
	tr.outGrad.reset()
	loss, err := tr.runWorkers(n)
	if err != nil {
		return 0, err
	}
	tr.scatter(n)
	return loss, nil
}

// apply takes one Adam step with the computed gradients. The update is
// elementwise: the dense weights (in runs of applyChunk) and the touched
// rows of every table (in runs of applyRows) are updated in parallel
// (spread), with the same values as one pass.
func (tr *trainer[T]) apply() {
	o, p := tr.opt, tr.p
	o.Begin()
	runs := tr.applyRuns[:0]
	for lo := 0; lo < len(p.dense); lo += applyChunk {
		runs = append(runs, applyRun{-1, lo, min(lo+applyChunk, len(p.dense))})
	}
	for f := 0; f <= len(tr.tabGrad); f++ {
		sg := tr.outGrad
		if f < len(tr.tabGrad) {
			sg = tr.tabGrad[f]
		}
		if sg == nil {
			continue
		}
		for lo := 0; lo < len(sg.rows); lo += applyRows {
			runs = append(runs, applyRun{f, lo, min(lo+applyRows, len(sg.rows))})
		}
	}
	tr.applyRuns = runs
	tr.spread(len(runs), func(i int) {
		r := runs[i]
		switch {
		case r.f < 0:
			o.Update(p.dense[r.lo:r.hi], tr.dense[r.lo:r.hi], o.dm[r.lo:r.hi], o.dv[r.lo:r.hi])
		case r.f == len(tr.tabGrad):
			o.updateRows(p.out, o.om, o.ov, tr.outGrad, r.lo, r.hi)
		default:
			o.updateRows(p.tables[r.f], o.tm[r.f], o.tv[r.f], tr.tabGrad[r.f], r.lo, r.hi)
		}
	})
}

// applyChunk (a multiple of the SIMD width, so the chunks' vector and
// scalar parts are those of one pass) and applyRows cut apply's work.
const (
	applyChunk = 1 << 14
	applyRows  = 256
)

// applyRun is one run of apply's work: elements [lo, hi) of the dense
// weights (f < 0) or touched rows [lo, hi) of table f (len(tabGrad): the
// output items).
type applyRun struct{ f, lo, hi int }

// run trains for up to cfg.Epochs epochs with early stopping.
func (tr *trainer[T]) run(ctx context.Context, opts TrainOptions) (*TrainReport, error) {
	start := time.Now()
	rep := &TrainReport{HeldOutUsers: len(tr.valUsers), PopularAUC: math.NaN(), PopularRecall10: math.NaN()}
	if len(tr.valUsers) > 0 {
		pop := tr.popularMetrics()
		rep.PopularAUC, rep.PopularRecall10 = pop.auc, pop.recall10
	}
	var best *params[T]
	bestAUC := math.Inf(-1)
	var ex []example
	global := 0
	first := 1
	tr32, _ := any(tr).(*trainer[float32])
	if (opts.Resume != nil || opts.Checkpoint != nil) && tr32 == nil {
		return nil, errors.New("userrep: checkpoints need float32 weights")
	}
	if opts.Resume != nil {
		r, err := resume(tr32, opts.Resume)
		if err != nil {
			return nil, err
		}
		rep, global, bestAUC, first = r.rep, r.global, r.bestAUC, r.epoch+1
		best, _ = any(r.best).(*params[T])
		if r.stopped {
			rep.StoppedEarly, first = true, tr.cfg.Epochs+1
		}
	}
	for epoch := first; epoch <= tr.cfg.Epochs; epoch++ {
		t0 := time.Now()
		ex = tr.epochExamples(ex)
		lossSum, err := tr.runEpoch(ctx, epoch, ex, opts, &global)
		if err != nil {
			return nil, err
		}
		rep.Examples += int64(len(ex))
		es := EpochStats{Epoch: epoch, Examples: len(ex), Loss: lossSum / float64(max(len(ex), 1)), HeldOutAUC: math.NaN(), HeldOutRecall10: math.NaN(), HeldOutMRR: math.NaN()}
		if len(tr.valUsers) > 0 {
			h, err := tr.validate(ctx)
			if err != nil {
				return nil, err
			}
			es.HeldOutAUC, es.HeldOutRecall10, es.HeldOutMRR = h.auc, h.recall10, h.mrr
			if h.auc > bestAUC {
				bestAUC, es.Best, rep.BestEpoch = h.auc, true, epoch
				if best == nil {
					best = tr.p.clone()
				} else {
					best.copyFrom(tr.p)
				}
			}
		} else {
			es.Best, rep.BestEpoch = true, epoch
		}
		es.Duration = time.Since(t0)
		rep.Epochs = append(rep.Epochs, es)
		if opts.OnEpoch != nil {
			opts.OnEpoch(es)
		}
		stop := tr.cfg.Patience > 0 && best != nil && epoch-rep.BestEpoch >= tr.cfg.Patience && epoch < tr.cfg.Epochs
		if opts.Checkpoint != nil {
			best32, _ := any(best).(*params[float32])
			c, err := checkpoint(tr32, epoch, global, best32, bestAUC, rep, stop)
			if err != nil {
				return nil, err
			}
			if err := opts.Checkpoint(c); err != nil {
				return nil, fmt.Errorf("userrep: checkpoint after epoch %d: %w", epoch, err)
			}
		}
		if stop {
			rep.StoppedEarly = true
			break
		}
	}
	if best != nil {
		tr.p.copyFrom(best)
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// runEpoch takes one optimisation step per batch of ex and returns the sum
// of the per-example losses. prefetch.Run loads the next batch (features,
// negatives, dropout mask) while the current one is computed; it is the
// only user of the random generator and of the feature builder meanwhile,
// and consumes them in batch order, so results do not depend on timing.
func (tr *trainer[T]) runEpoch(ctx context.Context, epoch int, ex []example, opts TrainOptions, global *int) (float64, error) {
	steps := (len(ex) + tr.B - 1) / tr.B
	fill := func(s int, bt *batch[T]) (int, error) {
		lo, hi := s*tr.B, min((s+1)*tr.B, len(ex))
		tr.fill(bt, ex[lo:hi])
		return hi - lo, nil
	}
	var lossSum float64
	err := prefetch.Run(steps, tr.bufs[:], fill, func(s int, bt *batch[T], n int) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("userrep: training interrupted: %w", err)
		}
		tr.cur = bt
		loss, err := tr.computeGrads(n)
		if err != nil {
			return err
		}
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
			return fmt.Errorf("userrep: loss is %v at epoch %d step %d (try a lower learning rate)", loss, epoch, s+1)
		}
		tr.apply()
		*global++
		lossSum += float64(loss) * float64(n)
		if opts.OnStep != nil {
			opts.OnStep(StepStats{Epoch: epoch, Step: s + 1, Steps: steps, GlobalStep: *global, Examples: n, Loss: float64(loss)})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return lossSum, nil
}

// valChunk is the number of held-out users scored per GEMM.
const valChunk = 32

// heldOut are the held-out ranking metrics.
type heldOut struct{ auc, recall10, mrr float64 }

// add accounts for one held-out item ranked rank (0-based) among n items.
func (h *heldOut) add(rank, n int) {
	if rank < 10 {
		h.recall10++
	}
	h.mrr += 1 / float64(rank+1)
	if n > 1 {
		h.auc += 1 - float64(rank)/float64(n-1)
	} else {
		h.auc++
	}
}

// mean divides the sums by the number of users.
func (h heldOut) mean(n int) heldOut {
	f := float64(n)
	return heldOut{h.auc / f, h.recall10 / f, h.mrr / f}
}

// validate embeds the held-out users from their training clicks and ranks
// their held-out items among the items they did not click in training.
func (tr *trainer[T]) validate(ctx context.Context) (heldOut, error) {
	l := tr.lay
	if tr.evalNet == nil {
		tr.evalNet = newNet[T](l, valChunk)
	}
	m, d, V := l.m, l.d, l.nItems
	scores := make([]T, valChunk*V)
	var ft data.Features
	var h heldOut
	for lo := 0; lo < len(tr.valUsers); lo += valChunk {
		if err := ctx.Err(); err != nil {
			return h, fmt.Errorf("userrep: validation interrupted: %w", err)
		}
		users := tr.valUsers[lo:min(lo+valChunk, len(tr.valUsers))]
		n := len(users)
		tr.evalNet.use(n)
		x := tr.evalNet.in
		for b, u := range users {
			tr.fb.Build(tr.clicks.Users.ID(u), tr.users[u].train, &ft)
			if err := tr.p.pool(&ft, x[b*m:], n*m); err != nil {
				return h, err
			}
		}
		emb := tr.evalNet.forward(tr.p, x)
		simd.Gemm(false, true, n, V, d, 1, emb, d, tr.p.out, d, 0, scores, V)
		for b, u := range users {
			uc := tr.users[u]
			row := scores[b*V : b*V+V]
			for i, q := range tr.p.bias {
				row[i] += q
			}
			h.add(rankOf(row, uc.heldOut, uc.train), V-len(uc.train))
		}
	}
	return h.mean(len(tr.valUsers)), nil
}

// rankOf is the 0-based rank of item target by descending score among all
// items except those in exclude (ties go to the lower index).
func rankOf[T float](scores []T, target int32, exclude []int32) int {
	st := scores[target]
	rank := 0
	for i, s := range scores {
		if s > st || (s == st && int32(i) < target) {
			rank++
		}
	}
	for _, it := range exclude {
		if s := scores[it]; s > st || (s == st && it < target) {
			rank--
		}
	}
	return rank
}

// popularMetrics are the held-out metrics of ranking items by training
// click count.
func (tr *trainer[T]) popularMetrics() heldOut {
	scores := make([]float64, len(tr.itemCnt))
	for i, c := range tr.itemCnt {
		scores[i] = float64(c)
	}
	var h heldOut
	for _, u := range tr.valUsers {
		uc := tr.users[u]
		h.add(rankOf(scores, uc.heldOut, uc.train), len(scores)-len(uc.train))
	}
	return h.mean(len(tr.valUsers))
}
