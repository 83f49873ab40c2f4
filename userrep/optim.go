package userrep

import (
	"math"

	"github.com/ralmlab/ralm/internal/simd"
)

// sparseGrad accumulates gradients for the rows of a table that a step
// touches, in first-touch order (so updates are deterministic).
type sparseGrad[T float] struct {
	width int
	slot  []int32 // row -> position in rows, or -1
	rows  []int32
	g     []T // len(rows)·width
}

func newSparseGrad[T float](rows, width int) *sparseGrad[T] {
	s := &sparseGrad[T]{width: width, slot: make([]int32, rows)}
	for i := range s.slot {
		s.slot[i] = -1
	}
	return s
}

// row returns the gradient row of table row r, zeroed on first touch.
func (s *sparseGrad[T]) row(r int32) []T {
	w := s.width
	k := s.slot[r]
	if k < 0 {
		k = int32(len(s.rows))
		s.slot[r] = k
		s.rows = append(s.rows, r)
		n := len(s.g)
		if cap(s.g) < n+w {
			g := make([]T, n, 2*(n+w))
			copy(g, s.g)
			s.g = g
		}
		s.g = s.g[:n+w]
		clear(s.g[n:])
	}
	return s.g[int(k)*w : int(k)*w+w]
}

// reset forgets every touched row.
func (s *sparseGrad[T]) reset() {
	for _, r := range s.rows {
		s.slot[r] = -1
	}
	s.rows = s.rows[:0]
	s.g = s.g[:0]
}

// adam is Adam with PyTorch's update rule (β1 0.9, β2 0.999, ε 1e-8): dense
// for the dense parameters, lazy for table rows (moments of a row only move
// on the steps that touch it; bias correction uses the global step).
type adam[T float] struct {
	lr, b1, b2, eps float64
	t               int
	step, bc2       T // per-step lr/(1-β1^t) and sqrt(1-β2^t)

	dm, dv []T   // dense moments
	tm, tv [][]T // table moments
	om, ov []T   // output item moments
}

func newAdam[T float](p *params[T], lr float64) *adam[T] {
	a := &adam[T]{lr: lr, b1: 0.9, b2: 0.999, eps: 1e-8}
	a.dm, a.dv = make([]T, len(p.dense)), make([]T, len(p.dense))
	a.tm, a.tv = make([][]T, len(p.tables)), make([][]T, len(p.tables))
	for i, t := range p.tables {
		if t != nil {
			a.tm[i], a.tv[i] = make([]T, len(t)), make([]T, len(t))
		}
	}
	a.om, a.ov = make([]T, len(p.out)), make([]T, len(p.out))
	return a
}

// begin advances the step counter; call once per step before the updates.
func (a *adam[T]) begin() {
	a.t++
	a.step = T(a.lr / (1 - math.Pow(a.b1, float64(a.t))))
	a.bc2 = T(math.Sqrt(1 - math.Pow(a.b2, float64(a.t))))
}

// update applies one Adam step to w with gradient g and moments m, v.
func (a *adam[T]) update(w, g, m, v []T) {
	simd.AdamUpdate(w, g, m, v, simd.AdamCoeffs[T]{B1: T(a.b1), B2: T(a.b2), Step: a.step, InvBC2: 1 / a.bc2, Eps: T(a.eps)})
}

// updateRows applies the lazy update to the touched rows of a table.
func (a *adam[T]) updateRows(table, m, v []T, s *sparseGrad[T]) {
	w := s.width
	for k, r := range s.rows {
		o := int(r) * w
		a.update(table[o:o+w], s.g[k*w:k*w+w], m[o:o+w], v[o:o+w])
	}
}
