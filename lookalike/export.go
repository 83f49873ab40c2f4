package lookalike

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/ralmlab/ralm/internal/atomicfile"
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
	// maxModelFile bounds the size of a model file Load accepts.
	maxModelFile = 1 << 31
)

// modelFormat is the frame of the file (internal/weightfile).
var modelFormat = weightfile.New(modelMagic, FileVersion, "lookalike model file")

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
	buf, err := m.encode()
	if err != nil {
		return fmt.Errorf("save lookalike model %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(context.Background(), path, buf); err != nil {
		return fmt.Errorf("save lookalike model %s: %w", path, err)
	}
	return nil
}

// Load reads a model written by Model.Save. A file of another kind, of another
// format version, truncated or corrupted returns an error wrapping
// ErrNotModel, ErrVersion or ErrCorrupt.
func Load(path string) (*Model, error) {
	return weightfile.Load(path, maxModelFile, "lookalike model", decode)
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
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	b := modelFormat.Begin()
	le := binary.LittleEndian
	u32 := func(v uint32) { b.Write(le.AppendUint32(nil, v)) }
	u32(uint32(m.d))
	u32(uint32(m.h))
	u32(uint32(len(cfg)))
	b.Write(cfg)
	ps := m.params()
	u32(uint32(len(ps)))
	for _, p := range ps {
		b.Write(le.AppendUint16(nil, uint16(len(p.name))))
		b.WriteString(p.name)
		b.WriteByte(byte(len(p.shape)))
		for _, d := range p.shape {
			u32(uint32(d))
		}
		vals := m.slice(p.name)
		out := make([]byte, 4*len(vals))
		for i, v := range vals {
			le.PutUint32(out[4*i:], math.Float32bits(v))
		}
		b.Write(out)
	}
	return weightfile.Seal(b), nil
}

// reader is a bounds-checked cursor over the payload.
type reader struct {
	buf []byte
	off int
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.off+n > len(r.buf) {
		r.err = fmt.Errorf("%w: unexpected end of data at byte %d", ErrCorrupt, r.off)
		return nil
	}
	s := r.buf[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u16() uint16 {
	s := r.take(2)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(s)
}

func (r *reader) u32() uint32 {
	s := r.take(4)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(s)
}

// decode parses and validates a model file.
func decode(buf []byte) (*Model, error) {
	body, err := modelFormat.Open(buf)
	if err != nil {
		return nil, err
	}
	r := &reader{buf: body, off: modelFormat.HeaderLen()}
	d, h := int(r.u32()), int(r.u32())
	cfgJSON := r.take(int(r.u32()))
	if r.err != nil {
		return nil, r.err
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(cfgJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrCorrupt, err)
	}
	if cfg.Propensity == "" { // written before the propensity term existed
		cfg.Propensity, cfg.PropensityHidden = PropensityOff, DefaultConfig().PropensityHidden
	}
	if d < 1 || d > 1<<16 || cfg.Hidden != h {
		return nil, fmt.Errorf("%w: dimensions d=%d h=%d (config hidden %d)", ErrCorrupt, d, h, cfg.Hidden)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	m := newModel(cfg, d)
	ps := m.params()
	if n := int(r.u32()); r.err == nil && n != len(ps) {
		return nil, fmt.Errorf("%w: %d tensors, want %d", ErrCorrupt, n, len(ps))
	}
	for _, p := range ps {
		name := string(r.take(int(r.u16())))
		rank := r.take(1)
		if r.err != nil {
			return nil, r.err
		}
		shape := make([]int, int(rank[0]))
		for i := range shape {
			shape[i] = int(r.u32())
		}
		if name != p.name || !slices.Equal(shape, p.shape) {
			return nil, fmt.Errorf("%w: tensor %q %v, want %q %v", ErrCorrupt, name, shape, p.name, p.shape)
		}
		dst := m.slice(p.name)
		raw := r.take(4 * len(dst))
		if r.err != nil {
			return nil, r.err
		}
		for i := range dst {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			if !finite32(v) {
				return nil, fmt.Errorf("%w: tensor %q has a non-finite value", ErrCorrupt, p.name)
			}
			dst[i] = v
		}
		switch p.name {
		case "a":
			m.a = dst[0]
		case "c":
			m.c = dst[0]
		}
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(body)-r.off)
	}
	return m, nil
}
