package data

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// TestParquetChecksumRejectsCorruption overwrites random bytes anywhere in
// 40 copies of a written clicks file: every copy must be rejected (without
// the checksum, 14 of 40 were read as valid data).
func TestParquetChecksumRejectsCorruption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	orig := filepath.Join(dir, "clicks.parquet")
	want := testClicks(IDString, IDInt64, 3000, false)
	if err := WriteClicks(ctx, orig, want); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadClicks(ctx, orig, ReadOptions{}); err != nil {
		t.Fatalf("intact file: %v", err)
	}
	b, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(14))
	path := filepath.Join(dir, "bad", "clicks.parquet")
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	sawRegion := false
	for n := 0; n < 40; n++ {
		c := bytes.Clone(b)
		at := rng.Intn(len(c))
		for k := rng.Intn(8) + 1; k > 0 && at+k <= len(c); k-- {
			c[at+k-1] = byte(rng.Intn(256))
		}
		if bytes.Equal(c, b) {
			c[at] ^= 0xff
		}
		if err := os.WriteFile(path, c, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadClicks(ctx, path, ReadOptions{})
		if err == nil {
			t.Errorf("copy %d (bytes overwritten at %d of %d) was read as valid", n, at, len(c))
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, path) {
			t.Errorf("copy %d: error is not one line naming the file: %q", n, msg)
		}
		if strings.Contains(msg, "checksum mismatch in data region (file corrupt)") {
			sawRegion = true
		}
	}
	if !sawRegion {
		t.Error("no copy was rejected by the data region checksum")
	}
}

// TestParquetChecksumDeterministic: equal input gives equal bytes, and the
// checksum is in the footer metadata.
func TestParquetChecksumDeterministic(t *testing.T) {
	ctx := context.Background()
	c := testClicks(IDInt64, IDString, 500, true)
	var files [2][]byte
	for i := range files {
		p := filepath.Join(t.TempDir(), "c.parquet")
		if err := WriteClicks(ctx, p, c); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("two writes of the same clicks differ")
	}
	if !bytes.Contains(files[0], []byte(checksumKey)) {
		t.Fatalf("no %s key in the file", checksumKey)
	}
}

// TestParquetWithoutChecksum: a file written by another writer (no
// checksum key) is read as before.
func TestParquetWithoutChecksum(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	uid, iid, ts := i64Col(ColUserID, 1, 2), i64Col(ColItemID, 10, 11), i64Col(ColTS, 100, 200)
	cols := []col{uid, iid, ts}
	var fields []arrow.Field
	var arrs []arrow.Array
	for _, c := range cols {
		a := c.arr(mem)
		defer a.Release()
		fields = append(fields, arrow.Field{Name: c.name, Type: a.DataType(), Nullable: true})
		arrs = append(arrs, a)
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), arrs, 2)
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "foreign.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadClicks(ctx, p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 2 {
		t.Fatalf("read %d clicks, want 2", got.Len())
	}
}
