// Package weightfile holds the frame both model file formats share: an
// 8-byte magic, a little-endian uint32 format version, the body, and a
// SHA-256 checksum of everything before it; and the size-bounded read of
// such a file.
package weightfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Format names one file format and the errors its readers wrap.
type Format struct {
	Magic   string
	Version uint32
	// ErrNotFile, ErrVersion and ErrCorrupt are wrapped by Open.
	ErrNotFile, ErrVersion, ErrCorrupt error
}

// New returns the format with the given magic and version whose errors
// read "not a <what>", "unsupported <what> version" and "corrupt <what>".
func New(magic string, version uint32, what string) Format {
	return Format{
		Magic: magic, Version: version,
		ErrNotFile: errors.New("not a " + what),
		ErrVersion: errors.New("unsupported " + what + " version"),
		ErrCorrupt: errors.New("corrupt " + what),
	}
}

// Begin returns a buffer holding the magic and the version.
func (f Format) Begin() *bytes.Buffer {
	b := bytes.NewBufferString(f.Magic)
	b.Write(binary.LittleEndian.AppendUint32(nil, f.Version))
	return b
}

// Seal appends the checksum of b's contents and returns the file bytes.
func Seal(b *bytes.Buffer) []byte {
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// Open checks the magic, the version and the checksum of buf and returns
// the bytes before the checksum (magic and version included); the body
// starts at offset HeaderLen().
func (f Format) Open(buf []byte) ([]byte, error) {
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
	return body, nil
}

// HeaderLen is the length of the magic and the version.
func (f Format) HeaderLen() int { return len(f.Magic) + 4 }

// Load reads the file at path, at most max bytes, and decodes it; errors
// read "load <what> <path>: …" (an open error "load <what>: …", as the
// os error names the path).
func Load[T any](path string, max int, what string, decode func([]byte) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("load %s: %w", what, err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err == nil && len(buf) > max {
		err = fmt.Errorf("file larger than %d bytes", max)
	}
	var m T
	if err == nil {
		m, err = decode(buf)
	}
	if err != nil {
		return zero, fmt.Errorf("load %s %s: %w", what, path, err)
	}
	return m, nil
}
