package lookalike

import (
	"fmt"
	"slices"

	"github.com/ralmlab/ralm/internal/weightfile"
)

// Model file layout (all integers little-endian):
//
//	magic    8 bytes  "RALMLOOK"
//	version  uint32   FileVersion
//	d, h     uint32 each
//	config   uint32 length + JSON of Config
//	tensors  uint32 count, then per tensor:
//	         uint16 name length + name, uint8 rank, uint32 per dim,
//	         float32 values (product of dims; 1 for a scalar)
//	checksum 32 bytes SHA-256 of everything before it
const (
	modelMagic = "RALMLOOK"
	// FileVersion is the version of the model file format written by Save.
	FileVersion uint32 = 1
)

// modelFormat is the frame and codec of the file (internal/weightfile; at
// most weightfile.MaxSize bytes).
var modelFormat = weightfile.New(modelMagic, FileVersion, "lookalike model")

// Errors returned by Load (wrapped with the file name): ErrNotModel, the
// file does not start with the model magic; ErrVersion, it was written in
// an unsupported format version; ErrCorrupt, it is truncated or fails its
// checksum.
var (
	ErrNotModel = modelFormat.ErrNotFile
	ErrVersion  = modelFormat.ErrVersion
	ErrCorrupt  = modelFormat.ErrCorrupt
)

// Save writes m to path atomically (internal/atomicfile: a temporary file
// in the same folder, synced and renamed into place, mode 0644).
func (m *Model) Save(path string) error {
	if m == nil {
		return fmt.Errorf("save lookalike model %s: nil model", path)
	}
	return modelFormat.Save(path, m.encode)
}

// Load reads a model written by Model.Save. A file of another kind, of another
// format version, truncated or corrupted returns an error wrapping
// ErrNotModel, ErrVersion or ErrCorrupt.
func Load(path string) (*Model, error) {
	return weightfile.Load(modelFormat, path, decode)
}

// MarshalBinary returns the model in the file format written by Save.
func (m *Model) MarshalBinary() ([]byte, error) { return m.encode() }

// Unmarshal parses a model in the file format (see Load for the errors).
func Unmarshal(b []byte) (*Model, error) {
	m, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("unmarshal lookalike model: %w", err)
	}
	return m, nil
}

// encode serialises m in the file format.
func (m *Model) encode() ([]byte, error) {
	w := modelFormat.Begin()
	w.U32(uint32(m.d))
	w.U32(uint32(m.h))
	if err := w.JSON(m.cfg); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	ps := m.params()
	w.U32(uint32(len(ps)))
	for _, p := range ps {
		w.U16(uint16(len(p.name)))
		w.Bytes([]byte(p.name))
		w.U8(byte(len(p.shape)))
		for _, d := range p.shape {
			w.U32(uint32(d))
		}
		w.Float32s(m.slice(p.name))
	}
	return w.Seal(), nil
}

// decode parses and validates a model file.
func decode(buf []byte) (*Model, error) {
	r, err := modelFormat.Open(buf)
	if err != nil {
		return nil, err
	}
	d, h := int(r.U32()), int(r.U32())
	var cfg Config
	if err := r.JSON("config", &cfg); err != nil {
		return nil, err
	}
	if cfg.Propensity == "" { // written before the propensity term existed
		cfg.Propensity, cfg.PropensityHidden = PropensityOff, DefaultConfig().PropensityHidden
	}
	if d < 1 || d > 1<<16 || cfg.Hidden != h {
		return nil, r.Fail("dimensions d=%d h=%d (config hidden %d)", d, h, cfg.Hidden)
	}
	if err := cfg.validate(); err != nil {
		return nil, r.Fail("%v", err)
	}
	m := newModel(cfg, d)
	ps := m.params()
	if n := int(r.U32()); r.Err() == nil && n != len(ps) {
		return nil, r.Fail("%d tensors, want %d", n, len(ps))
	}
	for _, p := range ps {
		name := string(r.Take(int(r.U16())))
		shape := make([]int, int(r.U8()))
		for i := range shape {
			shape[i] = int(r.U32())
		}
		if r.Err() != nil {
			return nil, r.Err()
		}
		if name != p.name || !slices.Equal(shape, p.shape) {
			return nil, r.Fail("tensor %q %v, want %q %v", name, shape, p.name, p.shape)
		}
		dst := m.slice(p.name)
		if err := r.Float32s(fmt.Sprintf("tensor %q", p.name), dst); err != nil {
			return nil, err
		}
		switch p.name {
		case "a":
			m.a = dst[0]
		case "c":
			m.c = dst[0]
		}
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return m, nil
}
