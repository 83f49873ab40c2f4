package data

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v15/parquet/file"
)

// TestEmbeddingsParquetLayout writes embeddings through the package's own
// vector column writer at the edges of its encoding (dim 1, a bit-packed
// level run padded at the end, both level encodings around dim 32, partial
// pages, a page per row, several row groups) with both id kinds, and checks
// the file three ways: ReadEmbeddings gives the input back; the library's
// low-level column reader decodes the expected levels and values, row group
// by row group; and the file has the same Parquet schema and stored Arrow
// schema as the same embeddings written by pqarrow (WriteRecords), which
// ReadEmbeddings reads as before.
func TestEmbeddingsParquetLayout(t *testing.T) {
	ctx := context.Background()
	pageRows64 := embeddingsPageBytes / (4 * 64)
	for _, tc := range []struct{ n, dim int }{
		{1, 1},
		{70, 1},
		{5, 3},
		{9, 31},
		{40, 32},
		{33, 33},
		{pageRows64 + 1, 64},
		{2, embeddingsPageBytes/4 + 1},
		{embeddingsRowGroupRows + 5, 2},
	} {
		for _, kind := range []IDKind{IDInt64, IDString} {
			t.Run(fmt.Sprintf("%v/%dx%d", kind, tc.n, tc.dim), func(t *testing.T) {
				if testing.Short() && tc.n*tc.dim > 100_000 && kind == IDString {
					t.Skip("large case once in -short")
				}
				users, vecs := testEmbeddings(kind, tc.n, tc.dim)
				path := tempPath(t, "e.parquet")
				if err := WriteEmbeddings(ctx, path, users, tc.dim, vecs); err != nil {
					t.Fatal(err)
				}
				e, err := ReadEmbeddings(ctx, path)
				if err != nil {
					t.Fatal(err)
				}
				if e.Dim != tc.dim || e.Users.Kind() != kind || !slices.Equal(e.Users.IDs(), users.IDs()) || !slices.Equal(e.Vecs, vecs) {
					t.Fatalf("ReadEmbeddings differs: dim %d kind %v, %d users", e.Dim, e.Users.Kind(), e.Users.Len())
				}
				checkVectorColumn(t, path, tc.n, tc.dim, vecs)

				old := tempPath(t, "old.parquet")
				uw, err := newIDWriter(users)
				if err != nil {
					t.Fatal(err)
				}
				sc := embeddingsSchema(uw, tc.dim)
				if err := WriteRecords(ctx, old, sc, tc.n, embeddingsRecords(sc, uw, tc.dim, vecs)); err != nil {
					t.Fatal(err)
				}
				eo, err := ReadEmbeddings(ctx, old)
				if err != nil {
					t.Fatal(err)
				}
				if eo.Dim != tc.dim || !slices.Equal(eo.Users.IDs(), users.IDs()) || !slices.Equal(eo.Vecs, vecs) {
					t.Fatalf("pqarrow-written file read back differs")
				}
				a, b := openParquet(t, path), openParquet(t, old)
				if !a.MetaData().Schema.Equals(b.MetaData().Schema) {
					t.Errorf("Parquet schema\n%v\nwant (pqarrow's)\n%v", a.MetaData().Schema, b.MetaData().Schema)
				}
				sa, sb := a.MetaData().KeyValueMetadata().FindValue("ARROW:schema"), b.MetaData().KeyValueMetadata().FindValue("ARROW:schema")
				if sa == nil || sb == nil || *sa != *sb {
					t.Errorf("stored Arrow schema differs from pqarrow's")
				}
			})
		}
	}
}

// openParquet opens path with the library's low-level reader.
func openParquet(t *testing.T, path string) *file.Reader {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// checkVectorColumn reads the embeddings file at path with the library's
// column reader and checks its row groups, the levels of every value
// (definition: all present; repetition: 0 at the start of each row) and
// the values against vecs (n rows of dim).
func checkVectorColumn(t *testing.T, path string, n, dim int, vecs []float32) {
	t.Helper()
	r := openParquet(t, path)
	if want := (n + embeddingsRowGroupRows - 1) / embeddingsRowGroupRows; r.NumRowGroups() != want {
		t.Fatalf("%d row groups, want %d", r.NumRowGroups(), want)
	}
	maxDef := r.MetaData().Schema.Column(1).MaxDefinitionLevel()
	at := 0 // values checked so far
	for g := 0; g < r.NumRowGroups(); g++ {
		rg := r.RowGroup(g)
		if want := min(embeddingsRowGroupRows, n-g*embeddingsRowGroupRows); rg.NumRows() != int64(want) {
			t.Fatalf("row group %d: %d rows, want %d", g, rg.NumRows(), want)
		}
		for c := 0; c < 2; c++ {
			cm, err := rg.MetaData().ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if cm.HasDictionaryPage() {
				t.Errorf("row group %d column %d has a dictionary page", g, c)
			}
		}
		cr, err := rg.Column(1)
		if err != nil {
			t.Fatal(err)
		}
		fr, ok := cr.(*file.Float32ColumnChunkReader)
		if !ok {
			t.Fatalf("vector column reader %T", cr)
		}
		nv := int(rg.NumRows()) * dim
		vals, def, rep := make([]float32, nv), make([]int16, nv), make([]int16, nv)
		got := 0
		for got < nv {
			levels, read, err := fr.ReadBatch(int64(nv-got), vals[got:], def[got:], rep[got:])
			if err != nil {
				t.Fatal(err)
			}
			if levels == 0 || int(levels) != read {
				t.Fatalf("row group %d: %d levels for %d values", g, levels, read)
			}
			got += read
		}
		for i := range nv {
			wantRep := int16(1)
			if i%dim == 0 {
				wantRep = 0
			}
			if def[i] != maxDef || rep[i] != wantRep {
				t.Fatalf("row group %d value %d: levels def %d rep %d, want %d %d", g, i, def[i], rep[i], maxDef, wantRep)
			}
		}
		if !slices.Equal(vals, vecs[at:at+nv]) {
			t.Fatalf("row group %d: values differ", g)
		}
		at += nv
	}
	if at != n*dim {
		t.Fatalf("%d values in the file, want %d", at, n*dim)
	}
}
