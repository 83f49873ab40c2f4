package weightfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpen(t *testing.T) {
	f := New("TESTFILE", 3, "test file")
	b := f.Begin()
	b.WriteString("payload")
	good := bytes.Clone(Seal(b))
	other := New("TESTFILE", 4, "test file").Begin()
	other.WriteString("payload")
	newer := Seal(other)
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
		{"no checksum", good[:f.HeaderLen()+3], f.ErrCorrupt},
		{"version", newer, f.ErrVersion},
		{"modified", flipped, f.ErrCorrupt},
	} {
		body, err := f.Open(c.buf)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Open error %v, want %v", c.name, err, c.want)
			continue
		}
		if err == nil && string(body[f.HeaderLen():]) != "payload" {
			t.Errorf("%s: body %q, want payload", c.name, body[f.HeaderLen():])
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, make([]byte, 11), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Load(path, 11, "thing", func(b []byte) (int, error) { return len(b), nil })
	if err != nil || n != 11 {
		t.Errorf("Load within the limit = %d, %v; want 11, nil", n, err)
	}
	if _, err := Load(path, 10, "thing", func(b []byte) (int, error) { return len(b), nil }); err == nil {
		t.Error("Load over the limit succeeded")
	}
	if _, err := Load(filepath.Join(dir, "missing"), 10, "thing", func(b []byte) (int, error) { return 0, nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
}
