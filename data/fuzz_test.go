package data

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// fuzzSeeds returns small valid files (Parquet and Arrow) made by write, plus
// corrupt variants of them: truncations and flipped bytes spread over the
// file, so the normal test run already feeds the readers broken input.
func fuzzSeeds(t testing.TB, write func(path string)) [][]byte {
	dir := t.TempDir()
	var seeds [][]byte
	for _, name := range []string{"s.parquet", "s.arrow"} {
		p := filepath.Join(dir, name)
		write(p)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
		for _, cut := range []int{len(b) / 3, len(b) - 1, 8} {
			seeds = append(seeds, b[:cut])
		}
		for i := 9; i < len(b)-9; i += max(1, len(b)/40) {
			c := append([]byte(nil), b...)
			c[i] ^= 0xA5
			seeds = append(seeds, c)
		}
	}
	seeds = append(seeds, nil, []byte("PAR1"), []byte("PAR1PAR1"), []byte("PAR1\x00\x00\x00\x00\x04\x00\x00\x00PAR1"),
		[]byte("ARROW1\x00\x00ARROW1"), []byte{0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0}, []byte("user_id,item_id,ts\n"))
	return seeds
}

func FuzzReadClicks(f *testing.F) {
	for _, s := range fuzzSeeds(f, func(p string) {
		c := testClicks(IDString, IDInt64, 40, false)
		if err := WriteClicks(context.Background(), p, c); err != nil {
			f.Fatal(err)
		}
	}) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "in")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := ReadClicks(context.Background(), path, ReadOptions{AllowEmpty: true, BatchSize: 16})
		if err != nil {
			if c != nil {
				t.Fatal("clicks returned with an error")
			}
			return
		}
		if len(c.Item) != c.Len() || len(c.TS) != c.Len() {
			t.Fatalf("ragged clicks %d/%d/%d", c.Len(), len(c.Item), len(c.TS))
		}
		for i := range c.User {
			if c.User[i] < 0 || int(c.User[i]) >= c.Users.Len() || c.Item[i] < 0 || int(c.Item[i]) >= c.Items.Len() {
				t.Fatalf("row %d: index out of range", i)
			}
		}
	})
}

func FuzzReadTable(f *testing.F) {
	for _, s := range fuzzSeeds(f, func(p string) {
		writeCols(f, p, FormatFromPath(p),
			strCol("user_id", "a", "b", "c"),
			strCol("g", "x", nil, "y"),
			f64Col("age", 1.0, nil, 3.0),
			listStrCol("tags", []string{"p", "q"}, nil, []string{}),
			listI64Col("n", []int64{1}, []int64{2, 3}, nil))
	}) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "in")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		tab, err := ReadTable(context.Background(), path, ColUserID, TableOptions{AllowEmpty: true, BatchSize: 2})
		if err != nil {
			return
		}
		rows := tab.Rows()
		for _, c := range tab.Columns {
			if err := checkColumn(&c, rows); err != nil {
				t.Fatalf("column %q: %v", c.Name, err)
			}
		}
		// Whatever was read can be written back.
		if err := WriteTable(context.Background(), filepath.Join(dir, "out.parquet"), ColUserID, tab); err != nil {
			t.Fatalf("write back: %v", err)
		}
	})
}

func FuzzReadEmbeddings(f *testing.F) {
	for _, s := range fuzzSeeds(f, func(p string) {
		users, vecs := testEmbeddings(IDInt64, 5, 3)
		if err := WriteEmbeddings(context.Background(), p, users, 3, vecs); err != nil {
			f.Fatal(err)
		}
	}) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "in")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := ReadEmbeddings(context.Background(), path)
		if err != nil {
			return
		}
		if e.Dim <= 0 || len(e.Vecs) != e.Users.Len()*e.Dim {
			t.Fatalf("dim %d, %d values for %d users", e.Dim, len(e.Vecs), e.Users.Len())
		}
	})
}

// FuzzFeatureSetUnmarshal fuzzes the body of the feature-set format (the
// checksum is recomputed, so mutations reach the decoder): decoding must
// fail cleanly or give a set whose Build stays in range.
func FuzzFeatureSetUnmarshal(f *testing.F) {
	c, users, items := featureFixture(f)
	for _, tabs := range [][2]*Table{{nil, nil}, {users, nil}, {users, items}} {
		fs, err := NewFeatureSet(c, tabs[0], tabs[1])
		if err != nil {
			f.Fatal(err)
		}
		b, _ := fs.MarshalBinary()
		f.Add(b[:len(b)-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(slices.Clone(body), crc32.ChecksumIEEE(body))
		var fs FeatureSet
		if err := fs.UnmarshalBinary(b); err != nil {
			return
		}
		var x Features
		for _, u := range []string{"u1", "u2", "nobody"} {
			fs.Build(u, []int32{0, 1, 2, -5, 1 << 30}, &x)
			for fi, fd := range fs.Fields() {
				for _, id := range x.Bags[fi] {
					if id < 0 || (fd.Kind == FieldBag && int(id) >= fd.Size) {
						t.Fatalf("field %d: id %d outside size %d", fi, id, fd.Size)
					}
				}
			}
		}
	})
}

// FuzzVocabUnmarshal fuzzes the vocabulary format body likewise.
func FuzzVocabUnmarshal(f *testing.F) {
	for _, kind := range []IDKind{IDString, IDInt64} {
		v, _ := testEmbeddings(kind, 4, 1)
		b, _ := v.MarshalBinary()
		f.Add(b[:len(b)-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(slices.Clone(body), crc32.ChecksumIEEE(body))
		var v Vocab
		if err := v.UnmarshalBinary(b); err != nil {
			return
		}
		for i, id := range v.IDs() {
			if j, ok := v.Index(id); !ok || int(j) != i {
				t.Fatalf("id %q: index %d, want %d", id, j, i)
			}
		}
	})
}

// TestReadersMutations feeds the readers deterministic random mutations of
// valid files (a cheap, uninstrumented complement to the fuzz targets, which
// are slow on arrow's large code). Every read must return an error or a
// consistent result, never panic, hang or exhaust memory. Set
// RALM_MUTATE_SECONDS to run longer.
func TestReadersMutations(t *testing.T) {
	seeds := fuzzSeeds(t, func(p string) {
		if err := WriteClicks(context.Background(), p, testClicks(IDString, IDInt64, 40, false)); err != nil {
			t.Fatal(err)
		}
	})
	seeds = append(seeds, fuzzSeeds(t, func(p string) {
		writeCols(t, p, FormatFromPath(p),
			strCol("user_id", "a", "b", "c"),
			strCol("g", "x", nil, "y"),
			f64Col("age", 1.0, nil, 3.0),
			listStrCol("tags", []string{"p", "q"}, nil, []string{}),
			listI64Col("n", []int64{1}, []int64{2, 3}, nil))
	})...)
	seeds = append(seeds, fuzzSeeds(t, func(p string) {
		users, vecs := testEmbeddings(IDInt64, 5, 3)
		if err := WriteEmbeddings(context.Background(), p, users, 3, vecs); err != nil {
			t.Fatal(err)
		}
	})...)
	budget, inputs := time.Duration(0), 400
	if s, err := strconv.Atoi(os.Getenv("RALM_MUTATE_SECONDS")); err == nil && s > 0 {
		budget, inputs = time.Duration(s)*time.Second, math.MaxInt
	}
	rng := rand.New(rand.NewSource(1))
	path := filepath.Join(t.TempDir(), "in")
	ctx := context.Background()
	start := time.Now()
	for n := 0; n < inputs && (budget == 0 || time.Since(start) < budget); n++ {
		b := slices.Clone(seeds[rng.Intn(len(seeds))])
		for k := rng.Intn(4) + 1; k > 0 && len(b) > 0; k-- {
			i := rng.Intn(len(b))
			switch rng.Intn(3) {
			case 0:
				b[i] = byte(rng.Intn(256))
			case 1:
				b[i] ^= 1 << rng.Intn(8)
			case 2:
				v := []byte{0xff, 0x7f, 0, 0x80}[rng.Intn(4)]
				for j := i; j < len(b) && j < i+4; j++ {
					b[j] = v
				}
			}
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		fail := make(chan string, 1)
		go func() {
			defer close(fail)
			if c, err := ReadClicks(ctx, path, ReadOptions{AllowEmpty: true, BatchSize: 16}); err == nil {
				if len(c.Item) != c.Len() || len(c.TS) != c.Len() {
					fail <- fmt.Sprintf("input %d: ragged clicks", n)
					return
				}
			}
			if tab, err := ReadTable(ctx, path, ColUserID, TableOptions{AllowEmpty: true, BatchSize: 2}); err == nil {
				for _, c := range tab.Columns {
					if err := checkColumn(&c, tab.Rows()); err != nil {
						fail <- fmt.Sprintf("input %d: column %q: %v", n, c.Name, err)
						return
					}
				}
			}
			if e, err := ReadEmbeddings(ctx, path); err == nil && len(e.Vecs) != e.Users.Len()*e.Dim {
				fail <- fmt.Sprintf("input %d: embeddings of the wrong size", n)
			}
		}()
		select {
		case msg, bad := <-fail:
			if bad {
				t.Fatal(msg)
			}
		case <-time.After(30 * time.Second):
			f, _ := os.CreateTemp("", "ralm-hang-*")
			f.Write(b)
			f.Close()
			t.Fatalf("input %d: a reader runs for more than 30 s (input saved to %s)", n, f.Name())
		}
	}
}
