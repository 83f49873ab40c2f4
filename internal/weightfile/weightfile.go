// Package weightfile holds what both model file formats (lookalike and
// lookalike/coldstart) share: the frame (an 8-byte magic, a little-endian
// uint32 format version, the body, and a SHA-256 checksum of everything
// before it), the little-endian body codec (Writer, Reader: lengths, strict
// JSON headers, finite float32 weights), the atomic Save and the
// size-bounded Load.
package weightfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/ralmlab/ralm/internal/atomicfile"
)

// MaxSize is the largest file Load reads unless Format.Max says otherwise.
const MaxSize = 1 << 31

// Format names one file format and the errors its readers wrap.
type Format struct {
	Magic   string
	Version uint32
	// What names the file's content in errors ("lookalike model").
	What string
	// Max bounds the size of a file Load reads.
	Max int
	// ErrNotFile, ErrVersion and ErrCorrupt are wrapped by Open and the
	// Reader.
	ErrNotFile, ErrVersion, ErrCorrupt error
}

// New returns the format with the given magic and version for files of
// what (at most MaxSize bytes), whose errors read "not a <what> file",
// "unsupported <what> file version" and "corrupt <what> file".
func New(magic string, version uint32, what string) Format {
	return Format{
		Magic: magic, Version: version, What: what, Max: MaxSize,
		ErrNotFile: errors.New("not a " + what + " file"),
		ErrVersion: errors.New("unsupported " + what + " file version"),
		ErrCorrupt: errors.New("corrupt " + what + " file"),
	}
}

// Writer builds a file of a format: Begin writes the magic and the
// version, the other methods append little-endian values, and Seal appends
// the checksum.
type Writer struct{ b bytes.Buffer }

// Begin returns a Writer holding the magic and the version.
func (f Format) Begin() *Writer {
	w := &Writer{}
	w.b.WriteString(f.Magic)
	w.U32(f.Version)
	return w
}

// Bytes appends p as it is.
func (w *Writer) Bytes(p []byte) { w.b.Write(p) }

// U8 appends v.
func (w *Writer) U8(v uint8) { w.b.WriteByte(v) }

// U16 appends v.
func (w *Writer) U16(v uint16) { w.b.Write(binary.LittleEndian.AppendUint16(nil, v)) }

// U32 appends v.
func (w *Writer) U32(v uint32) { w.b.Write(binary.LittleEndian.AppendUint32(nil, v)) }

// U64 appends v.
func (w *Writer) U64(v uint64) { w.b.Write(binary.LittleEndian.AppendUint64(nil, v)) }

// JSON appends v as JSON after its uint32 length.
func (w *Writer) JSON(v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.U32(uint32(len(j)))
	w.Bytes(j)
	return nil
}

// Float32s appends the values of vs.
func (w *Writer) Float32s(vs []float32) {
	out := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	w.b.Write(out)
}

// Seal appends the checksum of everything written and returns the file
// bytes.
func (w *Writer) Seal() []byte {
	sum := sha256.Sum256(w.b.Bytes())
	w.b.Write(sum[:])
	return w.b.Bytes()
}

// Open checks the magic, the version and the checksum of buf and returns a
// Reader over the body (after the version, before the checksum).
func (f Format) Open(buf []byte) (*Reader, error) {
	n := len(f.Magic)
	if len(buf) < n || string(buf[:n]) != f.Magic {
		return nil, f.ErrNotFile
	}
	if len(buf) < n+4 {
		return nil, fmt.Errorf("%w: truncated header", f.ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(buf[n:]); v != f.Version {
		return nil, fmt.Errorf("%w: %d (this build reads version %d)", f.ErrVersion, v, f.Version)
	}
	if len(buf) < n+4+sha256.Size {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", f.ErrCorrupt, len(buf))
	}
	body, sum := buf[:len(buf)-sha256.Size], buf[len(buf)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("%w: checksum mismatch (truncated or modified)", f.ErrCorrupt)
	}
	return &Reader{buf: body, off: n + 4, corrupt: f.ErrCorrupt}, nil
}

// Reader is a bounds-checked little-endian cursor over a file's body. The
// first error sticks (later reads return zero values) and wraps the
// format's ErrCorrupt; Err returns it.
type Reader struct {
	buf     []byte
	off     int
	err     error
	corrupt error
}

// Err is the first error of the reads so far.
func (r *Reader) Err() error { return r.err }

// Fail records a corruption found by the caller (unless an error is
// recorded already) and returns the error.
func (r *Reader) Fail(format string, args ...any) error {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", r.corrupt, fmt.Sprintf(format, args...))
	}
	return r.err
}

// Take returns the next n bytes (nil past the end of the body).
func (r *Reader) Take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.off+n > len(r.buf) {
		r.Fail("unexpected end of data at byte %d", r.off)
		return nil
	}
	s := r.buf[r.off : r.off+n]
	r.off += n
	return s
}

// U8 reads a byte.
func (r *Reader) U8() uint8 {
	if s := r.Take(1); s != nil {
		return s[0]
	}
	return 0
}

// U16 reads a uint16.
func (r *Reader) U16() uint16 {
	if s := r.Take(2); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

// U32 reads a uint32.
func (r *Reader) U32() uint32 {
	if s := r.Take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

// U64 reads a uint64.
func (r *Reader) U64() uint64 {
	if s := r.Take(8); s != nil {
		return binary.LittleEndian.Uint64(s)
	}
	return 0
}

// Len is the number of body bytes left to read.
func (r *Reader) Len() int { return len(r.buf) - r.off }

// JSON reads what Writer.JSON wrote into v, refusing unknown fields; what
// names the header in the error.
func (r *Reader) JSON(what string, v any) error {
	j := r.Take(int(r.U32()))
	if r.err != nil {
		return r.err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return r.Fail("%s: %v", what, err)
	}
	return nil
}

// Float32s reads len(dst) values into dst, refusing NaN and ±Inf; what
// names the values in the error.
func (r *Reader) Float32s(what string, dst []float32) error {
	raw := r.Take(4 * len(dst))
	if r.err != nil {
		return r.err
	}
	for i := range dst {
		v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return r.Fail("%s has a non-finite value at %d", what, i)
		}
		dst[i] = v
	}
	return nil
}

// Done is Err, or an error when bytes are left after the last read.
func (r *Reader) Done() error {
	if r.err == nil && r.off != len(r.buf) {
		r.Fail("%d trailing bytes", len(r.buf)-r.off)
	}
	return r.err
}

// Save writes the file encode returns to path atomically
// (internal/atomicfile: a temporary file in the same folder, synced and
// renamed into place, mode 0644); errors read "save <what> <path>: …".
func (f Format) Save(path string, encode func() ([]byte, error)) error {
	buf, err := encode()
	if err == nil {
		err = atomicfile.WriteBytes(context.Background(), path, buf)
	}
	if err != nil {
		return fmt.Errorf("save %s %s: %w", f.What, path, err)
	}
	return nil
}

// Load reads the file at path, at most f.Max bytes, and decodes it; errors
// read "load <what> <path>: …" (an open error "load <what>: …", as the os
// error names the path).
func Load[T any](f Format, path string, decode func([]byte) (T, error)) (T, error) {
	var zero T
	fh, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("load %s: %w", f.What, err)
	}
	defer fh.Close()
	buf, err := io.ReadAll(io.LimitReader(fh, int64(f.Max)+1))
	if err == nil && len(buf) > f.Max {
		err = fmt.Errorf("file larger than %d bytes", f.Max)
	}
	var m T
	if err == nil {
		m, err = decode(buf)
	}
	if err != nil {
		return zero, fmt.Errorf("load %s %s: %w", f.What, path, err)
	}
	return m, nil
}
