package kmeans

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ralmlab/ralm/internal/simd"
)

// Determinism. Every pass over the points is split into fixed chunks whose
// boundaries depend only on the problem size (never on the number of
// goroutines). Each chunk accumulates its partial sums sequentially in
// float64 into its own slot, and the slots are combined in chunk order, so a
// run produces bit-identical output for any Workers value.

const (
	// minChunk is the smallest number of points per chunk: inputs up to
	// this size run on the calling goroutine.
	minChunk = 2048
	// maxChunks bounds the number of chunks (and of partial-sum slots).
	maxChunks = 64
	// slotBudget bounds the float64 memory of per-chunk centroid sums.
	slotBudget = 64 << 20
	// ctxEvery is how many points a chunk processes between context checks.
	ctxEvery = 1 << 14
	// fixTol triggers an exact recomputation of a squared distance computed
	// in the expanded form when it is small relative to the norms involved,
	// where cancellation would make it inaccurate (duplicates get exactly 0).
	fixTol = 1e-3
)

// problem is a set of points prepared for clustering.
type problem struct {
	x       []float32 // n*d, row-major
	n, d    int
	mu      []float64 // data mean (the origin of the expanded distance form)
	xn2     []float32 // ‖x_p − μ‖²
	chunk   int       // points per chunk, a multiple of 4
	nchunks int
	workers int
}

// chunkPlan returns the chunk size for n points when per-chunk slots hold
// slotFloats float64 values each.
func chunkPlan(n, slotFloats int) (chunk, nchunks int) {
	limit := maxChunks
	if slotFloats > 0 {
		if m := slotBudget / 8 / slotFloats; m < limit {
			limit = max(m, 1)
		}
	}
	chunk = max(minChunk, (n+limit-1)/limit)
	chunk = (chunk + 3) &^ 3
	nchunks = max(1, (n+chunk-1)/chunk)
	return chunk, nchunks
}

// workerCount resolves Options.Workers.
func workerCount(w int) int {
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return max(w, 1)
}

// runChunks calls fn(worker, chunk) for every chunk, on up to workers
// goroutines (inline when there is a single chunk or worker). The context is
// checked before each chunk.
func runChunks(ctx context.Context, nchunks, workers int, fn func(w, c int) error) error {
	workers = min(workers, nchunks)
	if workers <= 1 {
		for c := 0; c < nchunks; c++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(0, c); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, workers)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				c := int(next.Add(1)) - 1
				if c >= nchunks {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				if err := fn(w, c); err != nil {
					errs[w] = err
					next.Store(int64(nchunks))
					return
				}
			}
		}(w)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// newProblem validates the points (finite values) and computes the mean and
// the centred squared norms. slotFloats sizes the chunk plan (see chunkPlan).
func newProblem(ctx context.Context, x []float32, d, workers, slotFloats int) (*problem, error) {
	if d <= 0 {
		return nil, fmt.Errorf("dimension must be positive, got %d", d)
	}
	if len(x)%d != 0 {
		return nil, fmt.Errorf("%d values is not a multiple of dimension %d", len(x), d)
	}
	n := len(x) / d
	if n == 0 {
		return nil, fmt.Errorf("no points")
	}
	pr := &problem{x: x, n: n, d: d, workers: workerCount(workers)}
	pr.chunk, pr.nchunks = chunkPlan(n, slotFloats)
	partial := make([]float64, pr.nchunks*d)
	bad := make([]int, pr.nchunks)
	err := runChunks(ctx, pr.nchunks, pr.workers, func(_, c int) error {
		lo, hi := pr.bounds(c)
		s := partial[c*d : (c+1)*d]
		bad[c] = -1
		for p := lo; p < hi; p++ {
			row := x[p*d : (p+1)*d]
			if !finite(row) {
				bad[c] = p
				return nil
			}
			simd.AddTo64(s, row)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("validate points: %w", err)
	}
	for _, p := range bad {
		if p >= 0 {
			return nil, badValueError(x[p*d:(p+1)*d], p)
		}
	}
	mu := make([]float64, d)
	for c := 0; c < pr.nchunks; c++ {
		for i, v := range partial[c*d : (c+1)*d] {
			mu[i] += v
		}
	}
	for i := range mu {
		mu[i] /= float64(n)
	}
	if err := pr.setOrigin(ctx, mu); err != nil {
		return nil, err
	}
	return pr, nil
}

// badValueError describes the first non-finite value of row (point p).
func badValueError(row []float32, p int) error {
	for i, v := range row {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("point %d dimension %d is %v: values must be finite", p, i, v)
		}
	}
	return fmt.Errorf("point %d is not finite", p)
}

// checkFinite returns an error naming the first non-finite value of x, a
// row-major set of rows of d values called what (e.g. "centroid").
func checkFinite(x []float32, d int, what string) error {
	for k, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s %d dimension %d is %v: values must be finite", what, k/d, k%d, v)
		}
	}
	return nil
}

// setOrigin sets μ and recomputes the centred squared norms.
func (pr *problem) setOrigin(ctx context.Context, mu []float64) error {
	pr.mu = mu
	if len(pr.xn2) != pr.n {
		pr.xn2 = make([]float32, pr.n)
	}
	d := pr.d
	err := runChunks(ctx, pr.nchunks, pr.workers, func(_, c int) error {
		lo, hi := pr.bounds(c)
		for p := lo; p < hi; p++ {
			pr.xn2[p] = float32(simd.CentredNorm(pr.x[p*d:(p+1)*d], mu))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("point norms: %w", err)
	}
	return nil
}

// bounds returns the point range of chunk c.
func (pr *problem) bounds(c int) (lo, hi int) {
	lo = c * pr.chunk
	return lo, min(lo+pr.chunk, pr.n)
}

// centers is a set of centroids prepared for the kernel.
type centers struct {
	k, d, kpad int
	c64        []float64 // k*d, the centroids
	c32        []float32 // k*d, float32 copies (exact distances, output)
	ct         []float32 // d*kpad, −2(c−μ) transposed
	bias       []float32 // kpad, ‖c−μ‖² + 2μ·(c−μ)
	cn2        []float64 // k, ‖c−μ‖²
	crow       []float32 // kpad*d, −2(c−μ) row-major (row form only, else nil)
}

// newCenters allocates room for k centroids of dimension d.
func newCenters(k, d int) *centers {
	kpad := simd.PadLanes(k)
	return &centers{
		k: k, d: d, kpad: kpad,
		c64:  make([]float64, k*d),
		c32:  make([]float32, k*d),
		ct:   make([]float32, d*kpad),
		bias: make([]float32, kpad),
		cn2:  make([]float64, k),
	}
}

// newRowCenters is newCenters with the row-major form (see scoreRows).
func newRowCenters(k, d int) *centers {
	cs := newCenters(k, d)
	cs.crow = make([]float32, cs.kpad*d)
	return cs
}

// prepare refreshes c32, ct, bias, cn2 (and crow) from c64 for origin mu.
func (cs *centers) prepare(mu []float64) {
	d, kpad := cs.d, cs.kpad
	clear(cs.ct)
	for j := range cs.bias {
		cs.bias[j] = float32(math.Inf(1)) // padding lanes never win
	}
	for j := 0; j < cs.k; j++ {
		var n2, mc float64
		for i := 0; i < d; i++ {
			v := cs.c64[j*d+i]
			cs.c32[j*d+i] = float32(v)
			r := float32(v - mu[i])
			cs.ct[i*kpad+j] = -2 * r
			if cs.crow != nil {
				cs.crow[j*d+i] = -2 * r
			}
			n2 += float64(r) * float64(r)
			mc += mu[i] * float64(r)
		}
		cs.cn2[j] = n2
		cs.bias[j] = float32(n2 + 2*mc)
	}
}

// blockPts is the number of points scored per kernel block.
const blockPts = 64

// scratch is per-goroutine kernel memory.
type scratch struct {
	out []float32 // blockPts*kpad scores
	pad []float32 // 4*d, zero-padded tail rows
	idx []int32   // blockPts nearest centroids
	val []float32 // blockPts their scores
}

func newScratches(workers, kpad, d int) []scratch {
	s := make([]scratch, workers)
	for w := range s {
		s[w] = scratch{
			out: make([]float32, blockPts*kpad),
			pad: make([]float32, 4*d),
			idx: make([]int32, blockPts),
			val: make([]float32, blockPts),
		}
	}
	return s
}

// scoreBlock computes the kernel scores of points [lo,hi) (at most
// blockPts) into sc.out, point p's kpad scores at (p−lo)*kpad.
func (pr *problem) scoreBlock(cs *centers, sc *scratch, lo, hi int) {
	d, kpad := pr.d, cs.kpad
	for p := lo; p < hi; p += 4 {
		m := min(4, hi-p)
		var xb []float32
		if m == 4 {
			xb = pr.x[p*d : (p+4)*d]
		} else {
			clear(sc.pad)
			copy(sc.pad, pr.x[p*d:(p+m)*d])
			xb = sc.pad
		}
		o := (p - lo) * kpad
		simd.Scores4(xb, d, cs.ct, cs.bias, kpad, sc.out[o:o+4*kpad])
	}
}

// scoreRows is scoreBlock for few centroids prepared with newRowCenters:
// it vectorises along the dimension (two points × four centroids per kernel
// call), which suits k-means++ candidate sets. Only the first roundup(k,4)
// lanes of each kpad-wide score row are written.
func (pr *problem) scoreRows(cs *centers, sc *scratch, lo, hi int) {
	if !simd.Accelerated() {
		pr.scoreBlock(cs, sc, lo, hi)
		return
	}
	d, kpad := pr.d, cs.kpad
	for p := lo; p < hi; p += 2 {
		var xb []float32
		if p+2 <= hi {
			xb = pr.x[p*d : (p+2)*d]
		} else {
			clear(sc.pad[:2*d])
			copy(sc.pad, pr.x[p*d:(p+1)*d])
			xb = sc.pad[:2*d]
		}
		o := (p - lo) * kpad
		simd.DotRows2x4(xb, d, cs.crow, cs.k, cs.bias, kpad, sc.out[o:])
	}
}

// blocks calls f for the blocks [b,e) of at most blockPts points of chunk
// c in order, checking ctx every ctxEvery points.
func (pr *problem) blocks(ctx context.Context, c int, f func(b, e int)) error {
	lo, hi := pr.bounds(c)
	for b := lo; b < hi; b += blockPts {
		if b > lo && (b-lo)%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		f(b, min(b+blockPts, hi))
	}
	return nil
}

// exact is the exact squared distance between point p and centroid j. The
// kernel's expanded form is replaced by it whenever the distance is small
// relative to ‖x−μ‖² + ‖c−μ‖² (below fixTol times it), where float32
// cancellation could dominate; duplicates thus get exactly 0.
func (pr *problem) exact(cs *centers, p, j int) float64 {
	d := pr.d
	return simd.SqDist(pr.x[p*d:(p+1)*d], cs.c32[j*d:(j+1)*d])
}

// acc is a chunk's share of an assignment pass.
type acc struct {
	sums    []float64 // k*d (nil when sums are not wanted)
	counts  []int64   // k
	inertia float64
	changed int
}

// assignState holds the buffers of repeated assignment passes.
type assignState struct {
	labels []int32   // n
	dists  []float32 // n, squared distance to the assigned centroid
	accs   []acc     // per chunk
	total  acc       // combined
	scr    []scratch
}

func newAssignState(pr *problem, k, kpad int, sums bool) *assignState {
	st := &assignState{
		labels: make([]int32, pr.n),
		dists:  make([]float32, pr.n),
		accs:   make([]acc, pr.nchunks),
		scr:    newScratches(min(pr.workers, pr.nchunks), kpad, pr.d),
	}
	for i := range st.labels {
		st.labels[i] = -1
	}
	for c := range st.accs {
		st.accs[c].counts = make([]int64, k)
		if sums {
			st.accs[c].sums = make([]float64, k*pr.d)
		}
	}
	st.total.counts = make([]int64, k)
	if sums {
		st.total.sums = make([]float64, k*pr.d)
	}
	return st
}

// assign assigns every point to its nearest centroid (ties: lowest index),
// filling labels, dists and, per chunk, counts, inertia, the number of
// changed labels and (when allocated) per-cluster sums; then combines the
// chunks in order into st.total.
func (pr *problem) assign(ctx context.Context, cs *centers, st *assignState) error {
	k, d := cs.k, pr.d
	err := runChunks(ctx, pr.nchunks, len(st.scr), func(w, c int) error {
		a := &st.accs[c]
		clear(a.counts)
		clear(a.sums)
		sc := &st.scr[w]
		kpad := cs.kpad
		counts, sums, labels, dists := a.counts[:k], a.sums, st.labels, st.dists
		var inertia float64
		changed := 0
		err := pr.blocks(ctx, c, func(b, e int) {
			pr.scoreBlock(cs, sc, b, e)
			simd.ArgminRows(sc.out, k, kpad, sc.idx[:e-b], sc.val)
			for p := b; p < e; p++ {
				best := int(sc.idx[p-b])
				dd := simd.SqDist(pr.x[p*d:(p+1)*d], cs.c32[best*d:(best+1)*d])
				if labels[p] != int32(best) {
					changed++
					labels[p] = int32(best)
				}
				dists[p] = float32(dd)
				counts[best]++
				inertia += dd
				if sums != nil {
					simd.AddTo64(sums[best*d:(best+1)*d], pr.x[p*d:(p+1)*d])
				}
			}
		})
		a.inertia, a.changed = inertia, changed
		return err
	})
	if err != nil {
		return err
	}
	t := &st.total
	clear(t.counts)
	clear(t.sums)
	t.inertia, t.changed = 0, 0
	for c := range st.accs {
		a := &st.accs[c]
		for j, v := range a.counts {
			t.counts[j] += v
		}
		if t.sums != nil {
			for i, v := range a.sums {
				t.sums[i] += v
			}
		}
		t.inertia += a.inertia
		t.changed += a.changed
	}
	return nil
}
