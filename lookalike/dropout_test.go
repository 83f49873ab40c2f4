package lookalike

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPCGJump: a state moved ahead n draws is the state after n draws of
// math/rand/v2's PCG.
func TestPCGJump(t *testing.T) {
	for _, n := range []uint64{0, 1, 2, 3, 7, 64, 1000, 12345} {
		p := rand.NewPCG(3, 0x9e3779b97f4a7c15)
		for range 17 { // not from the seed's own state
			p.Uint64()
		}
		start := stateOf(p)
		for range n {
			p.Uint64()
		}
		if got, want := start.jump(n), stateOf(p); got != want {
			t.Errorf("jump(%d) = %v, want %v", n, got, want)
		}
	}
}

// TestFillDropoutFrom: a mask drawn in pieces from any value on, each piece
// from the state at the mask's start, is the mask drawn in one pass.
func TestFillDropoutFrom(t *testing.T) {
	start := stateOf(rand.NewPCG(5, 6))
	scratch := new(rand.PCG)
	whole := make([]float32, 1003)
	fillDropout(scratch, start, 0, whole, 0.3)
	if z := len(whole) - len(slices.DeleteFunc(slices.Clone(whole), func(v float32) bool { return v == 0 })); z < 200 || z > 400 {
		t.Fatalf("%d of %d values dropped at p=0.3", z, len(whole))
	}
	for _, cuts := range [][]int{{0, 1003}, {0, 400, 1003}, {0, 1, 2, 3, 5, 1003}, {0, 333, 666, 999, 1003}} {
		got := make([]float32, len(whole))
		for i := 0; i+1 < len(cuts); i++ {
			fillDropout(scratch, start, cuts[i], got[cuts[i]:cuts[i+1]], 0.3)
		}
		if !slices.Equal(got, whole) {
			t.Errorf("cuts %v: the pieces differ from one pass", cuts)
		}
	}
}

// TestFillDropoutMatchesDraws: fillDropout from a generator's state gives
// the mask of drawing from that generator in order, and setState and
// stateOf round-trip.
func TestFillDropoutMatchesDraws(t *testing.T) {
	p := rand.NewPCG(7, 8)
	p.Uint64()
	start := stateOf(p)
	want := make([]float32, 10)
	sequentialMask(p, want, 0.25)
	got := make([]float32, len(want))
	fillDropout(new(rand.PCG), start, 0, got, 0.25)
	if !slices.Equal(got, want) {
		t.Errorf("mask %v, want %v", got, want)
	}
	var q rand.PCG
	setState(&q, start)
	if stateOf(&q) != start {
		t.Errorf("setState then stateOf gave %v, want %v", stateOf(&q), start)
	}
}

// TestWorkerDropoutMasks: the masks the workers draw into their graphs for
// their rows are the step's masks drawn in one pass from the dropout
// generator (the seed slots' for all rows, then the target slots'), with
// zero padding rows, on one and two workers, and the next step continues
// the generator where the step's masks end.
func TestWorkerDropoutMasks(t *testing.T) {
	p := smallPlanted(5)
	cfg := Config{Epochs: 1, K: 5, SeedsPerItem: 20, Seed: 7, Dropout: 0.2}
	for _, threads := range []int{1, 2} {
		tr, err := newTrainer(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.build(); err != nil {
			t.Fatal(err)
		}
		tr.split()
		if err := tr.recluster(); err != nil {
			t.Fatal(err)
		}
		tr.makeChunks()
		B, S, T, H := tr.dims.B, tr.dims.S, tr.dims.T, tr.dims.H
		for step := 0; step < 2; step++ {
			// the step's masks in one pass, from a copy of the generator
			var q rand.PCG
			setState(&q, stateOf(tr.dropSrc))
			wantS, wantT := make([]float32, B*S*H), make([]float32, B*T*H)
			sequentialMask(&q, wantS, cfg.Dropout)
			sequentialMask(&q, wantT, cfg.Dropout)
			tr.fill(tr.hosts[0], tr.chunks[step*B:(step+1)*B])
			for i, sg := range tr.sgs {
				lo, hi := min(i*tr.shardSize, B), min((i+1)*tr.shardSize, B)
				tr.shard(sg.inputs(), tr.hosts[0], lo, hi, tr.shardSize, tr.scratch[i])
				in, n := sg.inputs(), hi-lo
				if !slices.Equal(in.dropS[:n*S*H], wantS[lo*S*H:hi*S*H]) || !slices.Equal(in.dropT[:n*T*H], wantT[lo*T*H:hi*T*H]) {
					t.Fatalf("%d threads, step %d, worker %d: its rows' masks differ from the step's masks drawn in one pass", threads, step, i)
				}
				if slices.ContainsFunc(in.dropS[n*S*H:], func(v float32) bool { return v != 0 }) {
					t.Fatalf("%d threads, step %d, worker %d: padding rows have dropout masks", threads, step, i)
				}
			}
		}
		tr.closeGraphs()
	}
}

// sequentialMask draws a dropout mask from src in order, 16 bits per value,
// as the trainer did before the workers drew their rows' masks.
func sequentialMask(src *rand.PCG, dst []float32, p float32) {
	keep := 1 / (1 - p)
	thr := uint32(float64(p) * (1 << 16))
	for i := 0; i < len(dst); {
		r := src.Uint64()
		for k := 0; k < 4 && i < len(dst); k++ {
			if uint32(r&0xffff) < thr {
				dst[i] = 0
			} else {
				dst[i] = keep
			}
			r >>= 16
			i++
		}
	}
}
