package data

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FeatureSet turns a user's clicks plus the optional users and items tables
// into the user model's Features. It is built once from training data and
// saved with the model (MarshalBinary); its vocabularies and scaling never
// change afterwards.
//
// Fields, in order:
//   - field 0, "items": the bag of clicked item indices (Size =
//     Items().Len(); the indices are those of the training clicks' item
//     vocabulary).
//   - "items.<col>" for each column of the items table, in table order. A
//     categorical or multi-valued column gives the bag of the column's values
//     over the clicked items, duplicates kept: mean pooling then weighs each
//     value by how many clicked items carry it (two comedies and a drama →
//     comedy counts twice). A continuous item column gives the mean of its
//     scaled value over the clicked items that have one.
//   - "users.<col>" for each column of the users table, in table order:
//     categorical → a bag of one id (the value's index in the training
//     table's vocabulary), multi → the bag of the row's values, continuous →
//     FieldContinuous scaled to [0,1] with the min and max of the training
//     table (values outside are clamped; a constant column scales to 0.5).
//
// Defaults: a user with no row in the users table, or a null cell, gets an
// empty bag for bag fields and the training mean of the scaled values for
// continuous fields (0.5 when the training column has no values). An item
// with no row in the items table contributes nothing to the items.<col>
// bags. Values never seen in training are dropped.
//
// A FeatureSet is safe for concurrent use by Build callers with distinct dst.
type FeatureSet struct {
	items     *Vocab
	fields    []Field
	itemFeats []itemFeature
	userFeats []userFeature
	// userRows maps an external user id to its row in the users table the
	// user features were encoded from; nil without a users table.
	userRows *Vocab
}

// itemFeature is an items.<col> field, encoded per item index.
type itemFeature struct {
	field int
	name  string // column name in the items table
	kind  ColumnKind
	// bag: values of item i are codes[offsets[i]:offsets[i+1]].
	offsets, codes []int32
	// continuous: scaled value of item i, NaN when missing; def when no
	// clicked item has a value.
	scaled []float32
	def    float32
}

// userFeature is a users.<col> field, encoded per users-table row.
type userFeature struct {
	field  int
	name   string // column name in the users table
	kind   ColumnKind
	values *Vocab // training vocabulary of a bag field
	// bag: values of row r are codes[offsets[r]:offsets[r+1]].
	offsets, codes []int32
	// continuous: scaling min/max, scaled value per row (NaN = missing) and
	// default.
	min, max float64
	scaled   []float32
	def      float32
}

// NewFeatureSet builds the user-model fields and their vocabularies and
// scaling from training data. users and items may be nil. The FeatureSet
// keeps references to clicks.Items and the tables' vocabularies and code
// arrays: do not modify them afterwards.
func NewFeatureSet(clicks *Clicks, users, items *Table) (*FeatureSet, error) {
	if clicks == nil || clicks.Items == nil {
		return nil, errors.New("new feature set: nil clicks or item vocabulary")
	}
	fs := &FeatureSet{items: clicks.Items}
	fs.fields = append(fs.fields, Field{Name: "items", Kind: FieldBag, Size: clicks.Items.Len()})
	if items != nil {
		if items.Keys == nil {
			return nil, errors.New("new feature set: items table has no keys")
		}
		nItems := clicks.Items.Len()
		rowOf := make([]int32, nItems)
		for i := range rowOf {
			rowOf[i] = -1
			if r, ok := items.Keys.Index(clicks.Items.ID(int32(i))); ok {
				rowOf[i] = r
			}
		}
		for ci := range items.Columns {
			col := &items.Columns[ci]
			if err := checkColumn(col, items.Rows()); err != nil {
				return nil, fmt.Errorf("new feature set: items column %q: %w", col.Name, err)
			}
			f := itemFeature{field: len(fs.fields), name: col.Name, kind: col.Kind}
			fd := Field{Name: "items." + col.Name}
			switch col.Kind {
			case ColumnCategorical, ColumnMulti:
				fd.Kind, fd.Size = FieldBag, col.Values.Len()
				f.offsets = make([]int32, 1, nItems+1)
				for _, r := range rowOf {
					if r >= 0 {
						f.codes = append(f.codes, col.Row(int(r))...)
					}
					f.offsets = append(f.offsets, int32(len(f.codes)))
				}
			case ColumnContinuous:
				fd.Kind = FieldContinuous
				lo, hi := minMax(col.Floats)
				f.scaled = make([]float32, nItems)
				for i, r := range rowOf {
					f.scaled[i] = float32(math.NaN())
					if r >= 0 {
						f.scaled[i] = scale(col.Floats[r], lo, hi)
					}
				}
				f.def = meanScaled(col.Floats, lo, hi)
			}
			fs.itemFeats = append(fs.itemFeats, f)
			fs.fields = append(fs.fields, fd)
		}
	}
	if users != nil {
		if users.Keys == nil {
			return nil, errors.New("new feature set: users table has no keys")
		}
		fs.userRows = users.Keys
		for ci := range users.Columns {
			col := &users.Columns[ci]
			if err := checkColumn(col, users.Rows()); err != nil {
				return nil, fmt.Errorf("new feature set: users column %q: %w", col.Name, err)
			}
			f := userFeature{field: len(fs.fields), name: col.Name, kind: col.Kind}
			fd := Field{Name: "users." + col.Name}
			switch col.Kind {
			case ColumnCategorical, ColumnMulti:
				fd.Kind, fd.Size = FieldBag, col.Values.Len()
				f.values, f.offsets, f.codes = col.Values, col.Offsets, col.Codes
			case ColumnContinuous:
				fd.Kind = FieldContinuous
				f.min, f.max = minMax(col.Floats)
				f.scaled = make([]float32, len(col.Floats))
				for r, x := range col.Floats {
					f.scaled[r] = scale(x, f.min, f.max)
				}
				f.def = meanScaled(col.Floats, f.min, f.max)
			}
			fs.userFeats = append(fs.userFeats, f)
			fs.fields = append(fs.fields, fd)
		}
	}
	return fs, nil
}

// checkColumn validates a table column so encoding cannot go out of range.
func checkColumn(c *Column, rows int) error {
	switch c.Kind {
	case ColumnContinuous:
		if len(c.Floats) != rows {
			return fmt.Errorf("%d values for %d rows", len(c.Floats), rows)
		}
		return nil
	case ColumnCategorical, ColumnMulti:
		if c.Values == nil {
			return errors.New("nil value vocabulary")
		}
		return checkCSR(&Column{Kind: ColumnMulti, Values: c.Values, Offsets: c.Offsets, Codes: c.Codes}, rows)
	}
	return fmt.Errorf("invalid column kind %d", c.Kind)
}

// minMax returns the range of the non-NaN values (NaN, NaN when none).
func minMax(xs []float64) (lo, hi float64) {
	lo, hi = math.NaN(), math.NaN()
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		if math.IsNaN(lo) || x < lo {
			lo = x
		}
		if math.IsNaN(hi) || x > hi {
			hi = x
		}
	}
	return lo, hi
}

// scale maps x into [0,1] by the training range; NaN stays NaN (missing).
func scale(x, lo, hi float64) float32 {
	switch {
	case math.IsNaN(x):
		return float32(math.NaN())
	case math.IsNaN(lo) || !(hi > lo):
		return 0.5
	}
	s := (x - lo) / (hi - lo)
	return float32(min(max(s, 0), 1))
}

// meanScaled is the mean scaled value of the column (0.5 when it has none).
func meanScaled(xs []float64, lo, hi float64) float32 {
	var sum float64
	n := 0
	for _, x := range xs {
		if s := scale(x, lo, hi); !math.IsNaN(float64(s)) {
			sum += float64(s)
			n++
		}
	}
	if n == 0 {
		return 0.5
	}
	return float32(sum / float64(n))
}

// Fields returns the user-model fields (field 0 is "items"). The slice is
// shared: do not modify it.
func (fs *FeatureSet) Fields() []Field { return fs.fields }

// Items returns the item vocabulary of field 0.
func (fs *FeatureSet) Items() *Vocab { return fs.items }

// Users returns the key vocabulary of the users table the user features
// come from (nil when there is none).
func (fs *FeatureSet) Users() *Vocab { return fs.userRows }

// UserColumns returns the users-table column names that BuildRaw accepts,
// in field order.
func (fs *FeatureSet) UserColumns() []string {
	names := make([]string, len(fs.userFeats))
	for i, f := range fs.userFeats {
		names[i] = f.name
	}
	return names
}

// reset sizes dst for the fields, keeping the capacity of its slices so
// that repeated calls do not allocate.
func (fs *FeatureSet) reset(dst *Features) {
	n := len(fs.fields)
	if cap(dst.Bags) < n {
		bags := make([][]int32, n)
		copy(bags, dst.Bags[:cap(dst.Bags)])
		dst.Bags = bags
	}
	dst.Bags = dst.Bags[:n]
	for i := range dst.Bags {
		dst.Bags[i] = dst.Bags[i][:0]
	}
	if cap(dst.Values) < n {
		dst.Values = make([]float32, n)
	}
	dst.Values = dst.Values[:n]
	clear(dst.Values)
}

// Build fills dst with the features of the user with external id userID
// who clicked the items clicked (indices of Items()). Callers remove the
// item to predict first, so the label does not leak into the input. Item
// indices outside Items() (items added after training) are ignored in every
// field. dst's slices are reused: after the first call, Build allocates only
// when a bag outgrows its previous capacity. An empty bag has length 0 (it
// may be non-nil).
func (fs *FeatureSet) Build(userID string, clicked []int32, dst *Features) {
	row := int32(-1)
	if fs.userRows != nil {
		if r, ok := fs.userRows.Index(userID); ok {
			row = r
		}
	}
	fs.buildItems(clicked, dst)
	for i := range fs.userFeats {
		f := &fs.userFeats[i]
		switch f.kind {
		case ColumnCategorical, ColumnMulti:
			if row >= 0 {
				dst.Bags[f.field] = append(dst.Bags[f.field], f.codes[f.offsets[row]:f.offsets[row+1]]...)
			}
		case ColumnContinuous:
			v := f.def
			if row >= 0 && !math.IsNaN(float64(f.scaled[row])) {
				v = f.scaled[row]
			}
			dst.Values[f.field] = v
		}
	}
}

// buildItems resets dst and fills field 0 and the items.<col> fields.
func (fs *FeatureSet) buildItems(clicked []int32, dst *Features) {
	fs.reset(dst)
	n := int32(fs.items.Len())
	b := dst.Bags[0]
	for _, it := range clicked {
		if it >= 0 && it < n {
			b = append(b, it)
		}
	}
	dst.Bags[0] = b
	for i := range fs.itemFeats {
		f := &fs.itemFeats[i]
		switch f.kind {
		case ColumnCategorical, ColumnMulti:
			b := dst.Bags[f.field]
			for _, it := range clicked {
				if it >= 0 && it < n {
					b = append(b, f.codes[f.offsets[it]:f.offsets[it+1]]...)
				}
			}
			dst.Bags[f.field] = b
		case ColumnContinuous:
			var sum float64
			k := 0
			for _, it := range clicked {
				if it >= 0 && it < n {
					if s := f.scaled[it]; !math.IsNaN(float64(s)) {
						sum += float64(s)
						k++
					}
				}
			}
			v := f.def
			if k > 0 {
				v = float32(sum / float64(k))
			}
			dst.Values[f.field] = v
		}
	}
}

// BuildRaw fills dst like Build for a user described by raw feature values
// instead of a users-table row, e.g. a user created or updated at serving
// time. values maps users-table column names (with or without the "users."
// prefix) to a value: for a categorical column a string, bool or integer;
// for a multi-valued column a slice of those ([]string, []int64, []int,
// []any...); for a continuous column any float or integer. A nil value or
// a missing column gets the default; values unseen in training are dropped.
// It fails on an unknown column name or a value of the wrong type.
func (fs *FeatureSet) BuildRaw(values map[string]any, clicked []int32, dst *Features) error {
	for name := range values {
		if fs.userFeature(name) == nil {
			return fmt.Errorf("build features: unknown user column %q (have %s)", name, strings.Join(fs.UserColumns(), ", "))
		}
	}
	fs.buildItems(clicked, dst)
	for i := range fs.userFeats {
		f := &fs.userFeats[i]
		v, ok := values[f.name]
		if !ok {
			v = values["users."+f.name]
		}
		switch f.kind {
		case ColumnCategorical, ColumnMulti:
			if v == nil {
				continue
			}
			b := dst.Bags[f.field]
			err := forEachRaw(v, func(s string) {
				if c, ok := f.values.Index(s); ok {
					b = append(b, c)
				}
			})
			if err != nil {
				return fmt.Errorf("build features: column %q: %w", f.name, err)
			}
			dst.Bags[f.field] = b
		case ColumnContinuous:
			dst.Values[f.field] = f.def
			if v == nil {
				continue
			}
			x, err := rawFloat(v)
			if err != nil {
				return fmt.Errorf("build features: column %q: %w", f.name, err)
			}
			if s := scale(x, f.min, f.max); !math.IsNaN(float64(s)) {
				dst.Values[f.field] = s
			}
		}
	}
	return nil
}

func (fs *FeatureSet) userFeature(name string) *userFeature {
	name = strings.TrimPrefix(name, "users.")
	for i := range fs.userFeats {
		if fs.userFeats[i].name == name {
			return &fs.userFeats[i]
		}
	}
	return nil
}

// forEachRaw calls fn with the id spelling of each value in v (a scalar or
// a slice of scalars).
func forEachRaw(v any, fn func(string)) error {
	switch x := v.(type) {
	case []string:
		for _, s := range x {
			fn(s)
		}
		return nil
	case []int64:
		for _, n := range x {
			fn(strconv.FormatInt(n, 10))
		}
		return nil
	case []int:
		for _, n := range x {
			fn(strconv.Itoa(n))
		}
		return nil
	case []int32:
		for _, n := range x {
			fn(strconv.FormatInt(int64(n), 10))
		}
		return nil
	case []bool:
		for _, b := range x {
			fn(strconv.FormatBool(b))
		}
		return nil
	case []any:
		for _, e := range x {
			if e == nil {
				continue
			}
			s, err := rawScalar(e)
			if err != nil {
				return err
			}
			fn(s)
		}
		return nil
	}
	s, err := rawScalar(v)
	if err != nil {
		return err
	}
	fn(s)
	return nil
}

// rawScalar spells a categorical value the way readers store it.
func rawScalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case float64:
		// JSON numbers decode as float64: accept whole numbers.
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), nil
		}
	}
	return "", fmt.Errorf("value %v of type %T is not a string, bool or integer", v, v)
}

func rawFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	}
	return 0, fmt.Errorf("value %v of type %T is not a number", v, v)
}

// WithUsers returns a FeatureSet with the same fields, vocabularies and
// scaling whose user features come from a different users table t (for
// example at inference time). t's columns are matched by name and
// re-encoded through the training vocabularies: values unseen in training
// are dropped, a training column missing from t gives every user the
// default, extra columns of t are ignored. A categorical column may become
// multi-valued and vice versa; a bag column cannot become continuous or the
// reverse. The receiver is unchanged; the result shares its item data.
func (fs *FeatureSet) WithUsers(t *Table) (*FeatureSet, error) {
	if t == nil || t.Keys == nil {
		return nil, errors.New("feature set with users: nil table or keys")
	}
	out := *fs
	out.userRows = t.Keys
	out.userFeats = make([]userFeature, len(fs.userFeats))
	rows := t.Rows()
	for i, f := range fs.userFeats {
		nf := f
		nf.offsets, nf.codes, nf.scaled = nil, nil, nil
		col := t.Column(f.name)
		if col != nil {
			if err := checkColumn(col, rows); err != nil {
				return nil, fmt.Errorf("feature set with users: column %q: %w", f.name, err)
			}
		}
		switch f.kind {
		case ColumnCategorical, ColumnMulti:
			nf.offsets = make([]int32, rows+1)
			if col == nil {
				break
			}
			if col.Kind == ColumnContinuous {
				return nil, fmt.Errorf("feature set with users: column %q is continuous but was %s in training", f.name, f.kind)
			}
			remap := make([]int32, col.Values.Len())
			for v := range remap {
				remap[v] = -1
				if c, ok := f.values.Index(col.Values.ID(int32(v))); ok {
					remap[v] = c
				}
			}
			for r := 0; r < rows; r++ {
				for _, c := range col.Row(r) {
					if m := remap[c]; m >= 0 {
						nf.codes = append(nf.codes, m)
					}
				}
				nf.offsets[r+1] = int32(len(nf.codes))
			}
		case ColumnContinuous:
			nf.scaled = make([]float32, rows)
			for r := range nf.scaled {
				nf.scaled[r] = float32(math.NaN())
			}
			if col == nil {
				break
			}
			if col.Kind != ColumnContinuous {
				return nil, fmt.Errorf("feature set with users: column %q is %s but was continuous in training", f.name, col.Kind)
			}
			for r, x := range col.Floats {
				nf.scaled[r] = scale(x, f.min, f.max)
			}
		}
		out.userFeats[i] = nf
	}
	return &out, nil
}
