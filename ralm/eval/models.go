package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/ralmlab/ralm/internal/simd"
	"github.com/ralmlab/ralm/lookalike/coldstart"
)

// Case is one evaluated item: its seeds and held-out positives, as indices
// into the evaluation's user universe.
type Case struct {
	Item      string  // external item id
	ItemIndex int32   // index of the item in the training item vocabulary; -1 for a fresh item
	Fresh     bool    // a fresh item (never seen in training)
	Seeds     []int32 // the item's seed users
	// SeedTS, when set, is the time of each seed's earliest click
	// (parallel to Seeds, Unix ns); latestSeeds keeps the latest seeds by
	// it. Without it Seeds are taken as oldest first.
	SeedTS    []int64
	Positives []int32 // held-out clickers that are known users
	// ZeroSeed marks a fresh item scored from its attributes alone (no
	// seeds; bucket zero-seed); Attrs are its attributes.
	ZeroSeed bool
	Attrs    coldstart.Attrs
}

// Scorer is one model of the report: it scores candidate users for an item
// given the item's seeds.
type Scorer interface {
	// Name is the model's name in the report (the protocol's names:
	// activity, centroid, knn, itemvec, ralm-avg, ralm-paper, ralm).
	Name() string
	// Scores reports whether the model can score the case (itemvec has no
	// vector for a fresh item).
	Scores(c *Case) bool
	// Score writes one score per candidate into out (len(out) == len(candidates)).
	Score(ctx context.Context, c *Case, candidates []int32, out []float32) error
}

// Activity scores a candidate by its number of training clicks.
type Activity struct {
	Clicks []int32 // training clicks per user index
}

// Name implements Scorer.
func (Activity) Name() string { return "activity" }

// Scores implements Scorer.
func (Activity) Scores(*Case) bool { return true }

// Score implements Scorer.
func (a Activity) Score(_ context.Context, _ *Case, candidates []int32, out []float32) error {
	for i, u := range candidates {
		out[i] = float32(a.Clicks[u])
	}
	return nil
}

// Vectors is a row-major matrix of unit-normalised user embeddings indexed by
// user index; users without an embedding have a zero row.
type Vectors struct {
	Dim  int
	Rows []float32
}

// NewVectors L2-normalises a copy of rows (n × dim).
func NewVectors(rows []float32, dim int) (*Vectors, error) {
	if dim <= 0 || len(rows)%dim != 0 {
		return nil, fmt.Errorf("vectors: %d values is not a multiple of dimension %d", len(rows), dim)
	}
	v := &Vectors{Dim: dim, Rows: append([]float32(nil), rows...)}
	for r := 0; r < len(rows)/dim; r++ {
		normalize(v.Row(int32(r)))
	}
	return v, nil
}

// Row returns user u's vector.
func (v *Vectors) Row(u int32) []float32 { return v.Rows[int(u)*v.Dim : (int(u)+1)*v.Dim] }

func normalize(x []float32) {
	var s float64
	for _, e := range x {
		s += float64(e) * float64(e)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range x {
		x[i] *= inv
	}
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Centroid scores a candidate by the cosine of its embedding with the mean of
// the seeds' (unit) embeddings.
type Centroid struct{ Vectors *Vectors }

// Name implements Scorer.
func (Centroid) Name() string { return "centroid" }

// Scores implements Scorer.
func (Centroid) Scores(*Case) bool { return true }

// Score implements Scorer.
func (m Centroid) Score(_ context.Context, c *Case, candidates []int32, out []float32) error {
	mean := make([]float32, m.Vectors.Dim)
	for _, s := range c.Seeds {
		for j, e := range m.Vectors.Row(s) {
			mean[j] += e
		}
	}
	normalize(mean)
	for i, u := range candidates {
		out[i] = dot(m.Vectors.Row(u), mean)
	}
	return nil
}

// KNN scores a candidate by the mean of its K highest cosines with the seeds
// (the protocol uses K = 10).
type KNN struct {
	Vectors *Vectors
	K       int
}

// Name implements Scorer.
func (KNN) Name() string { return "knn" }

// Scores implements Scorer.
func (KNN) Scores(*Case) bool { return true }

// Blocks of KNN's cosine products: knnRows candidates by knnCols seeds at a
// time (a product small enough to stay on one core and in cache).
const (
	knnRows = 32
	knnCols = 1024
)

// Score implements Scorer. The cosines of a block of candidates with a
// block of seeds are one matrix product (simd.Sgemm); the seed matrix is
// padded with zero columns to whole kernel widths, so every cosine comes
// from the same kernel and a candidate's score does not depend on the other
// candidates, on the blocks or on the number of threads.
func (m KNN) Score(ctx context.Context, c *Case, candidates []int32, out []float32) error {
	k := min(m.K, len(c.Seeds))
	if k <= 0 {
		return fmt.Errorf("knn: item %s has no seeds", c.Item)
	}
	d, ns := m.Vectors.Dim, len(c.Seeds)
	cols := (ns + 15) &^ 15
	seeds := make([]float32, d*cols) // d × cols: seed j in column j
	for j, s := range c.Seeds {
		for l, v := range m.Vectors.Row(s) {
			seeds[l*cols+j] = v
		}
	}
	rows := make([]float32, knnRows*d)
	sims := make([]float32, knnRows*min(knnCols, cols))
	top := make([]float32, knnRows*k)
	tops := make([][]float32, knnRows) // per row of the block, its k best
	for i0 := 0; i0 < len(candidates); i0 += knnRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		block := candidates[i0:min(i0+knnRows, len(candidates))]
		for r, u := range block {
			copy(rows[r*d:(r+1)*d], m.Vectors.Row(u))
		}
		tops = tops[:len(block)]
		for r := range tops {
			tops[r] = top[r*k : r*k : (r+1)*k]
		}
		for j0 := 0; j0 < ns; j0 += knnCols {
			n := min(knnCols, cols-j0)
			simd.Sgemm(false, false, len(block), n, d, 1, rows, d, seeds[j0:], cols, 0, sims, n)
			real := min(n, ns-j0) // the padding columns are not seeds
			for r := range block {
				tops[r] = knnTop(tops[r], k, sims[r*n:r*n+real])
			}
		}
		for r, t := range tops {
			var sum float32
			for _, v := range t { // descending, as a full sort would give them
				sum += v
			}
			out[i0+r] = sum / float32(k)
		}
	}
	return nil
}

// knnTop adds the cosines sims to buf, the k highest so far in descending
// order: an insertion into a k-long list per cosine instead of a sort of
// every cosine, the same values in the same order.
func knnTop(buf []float32, k int, sims []float32) []float32 {
	for _, sim := range sims {
		if len(buf) == k {
			if !(sim > buf[k-1]) {
				continue
			}
			buf = buf[:k-1]
		}
		j := len(buf)
		buf = append(buf, sim)
		for j > 0 && buf[j-1] < sim {
			buf[j] = buf[j-1]
			j--
		}
		buf[j] = sim
	}
	return buf
}

// ItemVec scores a candidate by the dot product of its user embedding (raw,
// not normalised) with the user model's output vector of the item. It cannot
// score fresh items.
type ItemVec struct {
	Users []float32 // raw user embeddings, row-major by user index
	Items []float32 // output item vectors, row-major by training item index
	Dim   int
}

// Name implements Scorer.
func (ItemVec) Name() string { return "itemvec" }

// Scores implements Scorer.
func (ItemVec) Scores(c *Case) bool { return !c.Fresh && c.ItemIndex >= 0 }

// Score implements Scorer.
func (m ItemVec) Score(_ context.Context, c *Case, candidates []int32, out []float32) error {
	if !m.Scores(c) {
		return fmt.Errorf("itemvec: item %s has no trained vector", c.Item)
	}
	iv := m.Items[int(c.ItemIndex)*m.Dim : (int(c.ItemIndex)+1)*m.Dim]
	for i, u := range candidates {
		out[i] = dot(m.Users[int(u)*m.Dim:(int(u)+1)*m.Dim], iv)
	}
	return nil
}
