package data

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
	kind  IDKind
	ids   []string
	index map[string]int32
}

// NewVocab returns an empty vocabulary for ids of the given kind.
func NewVocab(kind IDKind) *Vocab {
	return &Vocab{kind: kind, index: make(map[string]int32)}
}

// Kind reports whether the ids are int64 or strings.
func (v *Vocab) Kind() IDKind { return v.kind }

// Len is the number of ids.
func (v *Vocab) Len() int { return len(v.ids) }

// Add returns the index of id, adding it if new.
func (v *Vocab) Add(id string) int32 {
	if i, ok := v.index[id]; ok {
		return i
	}
	i := int32(len(v.ids))
	v.ids = append(v.ids, id)
	v.index[id] = i
	return i
}

// Index returns the dense index of id and whether it is known.
func (v *Vocab) Index(id string) (int32, bool) {
	i, ok := v.index[id]
	return i, ok
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
// Bags[f] holds the ids of bag field f (nil for continuous fields and empty bags);
// Values[f] holds the scaled value of continuous field f (0 for bag fields).
type Features struct {
	Bags   [][]int32
	Values []float32
}
