package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

const (
	featureSetMagic   = "RALMFS"
	featureSetVersion = 1
)

// appendFeatureHead appends the header of an item or user feature (read
// back by unmarshalFeatureSet).
func appendFeatureHead(b []byte, field int, name string, kind ColumnKind) []byte {
	b = binary.AppendUvarint(b, uint64(field))
	b = appendString(b, name)
	return append(b, byte(kind))
}

// MarshalBinary encodes the feature set (item vocabulary, fields, the
// per-item encodings, the per-user encodings and the users' key vocabulary,
// the training vocabularies and scaling) in a stable, versioned format
// ending with a CRC-32, for saving with a model.
func (fs *FeatureSet) MarshalBinary() ([]byte, error) {
	b := []byte(featureSetMagic)
	b = append(b, featureSetVersion)
	b = encodeVocabBody(b, fs.items)
	b = binary.AppendUvarint(b, uint64(len(fs.fields)))
	for _, f := range fs.fields {
		b = appendString(b, f.Name)
		b = append(b, byte(f.Kind))
		b = binary.AppendUvarint(b, uint64(f.Size))
	}
	b = binary.AppendUvarint(b, uint64(len(fs.itemFeats)))
	for _, f := range fs.itemFeats {
		b = appendFeatureHead(b, f.field, f.name, f.kind)
		switch f.kind {
		case ColumnContinuous:
			b = appendFloat32(b, f.def)
			b = appendFloat32s(b, f.scaled)
		default:
			b = appendCSR(b, f.offsets, f.codes)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(fs.userFeats)))
	for _, f := range fs.userFeats {
		b = appendFeatureHead(b, f.field, f.name, f.kind)
		switch f.kind {
		case ColumnContinuous:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.min))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.max))
			b = appendFloat32(b, f.def)
			b = appendFloat32s(b, f.scaled)
		default:
			b = encodeVocabBody(b, f.values)
			b = appendCSR(b, f.offsets, f.codes)
		}
	}
	if fs.userRows != nil {
		b = append(b, 1)
		b = encodeVocabBody(b, fs.userRows)
	} else {
		b = append(b, 0)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

// UnmarshalBinary decodes a feature set written by MarshalBinary, replacing
// the receiver's contents. Corrupt data gives an error, never a panic: every
// index is checked so Build cannot go out of range.
func (fs *FeatureSet) UnmarshalBinary(data []byte) error {
	n, err := unmarshalFeatureSet(data)
	if err != nil {
		return fmt.Errorf("unmarshal feature set: %w", err)
	}
	*fs = *n
	return nil
}

func unmarshalFeatureSet(data []byte) (*FeatureSet, error) {
	if len(data) < len(featureSetMagic)+1+4 || string(data[:len(featureSetMagic)]) != featureSetMagic {
		return nil, errors.New("not a ralm feature set")
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, errors.New("checksum mismatch (corrupt data)")
	}
	d := &decoder{b: body[len(featureSetMagic):]}
	if v := d.byte(); v != featureSetVersion {
		return nil, fmt.Errorf("unsupported version %d", v)
	}
	fs := &FeatureSet{}
	var err error
	if fs.items, err = decodeVocabBody(d); err != nil {
		return nil, fmt.Errorf("item vocabulary: %w", err)
	}
	nf := d.count(3)
	fs.fields = make([]Field, nf)
	for i := range fs.fields {
		fs.fields[i] = Field{Name: d.string(), Kind: FieldKind(d.byte()), Size: int(d.uvarint())}
		if d.err != nil {
			return nil, d.err
		}
		if f := fs.fields[i]; (f.Kind != FieldBag && f.Kind != FieldContinuous) || f.Size > math.MaxInt32 {
			return nil, fmt.Errorf("field %d: invalid kind %d or size %d", i, f.Kind, f.Size)
		}
	}
	if nf == 0 || fs.fields[0].Kind != FieldBag || fs.fields[0].Size != fs.items.Len() {
		return nil, errors.New("field 0 is not the items bag")
	}
	used := make([]bool, nf)
	used[0] = true
	claim := func(field int, kind ColumnKind) error {
		if field <= 0 || field >= nf || used[field] {
			return fmt.Errorf("invalid or repeated field index %d", field)
		}
		used[field] = true
		want := FieldBag
		if kind == ColumnContinuous {
			want = FieldContinuous
		} else if kind != ColumnCategorical && kind != ColumnMulti {
			return fmt.Errorf("field %d: invalid column kind %d", field, kind)
		}
		if fs.fields[field].Kind != want {
			return fmt.Errorf("field %d: kind mismatch", field)
		}
		return nil
	}
	// head reads and claims the header of an item or user feature.
	head := func() (field int, name string, kind ColumnKind, err error) {
		field, name, kind = int(d.uvarint()), d.string(), ColumnKind(d.byte())
		if d.err != nil {
			return 0, "", 0, d.err
		}
		return field, name, kind, claim(field, kind)
	}
	nItems := fs.items.Len()
	ni := d.count(3)
	for range ni {
		field, name, kind, err := head()
		if err != nil {
			return nil, err
		}
		f := itemFeature{field: field, name: name, kind: kind}
		if f.kind == ColumnContinuous {
			f.def = d.float32()
			f.scaled = d.float32s()
			if d.err == nil && len(f.scaled) != nItems {
				return nil, fmt.Errorf("field %d: %d values for %d items", f.field, len(f.scaled), nItems)
			}
		} else {
			f.offsets, f.codes = d.csr(nItems, fs.fields[f.field].Size)
		}
		if d.err != nil {
			return nil, fmt.Errorf("field %d: %w", f.field, d.err)
		}
		fs.itemFeats = append(fs.itemFeats, f)
	}
	nu := d.count(3)
	var rowsNeeded []int
	for range nu {
		field, name, kind, err := head()
		if err != nil {
			return nil, err
		}
		f := userFeature{field: field, name: name, kind: kind}
		if f.kind == ColumnContinuous {
			f.min = math.Float64frombits(d.uint64())
			f.max = math.Float64frombits(d.uint64())
			f.def = d.float32()
			f.scaled = d.float32s()
			rowsNeeded = append(rowsNeeded, len(f.scaled))
		} else {
			if f.values, err = decodeVocabBody(d); err != nil {
				return nil, fmt.Errorf("field %d vocabulary: %w", f.field, err)
			}
			if f.values.Len() != fs.fields[f.field].Size {
				return nil, fmt.Errorf("field %d: vocabulary of %d for size %d", f.field, f.values.Len(), fs.fields[f.field].Size)
			}
			f.offsets, f.codes = d.csr(-1, f.values.Len())
			rowsNeeded = append(rowsNeeded, len(f.offsets)-1)
		}
		if d.err != nil {
			return nil, fmt.Errorf("field %d: %w", f.field, d.err)
		}
		fs.userFeats = append(fs.userFeats, f)
	}
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("field %d has no encoding", i)
		}
	}
	switch d.byte() {
	case 0:
		if len(fs.userFeats) > 0 {
			return nil, errors.New("user features without a users key vocabulary")
		}
	case 1:
		if fs.userRows, err = decodeVocabBody(d); err != nil {
			return nil, fmt.Errorf("users vocabulary: %w", err)
		}
		for _, r := range rowsNeeded {
			if r != fs.userRows.Len() {
				return nil, fmt.Errorf("user feature has %d rows for %d users", r, fs.userRows.Len())
			}
		}
	default:
		return nil, errors.New("corrupt users flag")
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("trailing bytes")
	}
	return fs, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFloat32(b []byte, x float32) []byte {
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
}

func appendFloat32s(b []byte, xs []float32) []byte {
	b = binary.AppendUvarint(b, uint64(len(xs)))
	for _, x := range xs {
		b = appendFloat32(b, x)
	}
	return b
}

// appendCSR writes offsets as deltas and the codes, all as uvarints.
func appendCSR(b []byte, offsets, codes []int32) []byte {
	b = binary.AppendUvarint(b, uint64(len(offsets)-1))
	for i := 1; i < len(offsets); i++ {
		b = binary.AppendUvarint(b, uint64(offsets[i]-offsets[i-1]))
	}
	for _, c := range codes {
		b = binary.AppendUvarint(b, uint64(c))
	}
	return b
}

func (d *decoder) float32() float32 { return math.Float32frombits(d.uint32()) }

func (d *decoder) float32s() []float32 {
	n := d.count(4)
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = d.float32()
	}
	return xs
}

// csr reads what appendCSR wrote, checking the row count (unless rows < 0)
// and that every code is below size.
func (d *decoder) csr(rows, size int) (offsets, codes []int32) {
	n := d.count(1)
	if d.err != nil {
		return nil, nil
	}
	if rows >= 0 && n != rows {
		d.err = fmt.Errorf("%d rows, want %d", n, rows)
		return nil, nil
	}
	offsets = make([]int32, n+1)
	var total uint64
	for i := 1; i <= n; i++ {
		total += d.uvarint()
		if total > uint64(len(d.b)) { // each code takes at least one byte
			d.fail("codes")
			return nil, nil
		}
		offsets[i] = int32(total)
	}
	codes = make([]int32, total)
	for i := range codes {
		c := d.uvarint()
		if d.err == nil && c >= uint64(size) {
			d.err = fmt.Errorf("code %d outside vocabulary of %d", c, size)
		}
		codes[i] = int32(c)
	}
	return offsets, codes
}
