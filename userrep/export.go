package userrep

import (
	"encoding"
	"fmt"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/weightfile"
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

// fileFormat is the frame and codec of the file (internal/weightfile).
var fileFormat = weightfile.New(fileMagic, FileVersion, "userrep model")

// Errors of Load and Unmarshal (wrapped with context): ErrNotModel, the
// data does not start with the model magic; ErrVersion, another format
// version; ErrCorrupt, truncated, failing its checksum or inconsistent.
var (
	ErrNotModel = fileFormat.ErrNotFile
	ErrVersion  = fileFormat.ErrVersion
	ErrCorrupt  = fileFormat.ErrCorrupt
)

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
	items, err := m.items.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("userrep: encode item vocabulary: %w", err)
	}
	w := fileFormat.Begin()
	if err := w.JSON(hdr); err != nil {
		return nil, fmt.Errorf("userrep: encode header: %w", err)
	}
	w.U64(uint64(len(items)))
	w.Bytes(items)
	w.U64(uint64(len(feat)))
	w.Bytes(feat)
	for _, v := range vals {
		w.Float32s(v)
	}
	return w.Seal(), nil
}

// Save writes the model file to path atomically (internal/atomicfile: a
// temporary file in the same folder, synced and renamed into place, mode
// 0644).
func (m *Model) Save(path string) error { return fileFormat.Save(path, m.MarshalBinary) }

// Load reads a model file written by Save. A file that is truncated,
// corrupt (checksum mismatch), of another format version or inconsistent
// gives an error (see ErrNotModel).
func Load(path string) (*Model, error) { return weightfile.Load(fileFormat, path, Unmarshal) }

// Unmarshal decodes a model encoded by MarshalBinary.
func Unmarshal(b []byte) (*Model, error) {
	r, err := fileFormat.Open(b)
	if err != nil {
		return nil, err
	}
	var hdr fileHeader
	if err := r.JSON("header", &hdr); err != nil {
		return nil, err
	}
	itemBytes := r.Take(int(r.U64()))
	featBytes := r.Take(int(r.U64()))
	if err := r.Err(); err != nil {
		return nil, err
	}
	lay, err := newLayout(hdr.Config, hdr.Fields, hdr.NumItems)
	if err != nil {
		return nil, r.Fail("header: %v", err)
	}
	// check the size before allocating anything the header asks for
	want := uint64(lay.denseLen) + uint64(lay.nItems)*uint64(lay.d+1)
	for f := range lay.fields {
		want += uint64(lay.tableRows(f)) * uint64(lay.m)
	}
	if want*4 != uint64(r.Len()) {
		return nil, r.Fail("%d bytes of weights, the header implies %d", r.Len(), want*4)
	}
	p := newParams[float32](lay)
	ts, vals := p.tensors()
	if len(ts) != len(hdr.Tensors) {
		return nil, r.Fail("%d tensors listed, the config implies %d", len(hdr.Tensors), len(ts))
	}
	for i, t := range ts {
		h := hdr.Tensors[i]
		if h.Name != t.Name || fmt.Sprint(h.Shape) != fmt.Sprint(t.Shape) {
			return nil, r.Fail("tensor %d is %s%v, the config implies %s%v", i, h.Name, h.Shape, t.Name, t.Shape)
		}
		if err := r.Float32s("tensor "+t.Name, vals[i]); err != nil {
			return nil, err
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	items := new(data.Vocab)
	if err := items.UnmarshalBinary(itemBytes); err != nil {
		return nil, r.Fail("item vocabulary: %v", err)
	}
	var fb FeatureBuilder
	switch hdr.Features {
	case "":
	case "data.FeatureSet":
		fs := new(data.FeatureSet)
		if err := fs.UnmarshalBinary(featBytes); err != nil {
			return nil, r.Fail("features: %v", err)
		}
		if err := sameFields(lay.fields, fs.Fields()); err != nil {
			return nil, r.Fail("features: %v", err)
		}
		fb = fs
	default:
		// a builder this package cannot decode: the weights still load
	}
	m, err := newModel(p, fb, items)
	if err != nil {
		return nil, fmt.Errorf("userrep model file: %w", err)
	}
	return m, nil
}
