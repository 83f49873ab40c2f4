package userrep

// Data-parallel training. The batch of B examples is cut into shards of
// ceil(B/N) consecutive examples, one per worker; every worker runs its own
// gorgonia graph (its own VM) on a private copy of the dense weights, so no
// two machines share a tensor (gorgonia pitfall P12). Each worker also
// gathers its shard's inputs (pooling the embedding rows). The input
// gradients are scattered into the sparse table gradients in batch order,
// the dense gradients are summed worker 0, 1, … into one buffer, and one
// Adam step follows. The result depends on the number of workers (the order
// of float additions), not on scheduling: the same seed and the same N give
// identical weights.

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/shard"
	"github.com/ralmlab/ralm/internal/simd"
)

// worker computes the gradients of one shard of the batch.
type worker[T float] struct {
	gn      *graphNet[T]
	dense   []T     // private copy of the dense weights, bound to gn
	grad    []T     // dense gradients of the shard (graph parameters only)
	dx, dtv []T     // input gradients of the shard
	keep    []T     // the shard's field-dropout mask (F·size, f-major)
	clicked []int32 // build's scratch
	lo, hi  int     // the shard's rows of the batch
	loss    T
	err     error

	// compacted bags of the shard: distinct ids and weights of row b,
	// field f are bagIDs/bagW[bagOff[b·F+f]:bagOff[b·F+f+1]]
	bagIDs []int32
	bagW   []T
	bagOff []int32
	cnt    [][]int32 // per bag field: id counter, all zero between uses
}

// setThreads replaces the trainer's workers by one per shard for threads
// workers (0: GOMAXPROCS).
func (tr *trainer[T]) setThreads(threads int) error {
	size, n := shard.Split(tr.B, threads, 1)
	if len(tr.workers) == n {
		return nil
	}
	ws := make([]*worker[T], n)
	for i := range ws {
		w := &worker[T]{dense: append([]T(nil), tr.p.dense...), grad: make([]T, len(tr.p.dense)),
			lo: min(i*size, tr.B), hi: min((i+1)*size, tr.B), cnt: make([][]int32, tr.lay.F)}
		gn, err := newGraphNet(&params[T]{lay: tr.lay, dense: w.dense}, size, true)
		if err != nil {
			for _, v := range ws[:i] {
				v.gn.close()
			}
			return err
		}
		w.gn = gn
		w.dx, w.dtv = make([]T, len(gn.x)), make([]T, len(gn.tv))
		if tr.cfg.FieldDropout > 0 {
			w.keep = make([]T, tr.lay.F*size)
		}
		for f := range tr.lay.fields {
			if r := tr.lay.tableRows(f); r > 0 {
				w.cnt[f] = make([]int32, r)
			}
		}
		ws[i] = w
	}
	tr.closeWorkers()
	tr.workers = ws
	return nil
}

// closeWorkers releases the workers' machines.
func (tr *trainer[T]) closeWorkers() {
	for _, w := range tr.workers {
		w.gn.close()
	}
	tr.workers = nil
}

// examples is the number of the first n examples of the batch in the
// worker's shard.
func (w *worker[T]) examples(n int) int { return max(0, min(n, w.hi)-w.lo) }

// gather fills the graph inputs X, Tv, logQ, Y and the dropout mask of the
// worker's shard of the batch, whose first n rows are examples, from the
// current weights (other rows are zero-weight padding). Every bag is first
// compacted to its distinct ids with weights count/len, so repeated ids
// (e.g. the genres of many clicked items) cost one row each in pooling and
// in scatter.
func (w *worker[T]) gather(tr *trainer[T], n int) error {
	gn, l := w.gn, tr.lay
	B, F, m, d, J := tr.B, l.F, l.m, l.d, tr.J
	size, real := gn.B, w.examples(n)
	w.bagIDs, w.bagW = w.bagIDs[:0], w.bagW[:0]
	w.bagOff = append(w.bagOff[:0], 0)
	for b := 0; b < size; b++ {
		if b >= real {
			for f := 0; f < F; f++ {
				clear(gn.x[(f*size+b)*m : (f*size+b)*m+m])
			}
			continue
		}
		ft := &tr.cur.feats[w.lo+b]
		for f := 0; f < F; f++ {
			dst := gn.x[(f*size+b)*m : (f*size+b)*m+m]
			if l.fields[f].Kind == data.FieldContinuous {
				v := contValue[T](ft, f)
				cw, cb := tr.p.get(l.contW[f]), tr.p.get(l.contB[f])
				for k := range dst {
					dst[k] = v*cw[k] + cb[k]
				}
				w.bagOff = append(w.bagOff, int32(len(w.bagIDs)))
				continue
			}
			var bag []int32
			if f < len(ft.Bags) {
				bag = ft.Bags[f]
			}
			start := len(w.bagIDs)
			if len(bag) == 0 {
				copy(dst, tr.p.get(l.empty[f]))
				w.bagOff = append(w.bagOff, int32(start))
				continue
			}
			rows, cnt := l.fields[f].Size, w.cnt[f]
			for _, id := range bag {
				if id < 0 || int(id) >= rows {
					for _, j := range w.bagIDs[start:] {
						cnt[j] = 0
					}
					w.bagIDs = w.bagIDs[:start]
					return fmt.Errorf("userrep: field %d (%s): id %d out of range [0,%d)", f, l.fields[f].Name, id, rows)
				}
				if cnt[id] == 0 {
					w.bagIDs = append(w.bagIDs, id)
				}
				cnt[id]++
			}
			inv := 1 / T(len(bag))
			clear(dst)
			tab := tr.p.tables[f]
			for _, id := range w.bagIDs[start:] {
				wt := T(cnt[id]) * inv
				cnt[id] = 0
				w.bagW = append(w.bagW, wt)
				simd.Axpy(wt, tab[int(id)*m:int(id)*m+m], dst)
			}
			w.bagOff = append(w.bagOff, int32(len(w.bagIDs)))
		}
	}
	rows := w.hi - w.lo // batch rows of the shard (examples and the batch's padding)
	for i, it := range tr.cur.targets[w.lo*J : w.hi*J] {
		copy(gn.tv[i*d:i*d+d], tr.p.out[int(it)*d:int(it)*d+d])
		if gn.logQ != nil {
			gn.logQ[i] = T(math.Log(float64(tr.cfg.Negatives)) + tr.sampler.itemLogQ(it))
		}
	}
	clear(gn.tv[rows*J*d:])
	if gn.logQ != nil {
		clear(gn.logQ[rows*J:])
	}
	clear(gn.y)
	for b := 0; b < rows; b++ {
		gn.y[b*J] = tr.cur.w[w.lo+b]
	}
	if w.keep != nil {
		for f := 0; f < F; f++ {
			dst := w.keep[f*size : (f+1)*size]
			copy(dst, tr.cur.keep[f*B+w.lo:f*B+w.hi])
			for b := rows; b < size; b++ {
				dst[b] = 1 // padding rows: kept (zero loss weight)
			}
		}
		fillGraphKeep(gn.keep, w.keep, l)
	}
	return nil
}

// build fills the features of the worker's examples of the current batch
// (n examples in all): each user's training clicks without the item to
// predict, through the feature builder.
func (w *worker[T]) build(tr *trainer[T], n int) {
	bt := tr.cur
	for b := w.lo; b < w.lo+w.examples(n); b++ {
		e := bt.ex[b]
		w.clicked = w.clicked[:0]
		for _, it := range tr.users[e.user].train {
			if it != e.item {
				w.clicked = append(w.clicked, it)
			}
		}
		tr.fb.Build(tr.clicks.Users.ID(e.user), w.clicked, &bt.feats[b])
	}
}

// step builds and gathers the worker's shard of the batch (n examples in
// all) and runs its graph on it.
func (w *worker[T]) step(tr *trainer[T], n int) {
	copy(w.dense, tr.p.dense)
	w.build(tr, n)
	if w.err = w.gather(tr, n); w.err != nil {
		return
	}
	w.loss, w.err = w.gn.run(w.dx, w.dtv, w.grad)
}

// runWorkers runs every worker on its shard of the batch of n examples (in
// parallel with more than one), sums the dense gradients in worker order
// into tr.dense and returns the summed loss Σ_b w_b·loss_b.
func (tr *trainer[T]) runWorkers(n int) (T, error) {
	shard.Run(len(tr.workers), func(i int) { tr.workers[i].step(tr, n) })
	var loss T
	for _, w := range tr.workers {
		if w.err != nil {
			return 0, w.err
		}
		loss += w.loss
	}
	for _, s := range tr.workers[0].gn.pspans {
		dst := tr.dense[s.off : s.off+s.n()]
		copy(dst, tr.workers[0].grad[s.off:s.off+s.n()])
		for _, w := range tr.workers[1:] {
			simd.Axpy(1, w.grad[s.off:s.off+s.n()], dst)
		}
	}
	return loss, nil
}

// spread runs task(0), …, task(n-1) on as many goroutines as the trainer
// has workers, each taking the next task; with one worker it runs them in
// order on the calling goroutine.
func (tr *trainer[T]) spread(n int, task func(i int)) {
	if len(tr.workers) <= 1 || n <= 1 {
		for i := range n {
			task(i)
		}
		return
	}
	var next atomic.Int64
	shard.Run(min(len(tr.workers), n), func(int) {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			task(i)
		}
	})
}

// scatter turns the workers' dX and dTv of the first n examples into
// gradients of the touched table rows, the empty vectors and the
// continuous-field layers, in batch order (worker 0's rows first), so the
// touched rows come in the same order for any number of workers. Fields
// (and the target items) write disjoint gradients: they are scattered in
// parallel (spread), each in batch order.
func (tr *trainer[T]) scatter(n int) {
	l := tr.lay
	F := l.F
	tr.spread(F+1, func(f int) {
		if f == F {
			tr.scatterTargets(n)
		} else {
			tr.scatterField(f, n)
		}
	})
}

// scatterField scatters field f's input gradients (see scatter).
func (tr *trainer[T]) scatterField(f, n int) {
	l := tr.lay
	F, m := l.F, l.m
	get := func(s span) []T { return tr.dense[s.off : s.off+s.n()] }
	if s := l.empty[f]; s.valid() {
		clear(get(s))
	}
	cont := l.fields[f].Kind == data.FieldContinuous
	if cont {
		clear(get(l.contW[f]))
		clear(get(l.contB[f]))
	}
	sg := tr.tabGrad[f]
	for _, w := range tr.workers {
		size := w.gn.B
		for b := 0; b < w.examples(n); b++ {
			g := w.dx[(f*size+b)*m : (f*size+b)*m+m]
			if cont {
				v := contValue[T](&tr.cur.feats[w.lo+b], f)
				simd.Axpy(v, g, get(l.contW[f]))
				simd.Axpy(1, g, get(l.contB[f]))
				continue
			}
			lo, hi := w.bagOff[b*F+f], w.bagOff[b*F+f+1]
			if lo == hi {
				simd.Axpy(1, g, get(l.empty[f]))
				continue
			}
			for k := lo; k < hi; k++ {
				simd.Axpy(w.bagW[k], g, sg.row(w.bagIDs[k]))
			}
		}
	}
}

// scatterTargets scatters the target item vectors' gradients (see scatter).
func (tr *trainer[T]) scatterTargets(n int) {
	d, J := tr.lay.d, tr.J
	for _, w := range tr.workers {
		for b := 0; b < w.examples(n); b++ {
			for j := 0; j < J; j++ {
				i := b*J + j
				simd.Axpy(1, w.dtv[i*d:i*d+d], tr.outGrad.row(tr.cur.targets[(w.lo+b)*J+j]))
			}
		}
	}
}
