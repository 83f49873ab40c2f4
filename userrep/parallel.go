package userrep

// Data-parallel training. The batch of B examples is cut into shards of
// ceil(B/N) consecutive examples, one per worker; every worker runs its own
// gorgonia graph (its own VM) on a private copy of the dense weights, so no
// two machines share a tensor (gorgonia pitfall P12). The trainer gathers the
// whole batch and scatters the whole batch's input gradients in batch order;
// the dense gradients are summed worker 0, 1, … into one buffer and one Adam
// step follows. The result depends on the number of workers (the order of
// float additions), not on scheduling: the same seed and the same N give
// identical weights.

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/ralmlab/ralm/internal/simd"
)

// shards returns the shard size and the number of workers for a batch of B
// examples on threads workers (0 or less: GOMAXPROCS). No worker gets an
// empty shard.
func shards(B, threads int) (size, n int) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = max(1, min(threads, B))
	size = (B + threads - 1) / threads
	return size, (B + size - 1) / size
}

// worker computes the gradients of one shard of the batch.
type worker[T float] struct {
	gn      *graphNet[T]
	dense   []T // private copy of the dense weights, bound to gn
	grad    []T // dense gradients of the shard (graph parameters only)
	dx, dtv []T // input gradients of the shard
	keep    []T // the shard's field-dropout mask (F·size, f-major)
	lo, hi  int // the shard's rows of the batch
	loss    T
	err     error
}

// setThreads replaces the trainer's workers by one per shard for threads
// workers (0: GOMAXPROCS).
func (tr *trainer[T]) setThreads(threads int) error {
	size, n := shards(tr.B, threads)
	if len(tr.workers) == n {
		return nil
	}
	ws := make([]*worker[T], n)
	for i := range ws {
		w := &worker[T]{dense: append([]T(nil), tr.p.dense...), grad: make([]T, len(tr.p.dense)),
			lo: min(i*size, tr.B), hi: min((i+1)*size, tr.B)}
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

// step runs the worker's graph on its shard of the gathered batch and copies
// its input gradients into the trainer's dX and dTv.
func (w *worker[T]) step(tr *trainer[T]) {
	gn, l := w.gn, tr.lay
	B, F, m, d, J := tr.B, l.F, l.m, l.d, tr.J
	size, n := gn.B, w.hi-w.lo
	copy(w.dense, tr.p.dense)
	for f := 0; f < F; f++ {
		dst := gn.x[f*size*m : (f+1)*size*m]
		copy(dst, tr.x[(f*B+w.lo)*m:(f*B+w.hi)*m])
		clear(dst[n*m:])
	}
	copy(gn.tv, tr.tv[w.lo*J*d:w.hi*J*d])
	clear(gn.tv[n*J*d:])
	if gn.logQ != nil {
		copy(gn.logQ, tr.logQ[w.lo*J:w.hi*J])
		clear(gn.logQ[n*J:])
	}
	clear(gn.y)
	for b := 0; b < n; b++ {
		gn.y[b*J] = tr.cur.w[w.lo+b]
	}
	if w.keep != nil {
		for f := 0; f < F; f++ {
			dst := w.keep[f*size : (f+1)*size]
			copy(dst, tr.cur.keep[f*B+w.lo:f*B+w.hi])
			for b := n; b < size; b++ {
				dst[b] = 1 // padding rows: kept (zero loss weight)
			}
		}
		fillGraphKeep(gn.keep, w.keep, l)
	}
	w.loss, w.err = gn.run(w.dx, w.dtv, w.grad)
	if w.err != nil {
		return
	}
	for f := 0; f < F; f++ {
		copy(tr.dx[(f*B+w.lo)*m:(f*B+w.hi)*m], w.dx[f*size*m:f*size*m+n*m])
	}
	copy(tr.dtv[w.lo*J*d:w.hi*J*d], w.dtv[:n*J*d])
}

// runWorkers runs every worker on its shard (in parallel with more than
// one), sums the dense gradients in worker order into tr.dense and returns
// the summed loss Σ_b w_b·loss_b.
func (tr *trainer[T]) runWorkers() (T, error) {
	if len(tr.workers) == 1 {
		tr.workers[0].step(tr)
	} else {
		var wg sync.WaitGroup
		for _, w := range tr.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.step(tr)
			}()
		}
		wg.Wait()
	}
	var loss T
	for i, w := range tr.workers {
		if w.err != nil {
			return 0, fmt.Errorf("worker %d: %w", i, w.err)
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
