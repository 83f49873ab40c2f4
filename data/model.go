package data

import (
	"fmt"
	"slices"
)

// This file holds the in-memory types every other package consumes. Readers and
// writers (Parquet / Arrow IPC) live in their own files and produce these types.

// IDKind is the type of an external id column: int64 or string.
type IDKind uint8

// The id kinds a clicks, users or items table may use.
const (
	IDInt64 IDKind = iota + 1
	IDString
)

// Vocab maps external ids (held as strings; int64 ids in decimal) to dense
// indices 0..Len()-1 and back. Indices are stable: assigned in the order ids
// are added, and saved with every model.
type Vocab struct {
	kind IDKind
	ids  []string
	// The index of the ids: by value for an int64 vocabulary (ints: no
	// string hashing, and a third of a string map's memory), by string
	// otherwise (index). The other one is nil.
	ints  *intCodes
	index map[string]int32
}

// NewVocab returns an empty vocabulary for ids of the given kind.
func NewVocab(kind IDKind) *Vocab { return newVocab(kind, 0) }

// newVocab returns an empty vocabulary with room for n ids.
func newVocab(kind IDKind, n int) *Vocab {
	v := &Vocab{kind: kind, ids: make([]string, 0, n)}
	if kind == IDInt64 {
		v.ints = newIntCodesFor(n)
	} else {
		v.index = make(map[string]int32, n)
	}
	return v
}

// Kind reports whether the ids are int64 or strings.
func (v *Vocab) Kind() IDKind { return v.kind }

// Len is the number of ids.
func (v *Vocab) Len() int { return len(v.ids) }

// Add returns the index of id, adding it if new. An int64 vocabulary
// holds ids in canonical decimal form: id is checked and spelled by
// CanonicalID ("007" is added as "7"), and an id that is not a decimal
// int64 (such as "abc" or "") is refused with an error naming it, leaving
// v unchanged. A string vocabulary takes any id as it is (it may hold
// feature values); the readers of id columns check string ids with
// CanonicalID before they add them.
func (v *Vocab) Add(id string) (int32, error) {
	if v.kind == IDInt64 {
		c, err := CanonicalID(IDInt64, id)
		if err != nil {
			return 0, fmt.Errorf("add to an int64 vocabulary: %w", err)
		}
		id = c
	}
	if i, ok := v.Index(id); ok {
		return i, nil
	}
	return v.addOwned(id), nil
}

// MustAdd is Add for ids known to be valid (generated ids, tests): it
// panics, naming the id, where Add returns an error.
func (v *Vocab) MustAdd(id string) int32 {
	i, err := v.Add(id)
	if err != nil {
		panic("data: " + err.Error())
	}
	return i
}

// Index returns the dense index of id and whether it is known.
// An int64 vocabulary knows ids in canonical decimal form only ("7", not
// "007").
func (v *Vocab) Index(id string) (int32, bool) {
	if v.ints == nil {
		i, ok := v.index[id]
		return i, ok
	}
	x, ok := parseCanonicalInt(id)
	if !ok {
		return 0, false
	}
	return v.lookupInt(x)
}

// ID returns the external id of dense index i.
func (v *Vocab) ID(i int32) string { return v.ids[i] }

// Clicks is a click log with dense user and item indices.
type Clicks struct {
	Users *Vocab  // user id vocabulary
	Items *Vocab  // item id vocabulary
	User  []int32 // user index per click
	Item  []int32 // item index per click
	TS    []int64 // click time, Unix nanoseconds
}

// Len is the number of clicks.
func (c *Clicks) Len() int { return len(c.User) }

// FieldKind says how a user field is embedded.
type FieldKind uint8

// Field kinds.
const (
	// FieldBag is a bag of ids from a vocabulary, embedded and mean-pooled.
	// A categorical column is a bag of one id.
	FieldBag FieldKind = iota + 1
	// FieldContinuous is one float in [0,1] fed through a dense layer.
	FieldContinuous
)

// Field describes one input field of the user model.
type Field struct {
	Name string    // e.g. "items", "items.genres", "users.age"
	Kind FieldKind // bag or continuous
	Size int       // number of distinct ids for a bag field (ids are 0..Size-1); 0 for continuous
}

// Features is one user's input to the user model, indexed by field:
// Bags[f] holds the ids of bag field f (length 0 for continuous fields and
// empty bags; FeatureSet.Build reuses the slices' capacity, so test len, not
// nil); Values[f] holds the scaled value of continuous field f (0 for bag
// fields).
type Features struct {
	Bags   [][]int32
	Values []float32
}

// ColumnKind says how a feature column of a users or items table is read.
type ColumnKind uint8

// Column kinds.
const (
	// ColumnCategorical is a string, bool or integer column: one value per row.
	ColumnCategorical ColumnKind = iota + 1
	// ColumnMulti is a list<string|int> column: any number of values per row.
	ColumnMulti
	// ColumnContinuous is a float column.
	ColumnContinuous
)

// Column is one feature column of a users or items table, row-aligned with it.
type Column struct {
	Name string
	Kind ColumnKind
	// Values is the vocabulary of distinct values of a categorical or
	// multi-valued column (its kind follows the file's value type; bools are
	// the strings "true"/"false").
	Values *Vocab
	// Offsets and Codes hold a categorical or multi-valued column in CSR form:
	// row r's values are Codes[Offsets[r]:Offsets[r+1]] (indices into Values;
	// a null categorical cell is an empty row). len(Offsets) == rows+1.
	Offsets []int32
	Codes   []int32
	// Floats holds a continuous column, one value per row; NaN marks null.
	Floats []float64
}

// Table is a users or items table: one row per key, plus feature columns.
type Table struct {
	Keys    *Vocab // row r has id Keys.ID(r); user_id or item_id
	Columns []Column
}

// Rows is the number of rows.
func (t *Table) Rows() int { return t.Keys.Len() }

// Compact returns the clicks of c re-indexed over vocabularies that hold
// only the ids the clicks use, each in order of first appearance: the
// vocabularies ReadClicks gives for a file that WriteClicks wrote from c.
// A model trained on the compacted clicks is the one trained on that file.
func (c *Clicks) Compact() *Clicks {
	out := &Clicks{Users: NewVocab(c.Users.Kind()), Items: NewVocab(c.Items.Kind()),
		User: make([]int32, len(c.User)), Item: make([]int32, len(c.Item)), TS: slices.Clone(c.TS)}
	remap := func(dst *Vocab, src *Vocab, from, to []int32) {
		idx := make([]int32, src.Len())
		for i := range idx {
			idx[i] = -1
		}
		for k, i := range from {
			if idx[i] < 0 {
				idx[i] = dst.addOwned(src.ID(i)) // already canonical
			}
			to[k] = idx[i]
		}
	}
	remap(out.Users, c.Users, c.User, out.User)
	remap(out.Items, c.Items, c.Item, out.Item)
	return out
}
