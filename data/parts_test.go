package data

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeEmbPart writes ids with vectors of dim where vector i is all float(first+i).
func writeEmbPart(t *testing.T, path string, ids []string, dim, first int) {
	t.Helper()
	v := NewVocab(IDString)
	var vecs []float32
	for i, id := range ids {
		v.MustAdd(id)
		for range dim {
			vecs = append(vecs, float32(first+i))
		}
	}
	if err := WriteEmbeddings(context.Background(), path, v, dim, vecs); err != nil {
		t.Fatal(err)
	}
}

func TestReadEmbeddingParts(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		parts   map[string][]string // file name → ids (dim 4, unless named "*dim8*")
		arg     string              // relative to the folder; "" = the folder
		want    []string
		wantErr string
	}{
		{"folder in name order", map[string][]string{PartName(1, 2, ".parquet"): {"c"}, PartName(0, 2, ".parquet"): {"a", "b"}}, "", []string{"a", "b", "c"}, ""},
		{"glob", map[string][]string{"x1.parquet": {"a"}, "x2.arrow": {"b"}, "y.parquet": {"z"}}, "x*", []string{"a", "b"}, ""},
		{"one file", map[string][]string{"e.parquet": {"a", "b"}}, "e.parquet", []string{"a", "b"}, ""},
		{"missing part", map[string][]string{PartName(0, 3, ".parquet"): {"a"}, PartName(2, 3, ".parquet"): {"c"}}, "", nil, "part-00001-of-00003.parquet is missing"},
		{"duplicate user", map[string][]string{"a.parquet": {"a", "b"}, "b.parquet": {"c", "b"}}, "", nil, `b.parquet: column "user_id" row 1: user id "b" is also in an earlier part`},
		{"dimensions differ", map[string][]string{"a.parquet": {"a"}, "b-dim8.parquet": {"b"}}, "", nil, "dimension 8, the earlier parts have 4"},
		{"no match", map[string][]string{"a.parquet": {"a"}}, "q*", nil, "no file matches"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first := 0
			names := make([]string, 0, len(tt.parts))
			for name := range tt.parts {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				dim := 4
				if strings.Contains(name, "dim8") {
					dim = 8
				}
				writeEmbPart(t, filepath.Join(dir, name), tt.parts[name], dim, first)
				first += len(tt.parts[name])
			}
			if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a part"), 0o644); err != nil {
				t.Fatal(err)
			}
			e, err := ReadEmbeddingParts(ctx, filepath.Join(dir, tt.arg))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.Users.IDs(), tt.want) || e.Dim != 4 || len(e.Vecs) != 4*len(tt.want) {
				t.Fatalf("users %v dim %d, %d floats; want %v", e.Users.IDs(), e.Dim, len(e.Vecs), tt.want)
			}
			for i := range tt.want { // rows keep their vectors
				if e.Vecs[4*i] != float32(i) {
					t.Fatalf("row %d has vector %v, want all %d", i, e.Vec(int32(i)), i)
				}
			}
		})
	}
}
