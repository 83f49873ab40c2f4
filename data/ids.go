package data

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/ralmlab/ralm/internal/enum"
)

// Unknown says what a reader does with an id that is not in a vocabulary the
// caller passed in.
type Unknown uint8

// Unknown-id policies.
const (
	// UnknownAdd appends the id to the vocabulary (existing indices never
	// change). This is the default.
	UnknownAdd Unknown = iota
	// UnknownSkip drops the row and counts it in ReadStats.
	UnknownSkip
	// UnknownError fails the read with an error naming the row and the id.
	UnknownError
)

// unknownNames are the names of the policies.
var unknownNames = []string{UnknownAdd: "add", UnknownSkip: "skip", UnknownError: "error"}

// String names the policy.
func (u Unknown) String() string { return enum.Name("Unknown", u, unknownNames) }

// Codes an encoder writes for rows that have no index.
const (
	codeUnknown int32 = -1 // id not in the vocabulary (UnknownSkip)
	codeNull    int32 = -2 // null cell
)

// idKindOf returns the vocabulary kind for an arrow id/value type, or 0 if
// the type cannot hold ids. Bools count as strings ("true"/"false").
func idKindOf(t arrow.DataType) IDKind {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return IDInt64
	case arrow.STRING, arrow.LARGE_STRING, arrow.BOOL:
		return IDString
	case arrow.DICTIONARY:
		return idKindOf(t.(*arrow.DictionaryType).ValueType)
	}
	return 0
}

// rowIDError reports the id of one row of an id column: missing from a
// vocabulary under UnknownError (err nil), or refused by the id rules of
// CanonicalID (err says why).
type rowIDError struct {
	row int
	id  string
	err error
}

func (e *rowIDError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("row %d: %v", e.row, e.err)
	}
	return fmt.Sprintf("row %d: unknown id %q", e.row, e.id)
}

func (e *rowIDError) Unwrap() error { return e.err }

// idEncoder maps the cells of id or value columns to vocabulary indices.
type idEncoder struct {
	v      *Vocab
	policy Unknown
	// dictionary cache: index in the current dictionary → vocab index
	// (codeUncached when not yet looked up).
	dict      arrow.Array
	dictCodes []int32
	// The code of the last integer id seen (codeUncached when none): a run
	// of the same id (clicks grouped by user) costs a comparison.
	lastID   int64
	lastCode int32
	// touched keeps the loads of encodeInt64s from being optimised away.
	touched int32
	// ids says that the column holds external ids (not feature values): a
	// string id is added only if it passes the one id validator,
	// CanonicalID (int64 ids always do), so a model never holds an id the
	// serving engine would refuse.
	ids bool
}

// newIDEncoder is an encoder for a column of external ids (see
// idEncoder.ids) that are added to v.
func newIDEncoder(v *Vocab) *idEncoder {
	return &idEncoder{v: v, policy: UnknownAdd, lastCode: codeUncached, ids: true}
}

// newEncoder is an encoder that meets ids missing from v by policy; ids,
// that the column holds external ids (see idEncoder.ids).
func newEncoder(v *Vocab, policy Unknown, ids bool) *idEncoder {
	return &idEncoder{v: v, policy: policy, lastCode: codeUncached, ids: ids}
}

// intCodes maps int64 ids to int32 codes: an open-addressing hash table
// with linear probing (Fibonacci hashing), kept at most half full. It is
// about twice as fast as a Go map on a click log's id columns.
type intCodes struct {
	slots []intSlot
	n     int  // codes stored
	shift uint // 64 - log2(len(slots))
}

type intSlot struct {
	id   int64
	code int32 // codeUncached marks a free slot
}

func newIntCodes() *intCodes { return newIntCodesFor(0) }

// newIntCodesFor returns an empty table with room for n codes.
func newIntCodesFor(n int) *intCodes {
	size := 1 << 10
	for size < 2*n {
		size *= 2
	}
	t := &intCodes{}
	t.resize(size)
	return t
}

// clone returns an independent copy of t.
func (t *intCodes) clone() *intCodes {
	c := *t
	c.slots = slices.Clone(t.slots)
	return &c
}

func (t *intCodes) resize(size int) {
	old := t.slots
	t.slots = make([]intSlot, size)
	for i := range t.slots {
		t.slots[i].code = codeUncached
	}
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	t.n = 0
	for _, s := range old {
		if s.code != codeUncached {
			t.put(s.id, s.code)
		}
	}
}

func (t *intCodes) home(id int64) int {
	return int((uint64(id) * 0x9E3779B97F4A7C15) >> t.shift)
}

// get returns the code of id, or codeUncached when it has none.
func (t *intCodes) get(id int64) int32 {
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.id == id || s.code == codeUncached {
			return s.code
		}
	}
}

// put stores the code of id (not already stored); code must not be
// codeUncached.
func (t *intCodes) put(id int64, code int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	mask := len(t.slots) - 1
	i := t.home(id)
	for t.slots[i].code != codeUncached {
		i = (i + 1) & mask
	}
	t.slots[i] = intSlot{id: id, code: code}
	t.n++
}

const codeUncached int32 = math.MinInt32

// encode writes the vocabulary index of every cell of arr to out
// (len(out) == arr.Len()): codeNull for null cells, codeUnknown for unknown
// ids under UnknownSkip. Under UnknownError, or for an id the id rules
// refuse, it returns a *rowIDError with the row relative to arr.
func (e *idEncoder) encode(arr arrow.Array, out []int32) error {
	switch a := arr.(type) {
	case *array.String:
		return encodeStrings(e, a, out, a.Value)
	case *array.LargeString:
		return encodeStrings(e, a, out, a.Value)
	case *array.Boolean:
		return encodeStrings(e, a, out, func(i int) string { return strconv.FormatBool(a.Value(i)) })
	case *array.Int64:
		if e.v.ints != nil {
			return e.encodeInt64s(a, out)
		}
		return encodeInts(e, a, out, a.Value)
	case *array.Int32:
		return encodeInts(e, a, out, func(i int) int64 { return int64(a.Value(i)) })
	case *array.Int16:
		return encodeInts(e, a, out, func(i int) int64 { return int64(a.Value(i)) })
	case *array.Int8:
		return encodeInts(e, a, out, func(i int) int64 { return int64(a.Value(i)) })
	case *array.Uint32:
		return encodeInts(e, a, out, func(i int) int64 { return int64(a.Value(i)) })
	case *array.Uint16:
		return encodeInts(e, a, out, func(i int) int64 { return int64(a.Value(i)) })
	case *array.Uint8:
		return encodeInts(e, a, out, func(i int) int64 { return int64(a.Value(i)) })
	case *array.Uint64:
		for i := range out {
			if a.IsNull(i) {
				out[i] = codeNull
				continue
			}
			x := a.Value(i)
			if x > math.MaxInt64 {
				return fmt.Errorf("row %d: id %d overflows int64", i, x)
			}
			c, err := e.int(int64(x), i)
			if err != nil {
				return err
			}
			out[i] = c
		}
	case *array.Dictionary:
		return e.encodeDict(a, out)
	default:
		return fmt.Errorf("unsupported id type %s", arr.DataType())
	}
	return nil
}

// encodeStrings is encode for a column of string ids: value(i) is row i's.
func encodeStrings(e *idEncoder, a arrow.Array, out []int32, value func(int) string) error {
	for i := range out {
		if a.IsNull(i) {
			out[i] = codeNull
			continue
		}
		c, err := e.str(value(i), i)
		if err != nil {
			return err
		}
		out[i] = c
	}
	return nil
}

func encodeInts(e *idEncoder, a arrow.Array, out []int32, value func(int) int64) error {
	for i := range out {
		if a.IsNull(i) {
			out[i] = codeNull
			continue
		}
		c, err := e.int(value(i), i)
		if err != nil {
			return err
		}
		out[i] = c
	}
	return nil
}

// encodeInt64s is encodeInts for an int64 column and an int64 vocabulary.
// A large vocabulary's table outgrows the caches, and a lookup waits for
// memory: so the ids are looked up in groups, each group's slots touched
// first by a loop of independent loads that the CPU overlaps (at 1M users,
// a third less time per lookup than one lookup after another).
func (e *idEncoder) encodeInt64s(a *array.Int64, out []int32) error {
	const group = 32
	vals := a.Int64Values()
	var touched int32
	for lo := 0; lo < len(out); lo += group {
		hi := min(lo+group, len(out))
		t := e.v.ints // replaced when the table grows
		for _, x := range vals[lo:hi] {
			touched |= t.slots[t.home(x)].code
		}
		for i := lo; i < hi; i++ {
			if a.IsNull(i) {
				out[i] = codeNull
				continue
			}
			c, err := e.int(vals[i], i)
			if err != nil {
				return err
			}
			out[i] = c
		}
	}
	e.touched = touched
	return nil
}

func (e *idEncoder) encodeDict(a *array.Dictionary, out []int32) error {
	d := a.Dictionary()
	if d != e.dict {
		e.dict = d
		e.dictCodes = e.dictCodes[:0]
		for range d.Len() {
			e.dictCodes = append(e.dictCodes, codeUncached)
		}
	}
	one := make([]int32, 1)
	for i := range out {
		if a.IsNull(i) {
			out[i] = codeNull
			continue
		}
		k := a.GetValueIndex(i)
		if k < 0 || k >= len(e.dictCodes) {
			return fmt.Errorf("row %d: dictionary index %d out of range", i, k)
		}
		c := e.dictCodes[k]
		if c == codeUncached {
			one1 := array.NewSlice(d, int64(k), int64(k+1))
			err := e.encode(one1, one)
			one1.Release()
			if err != nil {
				if u, ok := err.(*rowIDError); ok {
					u.row = i
				}
				return err
			}
			c = one[0]
			e.dictCodes[k] = c
		}
		out[i] = c
	}
	return nil
}

// str maps one string id (which may alias an arrow buffer).
func (e *idEncoder) str(s string, row int) (int32, error) {
	if c, ok := e.v.Index(s); ok {
		return c, nil
	}
	return e.miss(s, row, true)
}

// int maps one integer id (in a string vocabulary, its decimal spelling).
func (e *idEncoder) int(x int64, row int) (int32, error) {
	if x == e.lastID && e.lastCode != codeUncached {
		return e.lastCode, nil
	}
	c, ok := e.v.lookupInt(x)
	if !ok {
		var err error
		if c, err = e.missInt(x, row); err != nil {
			return 0, err
		}
	}
	e.lastID, e.lastCode = x, c
	return c, nil
}

// missInt is miss for the int64 id x.
func (e *idEncoder) missInt(x int64, row int) (int32, error) {
	if e.policy == UnknownAdd && e.v.ints != nil {
		return e.v.addInt(x, strconv.FormatInt(x, 10)), nil
	}
	return e.miss(strconv.FormatInt(x, 10), row, false)
}

func (e *idEncoder) miss(s string, row int, aliased bool) (int32, error) {
	switch e.policy {
	case UnknownSkip:
		return codeUnknown, nil
	case UnknownError:
		return 0, &rowIDError{row: row, id: s}
	}
	if e.ids || e.v.kind == IDInt64 {
		c, err := CanonicalID(e.v.kind, s)
		if err != nil {
			return 0, &rowIDError{row: row, id: s, err: err}
		}
		if c != s {
			// An int64 vocabulary holds "7", which s ("007") spells
			// another way.
			if i, ok := e.v.Index(c); ok {
				return i, nil
			}
			s, aliased = c, false
		}
	}
	if aliased {
		s = strings.Clone(s)
	}
	return e.v.addOwned(s), nil
}

// AppendID appends an external id to an id column builder of kind k (an
// *array.Int64Builder for IDInt64, an *array.StringBuilder otherwise; see
// IDType): the one id-column writer for tables other packages build with
// WriteRecords. It fails for an int64 id that does not parse, or a builder
// of the wrong type.
func AppendID(b array.Builder, k IDKind, id string) error {
	switch bb := b.(type) {
	case *array.Int64Builder:
		if k != IDInt64 {
			return fmt.Errorf("id %q: int64 builder for %s ids", id, k)
		}
		x, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return fmt.Errorf("id %q is not an int64", id)
		}
		bb.Append(x)
	case *array.StringBuilder:
		if k == IDInt64 {
			return fmt.Errorf("id %q: string builder for int64 ids", id)
		}
		bb.Append(id)
	default:
		return fmt.Errorf("id %q: unsupported id column builder %T", id, b)
	}
	return nil
}
