package coldstart

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/ralmlab/ralm/data"
)

// Field is one item attribute the model embeds: a categorical, multi-valued
// or continuous column of the items table. Continuous values are cut into
// quantile bins, so every field is a bag of codes.
type Field struct {
	Name string          `json:"name"`
	Kind data.ColumnKind `json:"kind"`
	// Values are the codes' values of a categorical or multi-valued field,
	// in code order.
	Values []string `json:"values,omitempty"`
	// Edges are the inner bin edges of a continuous field (ascending): value
	// x has code sort.SearchFloat64s-style index of the first edge > x.
	Edges []float64 `json:"edges,omitempty"`

	index map[string]int32
}

// Size is the number of codes of the field (embedding rows).
func (f *Field) Size() int {
	if f.Kind == data.ColumnContinuous {
		return len(f.Edges) + 1
	}
	return len(f.Values)
}

// bin returns the code of a continuous value (-1 for NaN).
func (f *Field) bin(x float64) int32 {
	if math.IsNaN(x) {
		return -1
	}
	return int32(sort.Search(len(f.Edges), func(i int) bool { return f.Edges[i] > x }))
}

func (f *Field) buildIndex() {
	f.index = make(map[string]int32, len(f.Values))
	for i, v := range f.Values {
		f.index[v] = int32(i)
	}
}

// Attrs is one item's attributes as codes: Attrs[f] lists the codes of field
// f (empty: the item has no value in that field). A nil Attrs means the item
// has no row in the items table.
type Attrs [][]int32

// Encoder maps items-table rows and raw attribute values to Attrs. It is
// immutable once built.
type Encoder struct {
	Fields []Field `json:"fields"`
}

// DefaultBins is the number of quantile bins of a continuous field.
const DefaultBins = 10

// NewEncoder builds the fields of every feature column of an items table
// (categorical, multi-valued and continuous), with up to bins quantile bins
// per continuous column (DefaultBins when 0). A table without feature
// columns, or a continuous column without any value, is an error.
func NewEncoder(t *data.Table, bins int) (*Encoder, error) {
	if t == nil || len(t.Columns) == 0 {
		return nil, fmt.Errorf("cold-start encoder: the items table has no feature columns")
	}
	if bins == 0 {
		bins = DefaultBins
	}
	if bins < 1 || bins > 1000 {
		return nil, fmt.Errorf("cold-start encoder: %d bins out of range [1, 1000]", bins)
	}
	e := &Encoder{}
	for i := range t.Columns {
		c := &t.Columns[i]
		f := Field{Name: c.Name, Kind: c.Kind}
		switch c.Kind {
		case data.ColumnCategorical, data.ColumnMulti:
			f.Values = slices.Clone(c.Values.IDs())
			if len(f.Values) == 0 {
				return nil, fmt.Errorf("cold-start encoder: column %s has no values", c.Name)
			}
		case data.ColumnContinuous:
			var xs []float64
			for _, x := range c.Floats {
				if !math.IsNaN(x) && !math.IsInf(x, 0) {
					xs = append(xs, x)
				}
			}
			if len(xs) == 0 {
				return nil, fmt.Errorf("cold-start encoder: continuous column %s has no finite value", c.Name)
			}
			slices.Sort(xs)
			for b := 1; b < bins; b++ {
				q := xs[min(len(xs)-1, b*len(xs)/bins)]
				if (len(f.Edges) == 0 || q > f.Edges[len(f.Edges)-1]) && q > xs[0] {
					f.Edges = append(f.Edges, q)
				}
			}
		default:
			return nil, fmt.Errorf("cold-start encoder: column %s has kind %v", c.Name, c.Kind)
		}
		f.buildIndex()
		e.Fields = append(e.Fields, f)
	}
	return e, nil
}

// init rebuilds the value indexes after decoding.
func (e *Encoder) init() error {
	if len(e.Fields) == 0 {
		return fmt.Errorf("no fields")
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		switch f.Kind {
		case data.ColumnCategorical, data.ColumnMulti, data.ColumnContinuous:
		default:
			return fmt.Errorf("field %s has kind %v", f.Name, f.Kind)
		}
		if f.Size() == 0 {
			return fmt.Errorf("field %s has no values", f.Name)
		}
		if !slices.IsSorted(f.Edges) {
			return fmt.Errorf("field %s: bin edges not ascending", f.Name)
		}
		f.buildIndex()
	}
	return nil
}

// Row encodes row r of an items table with the encoder's fields (matched by
// column name; a missing column or one of another kind is an error). Values
// the encoder has never seen are left out and counted in unknown.
func (e *Encoder) Row(t *data.Table, r int) (a Attrs, unknown int, err error) {
	if r < 0 || r >= t.Rows() {
		return nil, 0, fmt.Errorf("cold-start encoder: row %d out of range [0, %d)", r, t.Rows())
	}
	a = make(Attrs, len(e.Fields))
	for i := range e.Fields {
		f := &e.Fields[i]
		c := t.Column(f.Name)
		if c == nil {
			return nil, 0, fmt.Errorf("cold-start encoder: items table has no column %s", f.Name)
		}
		if c.Kind != f.Kind {
			return nil, 0, fmt.Errorf("cold-start encoder: column %s is %v, the model's field is %v", f.Name, c.Kind, f.Kind)
		}
		if f.Kind == data.ColumnContinuous {
			if b := f.bin(c.Floats[r]); b >= 0 {
				a[i] = []int32{b}
			}
			continue
		}
		for _, code := range c.Row(r) {
			if k, ok := f.index[c.Values.ID(code)]; ok {
				if !slices.Contains(a[i], k) { // a repeated value counts once, as in Encode
					a[i] = append(a[i], k)
				}
			} else {
				unknown++
			}
		}
	}
	return a, unknown, nil
}

// ForItems encodes the items table row of every item of items (a clicks'
// item vocabulary): out[i] is nil for an item without a row. It returns the
// number of items with a row and of values unknown to the encoder.
func (e *Encoder) ForItems(t *data.Table, items *data.Vocab) (out []Attrs, found, unknown int, err error) {
	out = make([]Attrs, items.Len())
	for i := range out {
		r, ok := t.Keys.Index(items.ID(int32(i)))
		if !ok {
			continue
		}
		a, u, err := e.Row(t, int(r))
		if err != nil {
			return nil, 0, 0, fmt.Errorf("item %s: %w", items.ID(int32(i)), err)
		}
		out[i] = a
		found++
		unknown += u
	}
	return out, found, unknown, nil
}

// Encode encodes raw attribute values, as a serving request carries them:
// field name → values (the strings of a categorical or multi-valued field,
// one decimal number for a continuous one). A name that is not a field, more
// than one value of a categorical or continuous field, or a continuous value
// that is not a number is an error naming the field; values the encoder has
// never seen are left out and counted in unknown. Fields not given are
// empty.
func (e *Encoder) Encode(values map[string][]string) (a Attrs, unknown int, err error) {
	a = make(Attrs, len(e.Fields))
	pos := make(map[string]int, len(e.Fields))
	for i, f := range e.Fields {
		pos[f.Name] = i
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		i, ok := pos[n]
		if !ok {
			return nil, 0, fmt.Errorf("attribute %q: not a field of the cold-start model (fields: %s)", n, e.fieldNames())
		}
		f := &e.Fields[i]
		vs := values[n]
		if f.Kind != data.ColumnMulti && len(vs) > 1 {
			return nil, 0, fmt.Errorf("attribute %q: %d values for a %v field", n, len(vs), f.Kind)
		}
		for _, v := range vs {
			if f.Kind == data.ColumnContinuous {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil || math.IsInf(x, 0) {
					return nil, 0, fmt.Errorf("attribute %q: %q is not a finite number", n, v)
				}
				if b := f.bin(x); b >= 0 {
					a[i] = append(a[i], b)
				}
				continue
			}
			if k, ok := f.index[v]; ok {
				if !slices.Contains(a[i], k) {
					a[i] = append(a[i], k)
				}
			} else {
				unknown++
			}
		}
	}
	return a, unknown, nil
}

func (e *Encoder) fieldNames() string {
	s := ""
	for i, f := range e.Fields {
		if i > 0 {
			s += ", "
		}
		s += f.Name
	}
	return s
}

// check validates that a has one code list per field, in range.
func (e *Encoder) check(a Attrs) error {
	if len(a) != len(e.Fields) {
		return fmt.Errorf("attributes have %d fields, the model %d", len(a), len(e.Fields))
	}
	for i, codes := range a {
		n := e.Fields[i].Size()
		for _, c := range codes {
			if c < 0 || int(c) >= n {
				return fmt.Errorf("field %s: code %d out of range [0, %d)", e.Fields[i].Name, c, n)
			}
		}
	}
	return nil
}
