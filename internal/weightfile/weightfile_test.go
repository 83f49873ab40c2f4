package weightfile

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestOpen(t *testing.T) {
	f := New("TESTFILE", 3, "test")
	b := f.Begin()
	b.Bytes([]byte("payload"))
	good := bytes.Clone(b.Seal())
	other := New("TESTFILE", 4, "test").Begin()
	other.Bytes([]byte("payload"))
	newer := other.Seal()
	flipped := bytes.Clone(good)
	flipped[len(f.Magic)+5] ^= 1
	for _, c := range []struct {
		name string
		buf  []byte
		want error
	}{
		{"good", good, nil},
		{"other magic", append([]byte("XESTFILE"), good[8:]...), f.ErrNotFile},
		{"short", good[:9], f.ErrCorrupt},
		{"no checksum", good[:len(f.Magic)+4+3], f.ErrCorrupt},
		{"version", newer, f.ErrVersion},
		{"modified", flipped, f.ErrCorrupt},
	} {
		r, err := f.Open(c.buf)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Open error %v, want %v", c.name, err, c.want)
			continue
		}
		if err == nil {
			if body := r.Take(7); string(body) != "payload" || r.Done() != nil {
				t.Errorf("%s: body %q (%v), want payload", c.name, body, r.Done())
			}
		}
	}
	if got := f.ErrCorrupt.Error(); got != "corrupt test file" {
		t.Errorf("ErrCorrupt reads %q, want %q", got, "corrupt test file")
	}
}

// TestReader writes a body with every Writer method and reads it back, and
// checks that each kind of damage is an ErrCorrupt.
func TestReader(t *testing.T) {
	f := New("TESTFILE", 1, "test")
	type hdr struct{ A int }
	write := func(vals []float32, extra []byte) []byte {
		w := f.Begin()
		w.U8(7)
		w.U16(300)
		w.U32(70000)
		if err := w.JSON(hdr{A: 5}); err != nil {
			t.Fatal(err)
		}
		w.Float32s(vals)
		w.Bytes(extra)
		return w.Seal()
	}
	read := func(buf []byte, n int) (hdr, []float32, error) {
		r, err := f.Open(buf)
		if err != nil {
			return hdr{}, nil, err
		}
		if a, b, c := r.U8(), r.U16(), r.U32(); r.Err() == nil && (a != 7 || b != 300 || c != 70000) {
			t.Errorf("read %d %d %d, want 7 300 70000", a, b, c)
		}
		var h hdr
		if err := r.JSON("header", &h); err != nil {
			return h, nil, err
		}
		vals := make([]float32, n)
		if err := r.Float32s("values", vals); err != nil {
			return h, nil, err
		}
		return h, vals, r.Done()
	}
	vals := []float32{1.5, -2, 0}
	for _, c := range []struct {
		name string
		buf  []byte
		n    int
		want error
	}{
		{"good", write(vals, nil), 3, nil},
		{"trailing bytes", write(vals, []byte{0}), 3, f.ErrCorrupt},
		{"short values", write(vals[:2], nil), 3, f.ErrCorrupt},
		{"non-finite value", write([]float32{1, float32(math.Inf(1)), 0}, nil), 3, f.ErrCorrupt},
		{"nan value", write([]float32{float32(math.NaN()), 1, 0}, nil), 3, f.ErrCorrupt},
	} {
		h, got, err := read(c.buf, c.n)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
			continue
		}
		if err == nil && (h.A != 5 || !slices.Equal(got, vals)) {
			t.Errorf("%s: read %+v %v, want {A:5} %v", c.name, h, got, vals)
		}
	}
	// a header with a field the reader does not know is corrupt
	w := f.Begin()
	if err := w.JSON(map[string]int{"A": 1, "B": 2}); err != nil {
		t.Fatal(err)
	}
	r, err := f.Open(w.Seal())
	if err != nil {
		t.Fatal(err)
	}
	var h hdr
	if err := r.JSON("header", &h); !errors.Is(err, f.ErrCorrupt) {
		t.Errorf("unknown header field: error %v, want ErrCorrupt", err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	f := New("TESTFILE", 1, "thing")
	if err := f.Save(path, func() ([]byte, error) { return make([]byte, 11), nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(filepath.Join(dir, "x"), func() ([]byte, error) { return nil, errors.New("boom") }); err == nil {
		t.Error("Save of a failing encoder succeeded")
	}
	f.Max = 11
	n, err := Load(f, path, func(b []byte) (int, error) { return len(b), nil })
	if err != nil || n != 11 {
		t.Errorf("Load within the limit = %d, %v; want 11, nil", n, err)
	}
	f.Max = 10
	if _, err := Load(f, path, func(b []byte) (int, error) { return len(b), nil }); err == nil {
		t.Error("Load over the limit succeeded")
	}
	if _, err := Load(f, filepath.Join(dir, "missing"), func(b []byte) (int, error) { return 0, nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
}
