package userrep

import adamopt "github.com/ralmlab/ralm/internal/adam"

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

// touch returns the position in rows of table row r, adding r (with a
// zeroed gradient row) on first touch.
func (s *sparseGrad[T]) touch(r int32) int32 {
	k := s.slot[r]
	if k < 0 {
		w := s.width
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
	return k
}

// at returns the gradient row at position k of rows (valid until the next
// touch).
func (s *sparseGrad[T]) at(k int32) []T { return s.g[int(k)*s.width : int(k+1)*s.width] }

// reset forgets every touched row.
func (s *sparseGrad[T]) reset() {
	for _, r := range s.rows {
		s.slot[r] = -1
	}
	s.rows = s.rows[:0]
	s.g = s.g[:0]
}

// adam is the trainer's optimiser: internal/adam's Adam, dense for the
// dense parameters and lazy for table rows (moments of a row only move on
// the steps that touch it; bias correction uses the global step).
type adam[T float] struct {
	*adamopt.Adam[T]

	dm, dv []T   // dense moments
	tm, tv [][]T // table moments
	om, ov []T   // output item moments
}

func newAdam[T float](p *params[T], lr float64) (*adam[T], error) {
	opt, err := adamopt.New[T](lr)
	if err != nil {
		return nil, err
	}
	a := &adam[T]{Adam: opt}
	a.dm, a.dv = make([]T, len(p.dense)), make([]T, len(p.dense))
	a.tm, a.tv = make([][]T, len(p.tables)), make([][]T, len(p.tables))
	for i, t := range p.tables {
		if t != nil {
			a.tm[i], a.tv[i] = make([]T, len(t)), make([]T, len(t))
		}
	}
	a.om, a.ov = make([]T, len(p.out)), make([]T, len(p.out))
	return a, nil
}

// updateRows applies the lazy update to the touched rows lo..hi-1 (in
// touch order) of a table.
func (a *adam[T]) updateRows(table, m, v []T, s *sparseGrad[T], lo, hi int) {
	w := s.width
	for k := lo; k < hi; k++ {
		o := int(s.rows[k]) * w
		a.Update(table[o:o+w], s.g[k*w:k*w+w], m[o:o+w], v[o:o+w])
	}
}
