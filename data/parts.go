package data

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// PartName is the file name of part i of n in a folder of parts written by
// `ralm embed --shard i/N`: part-00001-of-00004.parquet (ext with its dot).
func PartName(i, n int, ext string) string {
	return fmt.Sprintf("part-%05d-of-%05d%s", i, n, ext)
}

var partNameRE = regexp.MustCompile(`^part-(\d+)-of-(\d+)\.`)

// ReadEmbeddingParts reads user embeddings stored as one file, as a folder
// of part files (every .parquet, .arrow, .ipc or .feather file in it), or as
// the files matching a glob pattern, and returns them as one data set: the
// parts in name order, rows in file order. All parts must have the same
// dimension and id kind, and no user may appear twice. When the parts are
// named by PartName, a missing part of the set is an error naming it.
func ReadEmbeddingParts(ctx context.Context, path string) (*Embeddings, error) {
	files, err := embeddingParts(path)
	if err != nil {
		return nil, fmt.Errorf("read embeddings %s: %w", path, err)
	}
	if len(files) == 1 && files[0] == path {
		return ReadEmbeddings(ctx, path)
	}
	var out *Embeddings
	for _, f := range files {
		e, err := ReadEmbeddings(ctx, f)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = &Embeddings{Users: NewVocab(e.Users.Kind()), Dim: e.Dim}
		}
		if e.Dim != out.Dim {
			return nil, fmt.Errorf("read embeddings %s: dimension %d, the earlier parts have %d", f, e.Dim, out.Dim)
		}
		if e.Users.Kind() != out.Users.Kind() {
			return nil, fmt.Errorf("read embeddings %s: %s user ids, the earlier parts have %s", f, e.Users.Kind(), out.Users.Kind())
		}
		for i, id := range e.Users.IDs() {
			if _, dup := out.Users.Index(id); dup {
				return nil, fmt.Errorf("read embeddings %s: column %q row %d: user id %q is also in an earlier part", f, ColUserID, i, id)
			}
			if _, err := out.Users.Add(id); err != nil {
				return nil, fmt.Errorf("read embeddings %s: column %q row %d: %w", f, ColUserID, i, err)
			}
		}
		out.Vecs = append(out.Vecs, e.Vecs...)
	}
	return out, nil
}

// embeddingParts lists the files of the data set at path (see
// ReadEmbeddingParts), sorted by name.
func embeddingParts(path string) ([]string, error) {
	var files []string
	st, err := os.Stat(path)
	switch {
	case err == nil && !st.IsDir():
		return []string{path}, nil
	case err == nil:
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && isEmbeddingExt(e.Name()) {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("folder has no .parquet, .arrow, .ipc or .feather files")
		}
	case strings.ContainsAny(path, "*?["):
		if files, err = filepath.Glob(path); err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no file matches the pattern")
		}
	default:
		return nil, err
	}
	sort.Strings(files)
	return files, checkPartSet(files)
}

func isEmbeddingExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".parquet", ".arrow", ".ipc", ".feather":
		return true
	}
	return false
}

// checkPartSet checks that files named by PartName form one complete set.
func checkPartSet(files []string) error {
	n := -1
	have := map[int]bool{}
	for _, f := range files {
		m := partNameRE.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			return nil // not a named set: nothing to check
		}
		i, _ := strconv.Atoi(m[1])
		k, _ := strconv.Atoi(m[2])
		if n >= 0 && k != n {
			return fmt.Errorf("%s: part of a set of %d, the other parts are of %d", f, k, n)
		}
		if i >= k {
			return fmt.Errorf("%s: part %d of %d is out of range", f, i, k)
		}
		n = k
		have[i] = true
	}
	for i := 0; i < n; i++ {
		if !have[i] {
			return fmt.Errorf("%s is missing (the set has %d parts)", PartName(i, n, filepath.Ext(files[0])), n)
		}
	}
	return nil
}
