package userrep

import (
	"fmt"
	"math"
	"math/rand"

	"github.com/ralmlab/ralm/data"

	"github.com/ralmlab/ralm/internal/simd"
)

// float is the element type of the model: float32 in production, float64 in
// the gradient checks.
type float interface{ float32 | float64 }

// contValue is the value of continuous field f in ft (0 when ft has fewer
// values).
func contValue[T float](ft *data.Features, f int) T {
	if f < len(ft.Values) {
		return T(ft.Values[f])
	}
	return 0
}

// span is one named dense parameter inside the flat dense slice.
type span struct {
	name  string
	off   int
	shape []int
}

// n is the number of elements of the span.
func (s span) n() int {
	n := 1
	for _, d := range s.shape {
		n *= d
	}
	return n
}

// valid reports whether the span exists (optional parameters have no shape).
func (s span) valid() bool { return len(s.shape) > 0 }

// layout is the shape of a model: its fields and where every dense parameter
// lives inside the flat dense slice. It is derived from the Config and the
// fields alone, so a saved model only stores those.
type layout struct {
	cfg    Config
	fields []data.Field
	nItems int // rows of the output item table

	F, m, A, heads, d, in0 int
	hid                    []int
	gated                  bool // MergeGated: attention-weighted concatenation

	empty        []span // per bag field: learned vector for an empty bag
	contW, contB []span // per continuous field: 1→m dense layer
	ffcW, ffcB   span   // per-field layer: (F,m,m), (F,m)
	attW1, attB1 span   // (m,A), (A)
	attW2        span   // (A,heads)
	mlpW, mlpB   []span // (in,out), (out)
	spans        []span // every span, in order
	denseLen     int
}

// newLayout checks the fields and computes the parameter layout.
func newLayout(cfg Config, fields []data.Field, nItems int) (*layout, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("userrep: no input fields")
	}
	if len(fields) > 1024 {
		return nil, fmt.Errorf("userrep: %d fields (max 1024)", len(fields))
	}
	if nItems <= 0 {
		return nil, fmt.Errorf("userrep: item vocabulary is empty")
	}
	for i, f := range fields {
		switch f.Kind {
		case data.FieldBag:
			if f.Size < 0 {
				return nil, fmt.Errorf("userrep: field %d (%s): negative size %d", i, f.Name, f.Size)
			}
		case data.FieldContinuous:
		default:
			return nil, fmt.Errorf("userrep: field %d (%s): unknown kind %d", i, f.Name, f.Kind)
		}
	}
	l := &layout{
		cfg:    cfg,
		fields: append([]data.Field(nil), fields...),
		nItems: nItems,
		F:      len(fields),
		m:      cfg.Dim,
		A:      cfg.AttDim,
		heads:  cfg.Heads,
		d:      cfg.OutDim(),
		in0:    cfg.mergeDim(len(fields)),
		hid:    append([]int(nil), cfg.Hidden...),
	}
	add := func(name string, shape ...int) span {
		s := span{name: name, off: l.denseLen, shape: shape}
		l.denseLen += s.n()
		l.spans = append(l.spans, s)
		return s
	}
	l.empty = make([]span, l.F)
	l.contW = make([]span, l.F)
	l.contB = make([]span, l.F)
	for i, f := range fields {
		if f.Kind == data.FieldBag {
			l.empty[i] = add(fmt.Sprintf("field%d.empty", i), l.m)
		} else {
			l.contW[i] = add(fmt.Sprintf("field%d.w", i), l.m)
			l.contB[i] = add(fmt.Sprintf("field%d.b", i), l.m)
		}
	}
	if cfg.FieldFC != FieldFCNone {
		l.ffcW = add("ffc.W", l.F, l.m, l.m)
		l.ffcB = add("ffc.b", l.F, l.m)
	}
	l.gated = cfg.Merge == MergeGated
	if cfg.Merge != MergeConcat {
		l.attW1 = add("att.W1", l.m, l.A)
		l.attB1 = add("att.b1", l.A)
		l.attW2 = add("att.w2", l.A, l.heads)
	} else {
		l.A, l.heads = 0, 0
	}
	in := l.in0
	for i, h := range l.hid {
		l.mlpW = append(l.mlpW, add(fmt.Sprintf("mlp%d.W", i), in, h))
		l.mlpB = append(l.mlpB, add(fmt.Sprintf("mlp%d.b", i), h))
		in = h
	}
	return l, nil
}

// tableRows is the number of rows of the input table of field f (0 for a
// continuous field).
func (l *layout) tableRows(f int) int {
	if l.fields[f].Kind != data.FieldBag {
		return 0
	}
	return l.fields[f].Size
}

// params holds every weight of a model: the dense parameters in one flat
// slice (see layout), one input embedding table per bag field (rows×m), the
// output item vectors (nItems×d) and a fixed (not trained) per-item score
// bias (nItems, see Model.ItemBias).
type params[T float] struct {
	lay    *layout
	dense  []T
	tables [][]T
	out    []T
	bias   []T
}

// newParams allocates zeroed parameters for the layout.
func newParams[T float](l *layout) *params[T] {
	p := &params[T]{lay: l, dense: make([]T, l.denseLen), tables: make([][]T, l.F)}
	for f := range l.fields {
		if r := l.tableRows(f); r > 0 {
			p.tables[f] = make([]T, r*l.m)
		}
	}
	p.out = make([]T, l.nItems*l.d)
	p.bias = make([]T, l.nItems)
	return p
}

// get returns the slice of a dense span.
func (p *params[T]) get(s span) []T { return p.dense[s.off : s.off+s.n()] }

// initParams fills the parameters from the seeded generator: embedding
// tables, empty vectors and output item vectors ~ N(0, 1/m) (resp. 1/d);
// dense layers ~ U(-1/√fan_in, 1/√fan_in) like PyTorch's nn.Linear.
func (p *params[T]) init(rng *rand.Rand) {
	l := p.lay
	normal := func(dst []T, std float64) {
		for i := range dst {
			dst[i] = T(rng.NormFloat64() * std)
		}
	}
	uniform := func(dst []T, fanIn int) {
		b := 1 / math.Sqrt(float64(fanIn))
		for i := range dst {
			dst[i] = T((2*rng.Float64() - 1) * b)
		}
	}
	sm := 1 / math.Sqrt(float64(l.m))
	for f := range l.fields {
		normal(p.tables[f], sm)
		if l.empty[f].valid() {
			normal(p.get(l.empty[f]), sm)
		}
		if l.contW[f].valid() {
			uniform(p.get(l.contW[f]), 1)
			uniform(p.get(l.contB[f]), 1)
		}
	}
	if l.ffcW.valid() {
		uniform(p.get(l.ffcW), l.m)
		uniform(p.get(l.ffcB), l.m)
	}
	if l.attW1.valid() {
		uniform(p.get(l.attW1), l.m)
		uniform(p.get(l.attB1), l.m)
		uniform(p.get(l.attW2), l.A)
	}
	in := l.in0
	for i, h := range l.hid {
		uniform(p.get(l.mlpW[i]), in)
		uniform(p.get(l.mlpB[i]), in)
		in = h
	}
	normal(p.out, 1/math.Sqrt(float64(l.d)))
}

// clone returns a deep copy.
func (p *params[T]) clone() *params[T] {
	c := &params[T]{lay: p.lay, dense: append([]T(nil), p.dense...), out: append([]T(nil), p.out...), bias: append([]T(nil), p.bias...)}
	c.tables = make([][]T, len(p.tables))
	for i, t := range p.tables {
		if t != nil {
			c.tables[i] = append([]T(nil), t...)
		}
	}
	return c
}

// copyFrom copies the values of q (same layout) into p.
func (p *params[T]) copyFrom(q *params[T]) {
	copy(p.dense, q.dense)
	copy(p.out, q.out)
	copy(p.bias, q.bias)
	for i := range p.tables {
		copy(p.tables[i], q.tables[i])
	}
}

// pool writes the input vector of every field of one example into
// x[f*stride : f*stride+m] (stride = B·m for the f-major batch layout):
// mean of the table rows of a bag (its learned empty vector if the bag is
// empty), or w·v+b for a continuous field. Out-of-range ids are an error.
func (p *params[T]) pool(ft *data.Features, x []T, stride int) error {
	l := p.lay
	m := l.m
	if len(ft.Bags) < l.F && len(ft.Values) < l.F {
		return fmt.Errorf("userrep: features have %d bags and %d values, model has %d fields", len(ft.Bags), len(ft.Values), l.F)
	}
	for f := range l.fields {
		dst := x[f*stride : f*stride+m]
		if l.fields[f].Kind == data.FieldContinuous {
			v := contValue[T](ft, f)
			w, b := p.get(l.contW[f]), p.get(l.contB[f])
			for k := range dst {
				dst[k] = v*w[k] + b[k]
			}
			continue
		}
		var bag []int32
		if f < len(ft.Bags) {
			bag = ft.Bags[f]
		}
		if len(bag) == 0 {
			copy(dst, p.get(l.empty[f]))
			continue
		}
		rows := l.fields[f].Size
		tab := p.tables[f]
		clear(dst)
		for _, id := range bag {
			if id < 0 || int(id) >= rows {
				return fmt.Errorf("userrep: field %d (%s): id %d out of range [0,%d)", f, l.fields[f].Name, id, rows)
			}
			simd.Axpy(1, tab[int(id)*m:int(id)*m+m], dst)
		}
		inv := 1 / T(len(bag))
		for k := range dst {
			dst[k] *= inv
		}
	}
	return nil
}
