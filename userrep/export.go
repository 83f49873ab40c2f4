package userrep

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/ralmlab/ralm/data"

	"github.com/ralmlab/ralm/internal/atomicfile"
)

// Model file layout (all integers little-endian):
//
//	magic      8 bytes  "RALMUREP"
//	version    uint32   FileVersion
//	header     uint32 length + JSON (fileHeader): config, fields, item
//	           count, the weight tensors in order with their shapes
//	items      uint64 length + data.Vocab binary (the item vocabulary)
//	features   uint64 length + data.FeatureSet binary (0 length: none)
//	weights    float32 values of every tensor of the header, in order
//	checksum   SHA-256 of everything above
const (
	fileMagic = "RALMUREP"
	// FileVersion is the model file format version this build writes and reads.
	FileVersion = 1
)

// fileHeader is the JSON header of a model file.
type fileHeader struct {
	Config   Config       `json:"config"`
	Fields   []data.Field `json:"fields"`
	NumItems int          `json:"num_items"`
	Tensors  []fileTensor `json:"tensors"`
	Features string       `json:"features"` // "data.FeatureSet" or ""
}

// fileTensor names one weight tensor of the file.
type fileTensor struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// tensors lists every weight of the model in file order, with its values.
func (p *params[T]) tensors() ([]fileTensor, [][]T) {
	l := p.lay
	var ts []fileTensor
	var vals [][]T
	for _, s := range l.spans {
		ts = append(ts, fileTensor{s.name, s.shape})
		vals = append(vals, p.get(s))
	}
	for f := range l.fields {
		if r := l.tableRows(f); r > 0 {
			ts = append(ts, fileTensor{fmt.Sprintf("field%d.table", f), []int{r, l.m}})
			vals = append(vals, p.tables[f])
		}
	}
	ts = append(ts, fileTensor{"items.out", []int{l.nItems, l.d}})
	vals = append(vals, p.out)
	ts = append(ts, fileTensor{"items.bias", []int{l.nItems}})
	vals = append(vals, p.bias)
	return ts, vals
}

// MarshalBinary encodes the model in the versioned model file format.
func (m *Model) MarshalBinary() ([]byte, error) {
	ts, vals := m.p.tensors()
	hdr := fileHeader{Config: m.lay.cfg, Fields: m.lay.fields, NumItems: m.lay.nItems, Tensors: ts}
	var feat []byte
	if m.fb != nil {
		if bm, ok := m.fb.(encoding.BinaryMarshaler); ok {
			if _, isFS := m.fb.(*data.FeatureSet); isFS {
				hdr.Features = "data.FeatureSet"
			} else {
				hdr.Features = fmt.Sprintf("%T", m.fb)
			}
			var err error
			if feat, err = bm.MarshalBinary(); err != nil {
				return nil, fmt.Errorf("userrep: encode features: %w", err)
			}
		}
	}
	hj, err := json.Marshal(hdr)
	if err != nil {
		return nil, fmt.Errorf("userrep: encode header: %w", err)
	}
	items, err := m.items.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("userrep: encode item vocabulary: %w", err)
	}
	nw := 0
	for _, v := range vals {
		nw += len(v)
	}
	var b bytes.Buffer
	b.Grow(len(fileMagic) + 4 + 4 + len(hj) + 8 + len(items) + 8 + len(feat) + 4*nw + sha256.Size)
	b.WriteString(fileMagic)
	b.Write(binary.LittleEndian.AppendUint32(nil, FileVersion))
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(hj))))
	b.Write(hj)
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(items))))
	b.Write(items)
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(feat))))
	b.Write(feat)
	buf := make([]byte, 0, 4096)
	for _, v := range vals {
		for _, x := range v {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
			if len(buf) >= 4096-4 {
				b.Write(buf)
				buf = buf[:0]
			}
		}
	}
	b.Write(buf)
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), nil
}

// Save writes the model file to path atomically (internal/atomicfile: a
// temporary file in the same folder, synced and renamed into place, mode
// 0644).
func (m *Model) Save(path string) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("save user model %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(context.Background(), path, b); err != nil {
		return fmt.Errorf("save user model %s: %w", path, err)
	}
	return nil
}

// Load reads a model file written by Save. A file that is truncated,
// corrupt (checksum mismatch), of another format version or inconsistent
// gives an error.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load user model: %w", err)
	}
	m, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("load user model %s: %w", path, err)
	}
	return m, nil
}

// ErrNotModel is returned for data that does not start with the model magic.
var ErrNotModel = errors.New("not a userrep model file")

// Unmarshal decodes a model encoded by MarshalBinary.
func Unmarshal(b []byte) (*Model, error) {
	if len(b) < len(fileMagic)+4 || string(b[:len(fileMagic)]) != fileMagic {
		return nil, ErrNotModel
	}
	if v := binary.LittleEndian.Uint32(b[len(fileMagic):]); v != FileVersion {
		return nil, fmt.Errorf("unsupported model file version %d (this build reads version %d)", v, FileVersion)
	}
	if len(b) < len(fileMagic)+8+sha256.Size {
		return nil, errors.New("model file is truncated")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("model file checksum mismatch (file is corrupt or truncated)")
	}
	r := body[len(fileMagic)+4:]
	take := func(n uint64, what string) ([]byte, error) {
		if n > uint64(len(r)) {
			return nil, fmt.Errorf("model file is truncated in the %s", what)
		}
		out := r[:n]
		r = r[n:]
		return out, nil
	}
	hl, err := take(4, "header length")
	if err != nil {
		return nil, err
	}
	hj, err := take(uint64(binary.LittleEndian.Uint32(hl)), "header")
	if err != nil {
		return nil, err
	}
	var hdr fileHeader
	if err := json.Unmarshal(hj, &hdr); err != nil {
		return nil, fmt.Errorf("model file header: %w", err)
	}
	section := func(what string) ([]byte, error) {
		n, err := take(8, what+" length")
		if err != nil {
			return nil, err
		}
		return take(binary.LittleEndian.Uint64(n), what)
	}
	itemBytes, err := section("item vocabulary")
	if err != nil {
		return nil, err
	}
	featBytes, err := section("feature set")
	if err != nil {
		return nil, err
	}
	lay, err := newLayout(hdr.Config, hdr.Fields, hdr.NumItems)
	if err != nil {
		return nil, fmt.Errorf("model file header: %w", err)
	}
	// check the size before allocating anything the header asks for
	want := uint64(lay.denseLen) + uint64(lay.nItems)*uint64(lay.d+1)
	for f := range lay.fields {
		want += uint64(lay.tableRows(f)) * uint64(lay.m)
	}
	if want*4 != uint64(len(r)) {
		return nil, fmt.Errorf("model file has %d bytes of weights, its header implies %d", len(r), want*4)
	}
	p := newParams[float32](lay)
	ts, vals := p.tensors()
	if len(ts) != len(hdr.Tensors) {
		return nil, fmt.Errorf("model file lists %d tensors, its config implies %d", len(hdr.Tensors), len(ts))
	}
	for i, t := range ts {
		h := hdr.Tensors[i]
		if h.Name != t.Name || fmt.Sprint(h.Shape) != fmt.Sprint(t.Shape) {
			return nil, fmt.Errorf("model file tensor %d is %s%v, config implies %s%v", i, h.Name, h.Shape, t.Name, t.Shape)
		}
		raw, err := take(uint64(4*len(vals[i])), "weights of "+t.Name)
		if err != nil {
			return nil, err
		}
		for k := range vals[i] {
			vals[i][k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
		}
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("model file has %d unexpected trailing bytes", len(r))
	}
	items := new(data.Vocab)
	if err := items.UnmarshalBinary(itemBytes); err != nil {
		return nil, fmt.Errorf("model file item vocabulary: %w", err)
	}
	var fb FeatureBuilder
	switch hdr.Features {
	case "":
	case "data.FeatureSet":
		fs := new(data.FeatureSet)
		if err := fs.UnmarshalBinary(featBytes); err != nil {
			return nil, fmt.Errorf("model file features: %w", err)
		}
		if err := sameFields(lay.fields, fs.Fields()); err != nil {
			return nil, fmt.Errorf("model file features: %w", err)
		}
		fb = fs
	default:
		// a builder this package cannot decode: the weights still load
	}
	m, err := newModel(p, fb, items)
	if err != nil {
		return nil, fmt.Errorf("model file: %w", err)
	}
	return m, nil
}
