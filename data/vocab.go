package data

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ralmlab/ralm/internal/enum"
)

// idKindNames are the names of the id kinds.
var idKindNames = []string{IDInt64: "int64", IDString: "string"}

// String names the id kind ("int64" or "string").
func (k IDKind) String() string { return enum.Name("IDKind", k, idKindNames) }

// MaxIDBytes is the longest external id CanonicalID accepts, in bytes.
const MaxIDBytes = 256

// ErrIDRange is matched (errors.Is) by CanonicalID's error for an int64 id
// that is a decimal integer outside the int64 range.
var ErrIDRange = errors.New("out of the int64 range")

// CanonicalID validates an external id of the given kind and returns its
// canonical spelling: the one id validator of the project (the serving
// engine, the HTTP server and the CLI use it, and the readers of id
// columns and NewClicks apply it to every id they add, so a model holds
// only ids the engine accepts). An id must be non-empty, at
// most MaxIDBytes bytes of valid UTF-8 without control characters; an
// int64 id must be a decimal integer in the int64 range and is returned in
// canonical decimal form ("007" → "7"). Error messages quote at most 64
// bytes of the id.
func CanonicalID(kind IDKind, id string) (string, error) {
	switch {
	case id == "":
		return "", errors.New("empty id")
	case len(id) > MaxIDBytes:
		return "", fmt.Errorf("id is %d bytes long (max %d)", len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return "", errors.New("id is not valid UTF-8")
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return "", fmt.Errorf("id %s holds a control character", quoteID(id))
	}
	if kind != IDInt64 {
		return id, nil
	}
	x, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return "", fmt.Errorf("id %s is %w", quoteID(id), ErrIDRange)
		}
		return "", fmt.Errorf("id %s is not an int64", quoteID(id))
	}
	return strconv.FormatInt(x, 10), nil
}

// quoteID quotes id for an error message, cut to its first 64 bytes.
func quoteID(id string) string {
	if len(id) > 64 {
		return strconv.Quote(id[:64]) + "..."
	}
	return strconv.Quote(id)
}

// CompareIDs orders two external ids of the given kind: the one id order of
// the project. int64 ids compare as numbers (an id that does not parse sorts
// after every number, byte-wise among such ids), string ids byte-wise.
func CompareIDs(kind IDKind, a, b string) int {
	if kind == IDInt64 {
		x, errx := strconv.ParseInt(a, 10, 64)
		y, erry := strconv.ParseInt(b, 10, 64)
		switch {
		case errx == nil && erry == nil:
			return cmp.Compare(x, y)
		case errx == nil:
			return -1
		case erry == nil:
			return 1
		}
	}
	return strings.Compare(a, b)
}

// Compare orders two indices of v by their external ids (CompareIDs).
func (v *Vocab) Compare(a, b int32) int { return CompareIDs(v.kind, v.ids[a], v.ids[b]) }

// Ranks returns, for each index of v, the position of its id in id order
// (CompareIDs). It fails if an int64 vocabulary holds an id that is not a
// decimal integer.
func (v *Vocab) Ranks() ([]int32, error) {
	n := len(v.ids)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	if v.kind == IDInt64 {
		num := make([]int64, n)
		for i, id := range v.ids {
			x, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("id %q at index %d is not an int64", id, i)
			}
			num[i] = x
		}
		slices.SortFunc(idx, func(a, b int32) int { return cmp.Compare(num[a], num[b]) })
	} else {
		slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(v.ids[a], v.ids[b]) })
	}
	rank := make([]int32, n)
	for r, i := range idx {
		rank[i] = int32(r)
	}
	return rank, nil
}

// Clone returns an independent copy of v: adding ids to the copy leaves v
// unchanged. The id strings themselves are shared (they are immutable).
func (v *Vocab) Clone() *Vocab {
	c := &Vocab{kind: v.kind, ids: slices.Clone(v.ids)}
	if v.ints != nil {
		c.ints = v.ints.clone()
	} else {
		c.index = make(map[string]int32, len(v.ids))
		for i, id := range c.ids {
			c.index[id] = int32(i)
		}
	}
	return c
}

// IDs returns the external ids in index order. The slice is shared with the
// vocabulary: do not modify it.
func (v *Vocab) IDs() []string { return v.ids }

// Int64 returns the id of index i parsed as an int64. It fails for a string
// vocabulary whose id is not a decimal integer.
func (v *Vocab) Int64(i int32) (int64, error) {
	return strconv.ParseInt(v.ids[i], 10, 64)
}

// lookupInt returns the index of the int64 id x; in a string vocabulary,
// of its decimal spelling.
func (v *Vocab) lookupInt(x int64) (int32, bool) {
	if v.ints != nil {
		c := v.ints.get(x)
		return c, c != codeUncached
	}
	var buf [20]byte
	i, ok := v.index[string(strconv.AppendInt(buf[:0], x, 10))]
	return i, ok
}

// addOwned adds id, which must not alias memory that may change (arrow
// buffers are copied by the caller with strings.Clone) and must not be in
// v; in an int64 vocabulary it must be canonical (CanonicalID).
func (v *Vocab) addOwned(id string) int32 {
	if v.ints != nil {
		x, ok := parseCanonicalInt(id)
		if !ok {
			panic(fmt.Sprintf("data: %q added to an int64 vocabulary", id))
		}
		return v.addInt(x, id)
	}
	i := int32(len(v.ids))
	v.ids = append(v.ids, id)
	v.index[id] = i
	return i
}

// addInt adds the id x, spelled id (canonical), to an int64 vocabulary
// that does not hold it.
func (v *Vocab) addInt(x int64, id string) int32 {
	i := int32(len(v.ids))
	v.ids = append(v.ids, id)
	v.ints.put(x, i)
	return i
}

// truncate removes the ids added after the first n (used to undo a failed
// read's additions to a caller's vocabulary).
func (v *Vocab) truncate(n int) {
	if v.ints != nil {
		// Rebuilt from the ids kept: an error path, linear in them.
		v.ints = newIntCodesFor(n)
		for i, id := range v.ids[:n] {
			x, _ := parseCanonicalInt(id)
			v.ints.put(x, int32(i))
		}
	} else {
		for _, id := range v.ids[n:] {
			delete(v.index, id)
		}
	}
	clear(v.ids[n:])
	v.ids = v.ids[:n]
}

// parseCanonicalInt parses id as an int64 spelled the way CanonicalID
// spells it (strconv.FormatInt: no sign but a minus, no leading zeros, no
// "-0"); ok is false for any other string.
func parseCanonicalInt(id string) (x int64, ok bool) {
	if len(id) == 0 || len(id) > 20 {
		return 0, false
	}
	x, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, false
	}
	digits := id
	if digits[0] == '-' {
		digits = digits[1:]
		if digits == "0" {
			return 0, false
		}
	}
	if digits == "" || digits[0] == '+' || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	return x, true
}

// vocabMagic starts every serialized vocabulary; the byte after it is the
// format version.
const (
	vocabMagic   = "RALMVOC"
	vocabVersion = 1
)

// MarshalBinary encodes the vocabulary in a stable, versioned format:
// "RALMVOC", version byte (1), kind byte, uvarint count, then for each id in
// index order its uvarint length and bytes, and finally a little-endian
// CRC-32 (IEEE) of everything before it.
func (v *Vocab) MarshalBinary() ([]byte, error) {
	if v.kind != IDInt64 && v.kind != IDString {
		return nil, fmt.Errorf("marshal vocab: invalid id kind %d", v.kind)
	}
	n := len(vocabMagic) + 2 + binary.MaxVarintLen64
	for _, id := range v.ids {
		n += binary.MaxVarintLen64 + len(id)
	}
	b := make([]byte, 0, n+4)
	b = append(b, vocabMagic...)
	b = append(b, vocabVersion, byte(v.kind))
	b = binary.AppendUvarint(b, uint64(len(v.ids)))
	for _, id := range v.ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

// UnmarshalBinary decodes a vocabulary written by MarshalBinary, replacing
// the contents of v. It checks the checksum, the kind, that int64 ids are
// canonical decimal integers and that no id repeats.
func (v *Vocab) UnmarshalBinary(b []byte) error {
	if len(b) < len(vocabMagic)+2+4 || string(b[:len(vocabMagic)]) != vocabMagic {
		return errors.New("unmarshal vocab: not a ralm vocabulary")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return errors.New("unmarshal vocab: checksum mismatch (corrupt data)")
	}
	r := decoder{b: body[len(vocabMagic):]}
	if ver := r.byte(); ver != vocabVersion {
		return fmt.Errorf("unmarshal vocab: unsupported version %d", ver)
	}
	nv, err := decodeVocabBody(&r)
	if err != nil {
		return fmt.Errorf("unmarshal vocab: %w", err)
	}
	if len(r.b) != 0 && r.err == nil {
		return errors.New("unmarshal vocab: trailing bytes")
	}
	*v = *nv
	return nil
}

// decodeVocabBody reads kind, count and ids (the part of the format after
// the version byte).
func decodeVocabBody(r *decoder) (*Vocab, error) {
	kind := IDKind(r.byte())
	n := r.uvarint()
	if r.err != nil {
		return nil, r.err
	}
	if kind != IDInt64 && kind != IDString {
		return nil, fmt.Errorf("invalid id kind %d", kind)
	}
	if n > uint64(len(r.b)) { // every id takes at least one byte
		return nil, errors.New("id count exceeds data")
	}
	v := newVocab(kind, int(n))
	for i := uint64(0); i < n; i++ {
		id := r.string()
		if r.err != nil {
			return nil, r.err
		}
		if kind == IDInt64 {
			x, ok := parseCanonicalInt(id)
			if !ok {
				return nil, fmt.Errorf("id %d: %q is not a canonical int64", i, id)
			}
			if _, dup := v.lookupInt(x); dup {
				return nil, fmt.Errorf("id %d: %q repeats", i, id)
			}
			v.addInt(x, id)
			continue
		}
		if _, dup := v.index[id]; dup {
			return nil, fmt.Errorf("id %d: %q repeats", i, id)
		}
		v.addOwned(id)
	}
	return v, nil
}

// encodeVocabBody appends kind, count and ids (the inverse of decodeVocabBody).
func encodeVocabBody(b []byte, v *Vocab) []byte {
	b = append(b, byte(v.kind))
	b = binary.AppendUvarint(b, uint64(len(v.ids)))
	for _, id := range v.ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	return b
}

// decoder reads the little binary formats of this package; the first error
// sticks and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated data reading %s", what)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return x
}

// count reads a uvarint that sizes something of at least minBytes bytes per
// element still to come, so corrupt input cannot trigger a huge allocation.
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if minBytes < 1 {
		minBytes = 1
	}
	if n > uint64(len(d.b)/minBytes) {
		d.err = fmt.Errorf("corrupt data: count %d exceeds remaining %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string")
		return ""
	}
	s := strings.Clone(string(d.b[:n]))
	d.b = d.b[n:]
	return s
}

func (d *decoder) uint32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail("uint32")
		return 0
	}
	x := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return x
}

func (d *decoder) uint64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail("uint64")
		return 0
	}
	x := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return x
}
