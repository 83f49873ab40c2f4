package coldstart

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/ralmlab/ralm/internal/atomicfile"
	"github.com/ralmlab/ralm/internal/weightfile"
)

// Model file layout (integers little-endian):
//
//	magic    8 bytes  "RALMCOLD"
//	version  uint32   FileVersion
//	header   uint32 length + JSON {config, dim, fields}
//	weights  float32 values: every field's table (Size×Dim), W1, b1, w2, Wv, b2
//	checksum 32 bytes SHA-256 of everything before it
const (
	fileMagic = "RALMCOLD"
	// FileVersion is the version of the file format written by Save.
	FileVersion uint32 = 1
	maxFile            = 1 << 31
)

// fileFormat is the frame of the file (internal/weightfile).
var fileFormat = weightfile.New(fileMagic, FileVersion, "cold-start model file")

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
	hj, err := json.Marshal(header{Config: m.cfg, Dim: m.d, Fields: m.enc.Fields})
	if err != nil {
		return nil, fmt.Errorf("encode cold-start model: %w", err)
	}
	le := binary.LittleEndian
	b := fileFormat.Begin()
	b.Write(le.AppendUint32(nil, uint32(len(hj))))
	b.Write(hj)
	for _, w := range append(m.weights(), []float32{m.b2}) {
		for _, v := range w {
			b.Write(le.AppendUint32(nil, math.Float32bits(v)))
		}
	}
	return weightfile.Seal(b), nil
}

// Save writes m to path atomically (internal/atomicfile).
func (m *Model) Save(path string) error {
	buf, err := m.MarshalBinary()
	if err == nil {
		err = atomicfile.WriteBytes(context.Background(), path, buf)
	}
	if err != nil {
		return fmt.Errorf("save cold-start model %s: %w", path, err)
	}
	return nil
}

// Load reads a model written by Save.
func Load(path string) (*Model, error) {
	return weightfile.Load(path, maxFile, "cold-start model", Unmarshal)
}

// Unmarshal parses a model in the file format; errors wrap ErrNotModel,
// ErrVersion or ErrCorrupt.
func Unmarshal(buf []byte) (*Model, error) {
	body, err := fileFormat.Open(buf)
	if err != nil {
		return nil, err
	}
	n := len(fileMagic)
	if len(body) < n+8 {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", ErrCorrupt, len(buf))
	}
	le := binary.LittleEndian
	hl := int(le.Uint32(body[n+4:]))
	off := n + 8
	if hl < 0 || off+hl > len(body) {
		return nil, fmt.Errorf("%w: header length %d", ErrCorrupt, hl)
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(body[off : off+hl]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	off += hl
	enc := &Encoder{Fields: h.Fields}
	if err := enc.init(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := h.Config.validate(); err != nil || h.Dim < 1 || h.Dim > 1<<16 {
		return nil, fmt.Errorf("%w: config %+v dim %d: %v", ErrCorrupt, h.Config, h.Dim, err)
	}
	m := newModel(h.Config, enc, h.Dim)
	rest := body[off:]
	var want int
	for _, w := range m.weights() {
		want += len(w)
	}
	if len(rest) != 4*(want+1) {
		return nil, fmt.Errorf("%w: %d weight bytes, want %d", ErrCorrupt, len(rest), 4*(want+1))
	}
	k := 0
	next := func() (float32, error) {
		v := math.Float32frombits(le.Uint32(rest[4*k:]))
		k++
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("%w: non-finite weight %d", ErrCorrupt, k-1)
		}
		return v, nil
	}
	for _, w := range m.weights() {
		for i := range w {
			if w[i], err = next(); err != nil {
				return nil, err
			}
		}
	}
	if m.b2, err = next(); err != nil {
		return nil, err
	}
	return m, nil
}
