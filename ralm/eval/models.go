package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/ralmlab/ralm/lookalike/coldstart"
)

// Case is one evaluated item: its seeds and held-out positives, as indices
// into the evaluation's user universe.
type Case struct {
	Item      string  // external item id
	ItemIndex int32   // index of the item in the training item vocabulary; -1 for a fresh item
	Fresh     bool    // a fresh item (never seen in training)
	Seeds     []int32 // the item's seed users
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

// Score implements Scorer.
func (m KNN) Score(ctx context.Context, c *Case, candidates []int32, out []float32) error {
	k := min(m.K, len(c.Seeds))
	if k <= 0 {
		return fmt.Errorf("knn: item %s has no seeds", c.Item)
	}
	top := make([]float32, k)
	for i, u := range candidates {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		x := m.Vectors.Row(u)
		top = knnTop(top[:0], k, x, m.Vectors, c.Seeds)
		var sum float32
		for _, v := range top { // descending, as a full sort would give them
			sum += v
		}
		out[i] = sum / float32(k)
	}
	return nil
}

// knnTop returns, in descending order in buf, the k highest cosines of x with
// the seeds' rows: an insertion into a k-long list per seed instead of a
// sort of every cosine, the same values in the same order.
func knnTop(buf []float32, k int, x []float32, v *Vectors, seeds []int32) []float32 {
	for _, s := range seeds {
		sim := dot(x, v.Row(s))
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
