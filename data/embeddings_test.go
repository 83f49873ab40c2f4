package data

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
)

func testEmbeddings(kind IDKind, n, dim int) (*Vocab, []float32) {
	v := NewVocab(kind)
	vecs := make([]float32, n*dim)
	for i := 0; i < n; i++ {
		if kind == IDInt64 {
			v.MustAdd(itoa(i*i - 5))
		} else {
			v.MustAdd("user/" + itoa(i))
		}
		for d := 0; d < dim; d++ {
			vecs[i*dim+d] = float32(i) - float32(d)/7
		}
	}
	return v, vecs
}

func TestEmbeddingsRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		kind IDKind
		n    int
		dim  int
		file string
	}{
		{"string parquet", IDString, 70, 8, "e.parquet"},
		{"int parquet many batches", IDInt64, 70_000, 3, "e.parquet"},
		{"int arrow", IDInt64, 10, 1, "e.arrow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users, vecs := testEmbeddings(tc.kind, tc.n, tc.dim)
			path := tempPath(t, tc.file)
			if err := WriteEmbeddings(context.Background(), path, users, tc.dim, vecs); err != nil {
				t.Fatal(err)
			}
			e, err := ReadEmbeddings(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if e.Dim != tc.dim || e.Users.Kind() != tc.kind || !slices.Equal(e.Users.IDs(), users.IDs()) || !slices.Equal(e.Vecs, vecs) {
				t.Fatalf("round trip differs: dim %d kind %v users %d", e.Dim, e.Users.Kind(), e.Users.Len())
			}
			if got := e.Vec(3); !slices.Equal(got, vecs[3*tc.dim:4*tc.dim]) {
				t.Errorf("Vec(3) = %v", got)
			}
			// The stored schema keeps the fixed-size list type.
			src, err := openSource(path, 10)
			if err != nil {
				t.Fatal(err)
			}
			defer src.close()
			typ, ok := src.schema.Field(1).Type.(*arrow.FixedSizeListType)
			if !ok || typ.Len() != int32(tc.dim) || typ.Elem().ID() != arrow.FLOAT32 {
				t.Errorf("embedding type %s", src.schema.Field(1).Type)
			}
		})
	}
}

func TestWriteEmbeddingsByteIdentical(t *testing.T) {
	for _, kind := range []IDKind{IDString, IDInt64} {
		users, vecs := testEmbeddings(kind, 5000, 16)
		for _, ext := range []string{".parquet", ".arrow"} {
			a := filepath.Join(t.TempDir(), "one"+ext)
			b := filepath.Join(t.TempDir(), "other-name"+ext)
			if err := WriteEmbeddings(context.Background(), a, users, 16, vecs); err != nil {
				t.Fatal(err)
			}
			if err := WriteEmbeddings(context.Background(), b, users.Clone(), 16, slices.Clone(vecs)); err != nil {
				t.Fatal(err)
			}
			ba, _ := os.ReadFile(a)
			bb, _ := os.ReadFile(b)
			if len(ba) == 0 || !bytes.Equal(ba, bb) {
				t.Errorf("%v %s: files differ (%d vs %d bytes)", kind, ext, len(ba), len(bb))
			}
			if bytes.Contains(ba, []byte(filepath.Dir(a))) {
				t.Errorf("%v %s: file embeds its path", kind, ext)
			}
		}
	}
}

func TestEmbeddingsErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	users, vecs := testEmbeddings(IDString, 4, 2)
	path := filepath.Join(dir, "e.parquet")
	wantErr(t, WriteEmbeddings(context.Background(), path, users, 3, vecs), path, "write embeddings", "8 values for 4 users × dim 3")
	wantErr(t, WriteEmbeddings(context.Background(), path, users, 0, nil), path, "invalid dimension 0")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("failed write left a file")
	}
	cols := func(name string, format Format, cs ...col) string {
		p := filepath.Join(dir, name)
		writeCols(t, p, format, cs...)
		return p
	}
	// written stores a non-finite value with WriteEmbeddings (which writes
	// it as given) at row 2, value 1.
	written := func(name string, kind IDKind, x float32) string {
		users, vecs := testEmbeddings(kind, 4, 3)
		vecs[2*3+1] = x
		p := filepath.Join(dir, name)
		if err := WriteEmbeddings(ctx, p, users, 3, vecs); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
		frags      []string
	}{
		{"NaN written by WriteEmbeddings", written("wn.parquet", IDInt64, float32(math.NaN())), []string{`column "embedding" row 2 (user "-1"): value 1 is NaN`}},
		{"-Inf written by WriteEmbeddings", written("wi.parquet", IDString, float32(math.Inf(-1))), []string{`column "embedding" row 2 (user "user/2"): value 1 is -Inf`}},
		{"missing column", cols("m.parquet", FormatParquet, strCol("user_id", "a")), []string{`missing column "embedding"`}},
		{"wrong type", cols("w.parquet", FormatParquet, strCol("user_id", "a"), f64Col("embedding", 1.0)), []string{`column "embedding": type float64 is not a list`}},
		{"ragged", cols("r.arrow", FormatArrow, strCol("user_id", "a", "b"), listF64Col("embedding", []float64{1, 2}, []float64{3})), []string{`column "embedding" row 1: length 1, want 2`}},
		{"duplicate user", cols("d.arrow", FormatArrow, strCol("user_id", "a", "a"), listF64Col("embedding", []float64{1}, []float64{3})), []string{`column "user_id" row 1: duplicate user id "a" (first at row 0)`}},
		{"null user", cols("n.parquet", FormatParquet, strCol("user_id", nil), listF64Col("embedding", []float64{1})), []string{`column "user_id" row 0: null id`}},
		{"NaN value", cols("nan.parquet", FormatParquet, strCol("user_id", "a", "b"), listF64Col("embedding", []float64{1, 2}, []float64{3, math.NaN()})), []string{`column "embedding" row 1 (user "b"): value 1 is NaN`}},
		{"beyond float32", cols("inf.arrow", FormatArrow, strCol("user_id", "a"), listF64Col("embedding", []float64{1e300, 2})), []string{`column "embedding" row 0 (user "a"): value 0 is +Inf (as float32)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadEmbeddings(ctx, tc.path)
			wantErr(t, err, tc.path, append([]string{"read embeddings"}, tc.frags...)...)
		})
	}
	t.Run("list<float64> accepted", func(t *testing.T) {
		p := cols("ok.parquet", FormatParquet, i64Col("user_id", 3, 4), listF64Col("embedding", []float64{1, 2}, []float64{3, 4}))
		e, err := ReadEmbeddings(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if e.Dim != 2 || !slices.Equal(e.Vecs, []float32{1, 2, 3, 4}) || e.Users.ID(1) != "4" {
			t.Errorf("%+v", e)
		}
	})
}

func TestVocabBinary(t *testing.T) {
	for _, kind := range []IDKind{IDString, IDInt64} {
		v, _ := testEmbeddings(kind, 300, 1)
		if kind == IDString {
			v.MustAdd("") // the empty string is a valid id
			v.MustAdd("ünï\x00code")
		}
		b, err := v.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := v.Clone().MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Error("encoding not deterministic")
		}
		var got Vocab
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got.Kind() != kind || !slices.Equal(got.IDs(), v.IDs()) {
			t.Fatalf("round trip differs")
		}
		if i, ok := got.Index(v.ID(17)); !ok || i != 17 {
			t.Error("index map not rebuilt")
		}
		// Every corruption is detected, and no prefix decodes.
		for i := 0; i < len(b); i += 7 {
			c := slices.Clone(b)
			c[i] ^= 0x40
			if err := new(Vocab).UnmarshalBinary(c); err == nil {
				t.Fatalf("flipped byte %d not detected", i)
			}
		}
		for n := 0; n < len(b); n += 5 {
			if err := new(Vocab).UnmarshalBinary(b[:n]); err == nil {
				t.Fatalf("prefix of %d bytes decoded", n)
			}
		}
	}
}

func TestVocabClone(t *testing.T) {
	for _, tc := range []struct {
		kind IDKind
		a, b string
	}{{IDString, "a", "b"}, {IDInt64, "1", "2"}} {
		v := NewVocab(tc.kind)
		v.MustAdd(tc.a)
		c := v.Clone()
		c.MustAdd(tc.b)
		if v.Len() != 1 || c.Len() != 2 {
			t.Fatalf("%v: clone shares state: %d %d", tc.kind, v.Len(), c.Len())
		}
		if _, ok := v.Index(tc.b); ok {
			t.Fatalf("%v: clone shares the index", tc.kind)
		}
		if i, ok := c.Index(tc.a); !ok || i != 0 {
			t.Fatalf("%v: clone lost %q: %d, %v", tc.kind, tc.a, i, ok)
		}
	}
}

// TestWriteEmbeddingsLarge round-trips more users than one write batch,
// in both formats, reporting progress to the end.
func TestWriteEmbeddingsLarge(t *testing.T) {
	e := benchEmbeddings(writeBatchRows+1000, 16)
	for _, name := range []string{"e.parquet", "e.arrow"} {
		t.Run(name, func(t *testing.T) {
			path := tempPath(t, name)
			var last int64
			err := WriteEmbeddings(context.Background(), path, e.Users, e.Dim, e.Vecs, WithProgress(func(done, total int64, rate float64) {
				if done <= last || total != int64(e.Users.Len()) || rate <= 0 {
					t.Errorf("progress %d/%d at %g rows/s after %d", done, total, rate, last)
				}
				last = done
			}))
			if err != nil {
				t.Fatal(err)
			}
			if last != int64(e.Users.Len()) {
				t.Errorf("last progress %d, want %d", last, e.Users.Len())
			}
			got, err := ReadEmbeddings(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Dim != e.Dim || !slices.Equal(got.Vecs, e.Vecs) || !slices.Equal(got.Users.ids, e.Users.ids) {
				t.Fatalf("read back differs: dim %d, %d values, %d users", got.Dim, len(got.Vecs), got.Users.Len())
			}
		})
	}
}

// TestWriteCancelled cancels a write after its first batch: the write
// stops with the context's error and leaves neither the file nor a
// temporary file.
func TestWriteCancelled(t *testing.T) {
	e := benchEmbeddings(3*writeBatchRows, 4)
	dir := t.TempDir()
	path := filepath.Join(dir, "e.parquet")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := WriteEmbeddings(ctx, path, e.Users, e.Dim, e.Vecs, WithProgress(func(int64, int64, float64) {
		calls++
		cancel()
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("%d batches written after cancel, want 1", calls)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
