package coldstart

import (
	"fmt"

	"github.com/ralmlab/ralm/internal/weightfile"
)

// Model file layout (integers little-endian):
//
//	magic    8 bytes  "RALMCOLD"
//	version  uint32   FileVersion
//	header   uint32 length + JSON {config, dim, fields}
//	weights  float32 values: every field's table (Size×Dim), W1, b1, w2, Wv, b2
//	checksum 32 bytes SHA-256 of everything before it

// FileVersion is the version of the file format written by Save.
const FileVersion uint32 = 1

// fileFormat is the frame and codec of the file (internal/weightfile; at
// most weightfile.MaxSize bytes).
var fileFormat = weightfile.New("RALMCOLD", FileVersion, "cold-start model")

// Errors of Load and Unmarshal (wrapped with context): ErrNotModel, the data
// does not start with the file magic; ErrVersion, another format version;
// ErrCorrupt, truncated or modified data.
var (
	ErrNotModel = fileFormat.ErrNotFile
	ErrVersion  = fileFormat.ErrVersion
	ErrCorrupt  = fileFormat.ErrCorrupt
)

type header struct {
	Config Config  `json:"config"`
	Dim    int     `json:"dim"`
	Fields []Field `json:"fields"`
}

// weights lists the model's weight arrays in file order (b2 last, aliasing
// nothing).
func (m *Model) weights() [][]float32 {
	w := append([][]float32(nil), m.tables...)
	return append(w, m.w1, m.b1, m.w2, m.wv)
}

// MarshalBinary returns the model in the file format.
func (m *Model) MarshalBinary() ([]byte, error) {
	w := fileFormat.Begin()
	if err := w.JSON(header{Config: m.cfg, Dim: m.d, Fields: m.enc.Fields}); err != nil {
		return nil, fmt.Errorf("encode cold-start model: %w", err)
	}
	for _, v := range append(m.weights(), []float32{m.b2}) {
		w.Float32s(v)
	}
	return w.Seal(), nil
}

// Save writes m to path atomically (internal/atomicfile).
func (m *Model) Save(path string) error { return fileFormat.Save(path, m.MarshalBinary) }

// Load reads a model written by Save.
func Load(path string) (*Model, error) { return weightfile.Load(fileFormat, path, Unmarshal) }

// Unmarshal parses a model in the file format; errors wrap ErrNotModel,
// ErrVersion or ErrCorrupt.
func Unmarshal(buf []byte) (*Model, error) {
	r, err := fileFormat.Open(buf)
	if err != nil {
		return nil, err
	}
	var h header
	if err := r.JSON("header", &h); err != nil {
		return nil, err
	}
	enc := &Encoder{Fields: h.Fields}
	if err := enc.init(); err != nil {
		return nil, r.Fail("%v", err)
	}
	if err := h.Config.validate(); err != nil || h.Dim < 1 || h.Dim > 1<<16 {
		return nil, r.Fail("config %+v dim %d: %v", h.Config, h.Dim, err)
	}
	m := newModel(h.Config, enc, h.Dim)
	b2 := []float32{0}
	for i, w := range append(m.weights(), b2) {
		if err := r.Float32s(fmt.Sprintf("weight array %d", i), w); err != nil {
			return nil, err
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	m.b2 = b2[0]
	return m, nil
}
