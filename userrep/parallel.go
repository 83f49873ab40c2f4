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
	// scatter's positions of the gradient rows: bagPos[k] of bag entry k,
	// targetPos[b·J+j] of the shard's target j of row b
	bagPos, targetPos []int32
	cnt               [][]int32 // per bag field: id counter, all zero between uses
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
// continuous-field layers. Every gradient row gets its contributions in
// batch order (worker 0's rows first), and the touched rows are listed in
// the order of their first touch, as one pass over the batch would: the
// results do not depend on the number of workers. It runs in two phases,
// each spread over the workers: first, per field (and for the target
// items), the rows are touched in batch order and each bag entry's row is
// noted, and the dense gradients (empty vectors, continuous fields) are
// summed; then the entries' gradients are added, cut into parts by row
// (the row at position k in part k mod parts), so that a field with many
// entries, such as the clicked items, is not one long task.
func (tr *trainer[T]) scatter(n int) {
	F, J := tr.lay.F, tr.J
	for _, w := range tr.workers {
		if len(w.bagPos) < len(w.bagIDs) {
			w.bagPos = make([]int32, cap(w.bagIDs))
		}
		if len(w.targetPos) < (w.hi-w.lo)*J {
			w.targetPos = make([]int32, (w.hi-w.lo)*J)
		}
	}
	tr.spread(F+1, func(f int) {
		if f == F {
			tr.touchTargets(n)
		} else {
			tr.touchField(f, n)
		}
	})
	parts := len(tr.workers)
	tr.spread((F+1)*parts, func(i int) {
		f, part := i/parts, int32(i%parts)
		switch {
		case f == F:
			tr.addTargets(n, part, int32(parts))
		case tr.tabGrad[f] != nil:
			tr.addField(f, n, part, int32(parts))
		}
	})
}

// touchField is scatter's first phase for field f.
func (tr *trainer[T]) touchField(f, n int) {
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
				w.bagPos[k] = sg.touch(w.bagIDs[k])
			}
		}
	}
}

// addField is scatter's second phase for field f's rows of the given part.
func (tr *trainer[T]) addField(f, n int, part, parts int32) {
	F, m := tr.lay.F, tr.lay.m
	sg := tr.tabGrad[f]
	for _, w := range tr.workers {
		size := w.gn.B
		for b := 0; b < w.examples(n); b++ {
			g := w.dx[(f*size+b)*m : (f*size+b)*m+m]
			for k := w.bagOff[b*F+f]; k < w.bagOff[b*F+f+1]; k++ {
				if pos := w.bagPos[k]; pos%parts == part {
					simd.Axpy(w.bagW[k], g, sg.at(pos))
				}
			}
		}
	}
}

// touchTargets is scatter's first phase for the target items.
func (tr *trainer[T]) touchTargets(n int) {
	J := tr.J
	for _, w := range tr.workers {
		for i := range w.examples(n) * J {
			w.targetPos[i] = tr.outGrad.touch(tr.cur.targets[w.lo*J+i])
		}
	}
}

// addTargets is scatter's second phase for the target items' rows of the
// given part.
func (tr *trainer[T]) addTargets(n int, part, parts int32) {
	d, J := tr.lay.d, tr.J
	for _, w := range tr.workers {
		for i := range w.examples(n) * J {
			if pos := w.targetPos[i]; pos%parts == part {
				simd.Axpy(1, w.dtv[i*d:i*d+d], tr.outGrad.at(pos))
			}
		}
	}
}
