package bundle_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
)

func TestFingerprintClicksIsCanonical(t *testing.T) {
	mk := func(rows [][3]string, ts []int64) *data.Clicks {
		c := &data.Clicks{Users: data.NewVocab(data.IDString), Items: data.NewVocab(data.IDString)}
		for i, r := range rows {
			c.User = append(c.User, c.Users.MustAdd(r[0]))
			c.Item = append(c.Item, c.Items.MustAdd(r[1]))
			c.TS = append(c.TS, ts[i])
		}
		return c
	}
	a := mk([][3]string{{"u1", "a"}, {"u2", "b"}, {"u1", "b"}, {"u3", "a"}}, []int64{1, 2, 3, 4})
	// Same clicks, other order (so other vocabulary numbering too).
	b := mk([][3]string{{"u3", "a"}, {"u1", "b"}, {"u2", "b"}, {"u1", "a"}}, []int64{4, 3, 2, 1})
	// One timestamp differs.
	c := mk([][3]string{{"u1", "a"}, {"u2", "b"}, {"u1", "b"}, {"u3", "a"}}, []int64{1, 2, 3, 5})
	// Ids that would collide if concatenated without lengths.
	d1 := mk([][3]string{{"ab", "c"}}, []int64{1})
	d2 := mk([][3]string{{"a", "bc"}}, []int64{1})
	fa, fb, fc := bundle.FingerprintClicks(a), bundle.FingerprintClicks(b), bundle.FingerprintClicks(c)
	if !strings.HasPrefix(fa, "sha256:") || len(fa) != 7+64 {
		t.Fatalf("fingerprint %q", fa)
	}
	if fa != fb {
		t.Errorf("order changed the fingerprint: %s vs %s", fa, fb)
	}
	if fa == fc {
		t.Error("a different timestamp gave the same fingerprint")
	}
	if bundle.FingerprintClicks(d1) == bundle.FingerprintClicks(d2) {
		t.Error("ambiguous id encoding")
	}
	if bundle.FingerprintClicks(nil) == fa {
		t.Error("nil equals a")
	}
}

// TestFingerprintVersions checks the two click encodings: version 2 (the
// one written) hashes the triples in the one id order, data.CompareIDs,
// so int64 ids sort as numbers (9 before 10), and version 1 (folders
// written before it) byte-wise (10 before 9). Each is checked against the
// documented encoding built by hand.
func TestFingerprintVersions(t *testing.T) {
	c := &data.Clicks{Users: data.NewVocab(data.IDInt64), Items: data.NewVocab(data.IDInt64)}
	for _, r := range []struct {
		u, i string
		ts   int64
	}{{"10", "1", 5}, {"9", "1", 7}, {"9", "200", 6}, {"9", "30", 6}} {
		c.User = append(c.User, c.Users.MustAdd(r.u))
		c.Item = append(c.Item, c.Items.MustAdd(r.i))
		c.TS = append(c.TS, r.ts)
	}
	want := func(prefix string, rows [][2]string, ts []int64) string {
		b := append([]byte(prefix), byte(data.IDInt64), byte(data.IDInt64))
		for k, r := range rows {
			for _, id := range r {
				b = binary.AppendUvarint(b, uint64(len(id)))
				b = append(b, id...)
			}
			b = binary.BigEndian.AppendUint64(b, uint64(ts[k]))
		}
		s := sha256.Sum256(b)
		return "sha256:" + hex.EncodeToString(s[:])
	}
	v2 := want("ralm-clicks-v2\x00", [][2]string{{"9", "1"}, {"9", "30"}, {"9", "200"}, {"10", "1"}}, []int64{7, 6, 6, 5})
	v1 := want("ralm-clicks-v1\x00", [][2]string{{"10", "1"}, {"9", "1"}, {"9", "200"}, {"9", "30"}}, []int64{5, 7, 6, 6})
	if got := bundle.FingerprintClicks(c); got != v2 {
		t.Errorf("FingerprintClicks = %s, want the version 2 encoding %s", got, v2)
	}
	for _, tc := range []struct {
		v    int
		want string
	}{{1, v1}, {2, v2}} {
		if got, err := bundle.FingerprintClicksVersion(c, tc.v); err != nil || got != tc.want {
			t.Errorf("version %d: %s, %v; want %s", tc.v, got, err, tc.want)
		}
	}
	for _, v := range []int{0, 3} {
		if _, err := bundle.FingerprintClicksVersion(c, v); err == nil {
			t.Errorf("version %d: no error", v)
		}
	}
	if bundle.FingerprintVersion != 2 {
		t.Errorf("FingerprintVersion = %d", bundle.FingerprintVersion)
	}
}

// TestOpenVersion1Fingerprint opens a folder as a build before fingerprint
// version 2 wrote it (a version 1 fingerprint, no
// clicks_fingerprint_version): it opens, FingerprintOf checks its seeds in
// version 1, and writing it again upgrades it to version 2.
func TestOpenVersion1Fingerprint(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "model")
	b := testworld.WriteBundle(t, dir)
	v1, err := bundle.FingerprintClicksVersion(b.Seeds, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v1 == bundle.FingerprintClicks(b.Seeds) {
		t.Fatal("versions 1 and 2 agree")
	}
	p := filepath.Join(dir, bundle.ManifestFile)
	raw, _ := os.ReadFile(p)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["clicks_fingerprint_version"] != float64(2) {
		t.Fatalf("written clicks_fingerprint_version %v, want 2", m["clicks_fingerprint_version"])
	}
	delete(m, "clicks_fingerprint_version")
	m["clicks_fingerprint"] = v1
	raw, _ = json.Marshal(m)
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	old, err := bundle.Open(ctx, dir)
	if err != nil {
		t.Fatalf("a version 1 folder does not open: %v", err)
	}
	if fp, err := old.FingerprintOf(old.Seeds); err != nil || fp != old.ClicksFingerprint || fp != v1 {
		t.Fatalf("FingerprintOf = %s, %v; manifest %s", fp, err, old.ClicksFingerprint)
	}
	out := filepath.Join(t.TempDir(), "again")
	if err := bundle.Write(out, old); err != nil {
		t.Fatalf("rewrite of a version 1 folder: %v", err)
	}
	nb, err := bundle.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if nb.ClicksFingerprintVersion != bundle.FingerprintVersion || nb.ClicksFingerprint != bundle.FingerprintClicks(b.Seeds) {
		t.Fatalf("rewritten: version %d fingerprint %s", nb.ClicksFingerprintVersion, nb.ClicksFingerprint)
	}
	// a version 1 fingerprint that does not match the seeds is still refused
	old.ClicksFingerprint = bundle.FingerprintClicks(nil)
	if err := bundle.Write(filepath.Join(t.TempDir(), "bad"), old); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched version 1 fingerprint: %v", err)
	}
}

func TestBundleRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	b := testworld.WriteBundle(t, dir)
	got, err := bundle.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID || got.ClicksFingerprint != bundle.FingerprintClicks(b.Seeds) {
		t.Fatalf("id %s/%s fingerprint %s", got.ID, b.ID, got.ClicksFingerprint)
	}
	m := got.Manifest
	if m.Format != bundle.BundleFormat || m.FormatVersion != bundle.BundleFormatVersion || m.UserIDKind != "int64" ||
		m.ItemIDKind != "int64" || m.EmbeddingDim != 8 || m.Users != 400 || m.Items != 24 || m.Clicks != b.Seeds.Len() ||
		m.Meta["note"] != "test" || len(m.LookAlikeConfig) == 0 || m.ModuleVersion == "" {
		t.Fatalf("manifest %+v", m)
	}
	if len(m.Files) != 3 {
		t.Fatalf("files %+v", m.Files)
	}
	if !slices.Equal(got.Embeddings.Vecs, b.Embeddings.Vecs) || bundle.FingerprintClicks(got.Seeds) != m.ClicksFingerprint {
		t.Fatal("embeddings or seeds differ after the round trip")
	}
	out1, out2 := make([]float32, 1), make([]float32, 1)
	st, err := got.LookAlike.BuildItem(context.Background(), got.Embeddings.Vecs[:10*8], nil)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := b.LookAlike.BuildItem(context.Background(), b.Embeddings.Vecs[:10*8], nil)
	got.LookAlike.Score(got.Embeddings.Vec(20), []*lookalike.ItemState{st}, out1)
	b.LookAlike.Score(b.Embeddings.Vec(20), []*lookalike.ItemState{st2}, out2)
	if out1[0] != out2[0] {
		t.Fatalf("loaded model scores %v, original %v", out1[0], out2[0])
	}
	// Writing again replaces the folder; the same content gives the same id.
	b2 := testworld.WriteBundle(t, dir)
	if b2.ID != b.ID {
		t.Fatalf("rewrite changed the id: %s vs %s", b2.ID, b.ID)
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		t.Fatalf("leftovers beside the folder: %v", ents)
	}
}

func TestBundleErrors(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "model")
	testworld.WriteBundle(t, src)
	clone := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "m")
		os.MkdirAll(dir, 0o755)
		ents, _ := os.ReadDir(src)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(src, e.Name()))
			os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
		return dir
	}
	editManifest := func(t *testing.T, dir string, f func(m map[string]any)) {
		raw, _ := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		raw, _ = json.Marshal(m)
		os.WriteFile(filepath.Join(dir, bundle.ManifestFile), raw, 0o644)
	}
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, dir string)
		want    string
	}{
		{"missing folder", func(t *testing.T, dir string) { os.RemoveAll(dir) }, "no such file"},
		{"no manifest", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, bundle.ManifestFile)) }, "no manifest.json"},
		{"corrupt manifest", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, bundle.ManifestFile), []byte("{not json"), 0o644)
		}, "manifest.json is corrupt"},
		{"newer version", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["format_version"] = 99 })
		}, "format version 99"},
		{"wrong format", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["format"] = "other" })
		}, `format "other"`},
		{"missing file", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, bundle.SeedsFile)) }, "seeds.parquet is missing"},
		{"truncated file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, bundle.LookAlikeFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "lookalike.model has"},
		{"flipped byte", func(t *testing.T, dir string) {
			p := filepath.Join(dir, bundle.EmbeddingsFile)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0xff
			os.WriteFile(p, b, 0o644)
		}, "embeddings.parquet is corrupt"},
		{"unlisted model", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) {
				files := m["files"].([]any)
				m["files"] = files[1:]
			})
		}, "does not list lookalike.model"},
		{"bad kind", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["user_id_kind"] = "uuid" })
		}, `unknown id kind "uuid"`},
		{"newer fingerprint version", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["clicks_fingerprint_version"] = 3 })
		}, "clicks fingerprint version 3"},
		{"users count", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["users"] = 50 })
		}, "embeddings.parquet has 400 users, the manifest says 50"},
		{"clicks count", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["clicks"] = 3 })
		}, "clicks, the manifest says 3"},
		{"embeddings replaced, checksum recomputed", func(t *testing.T, dir string) {
			// 50 of the 400 users, written as a valid file whose size and
			// SHA-256 are put in the manifest: only the count gives it away
			s, _ := testworld.Small(t)
			e := s.Emb
			users := data.NewVocab(e.Users.Kind())
			for i := range 50 {
				users.Add(e.Users.ID(int32(i)))
			}
			p := filepath.Join(dir, bundle.EmbeddingsFile)
			if err := data.WriteEmbeddings(ctx, p, users, e.Dim, e.Vecs[:50*e.Dim]); err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(p)
			sum := sha256.Sum256(raw)
			editManifest(t, dir, func(m map[string]any) {
				for _, f := range m["files"].([]any) {
					if f := f.(map[string]any); f["name"] == bundle.EmbeddingsFile {
						f["size"], f["sha256"] = len(raw), hex.EncodeToString(sum[:])
					}
				}
			})
		}, "embeddings.parquet has 50 users, the manifest says 400"},
		{"path in file list", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) {
				m["files"].([]any)[0].(map[string]any)["name"] = "../x"
			})
		}, "bad file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := clone(t)
			tc.breakIt(t, dir)
			_, err := bundle.Open(ctx, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWriteBundleRefusesOtherFolders(t *testing.T) {
	s, m := testworld.Small(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o644)
	err := bundle.Write(dir, &bundle.Bundle{LookAlike: m, Embeddings: s.Emb, Seeds: s.Clicks})
	if err == nil || !strings.Contains(err.Error(), "refusing to replace") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious.txt")); err != nil {
		t.Fatal("the folder was touched")
	}
	for _, tc := range []struct {
		name string
		b    *bundle.Bundle
		want string
	}{
		{"no model", &bundle.Bundle{Embeddings: s.Emb, Seeds: s.Clicks}, "no look-alike model"},
		{"no embeddings", &bundle.Bundle{LookAlike: m, Seeds: s.Clicks}, "no user embeddings"},
		{"no seeds", &bundle.Bundle{LookAlike: m, Embeddings: s.Emb}, "no seeds"},
		{"wrong dim", &bundle.Bundle{LookAlike: m, Seeds: s.Clicks, Embeddings: &data.Embeddings{Users: s.Emb.Users, Dim: 4, Vecs: s.Emb.Vecs}}, "dim 4"},
		{"bad fingerprint", &bundle.Bundle{LookAlike: m, Embeddings: s.Emb, Seeds: s.Clicks, Manifest: bundle.Manifest{ClicksFingerprint: "sha256:00"}}, "does not match"},
	} {
		out := filepath.Join(t.TempDir(), "m")
		if err := bundle.Write(out, tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: a folder was left behind", tc.name)
		}
	}
}

// TestWriteContextCancelled cancels a model-folder write mid-way (from the
// progress callback of the embeddings or of the seeds file): the write stops
// with the context's error, leaves no temporary folder, and the destination
// is untouched (absent, or the previous model folder byte for byte).
func TestWriteContextCancelled(t *testing.T) {
	s, m := testworld.Small(t)
	for _, tc := range []struct {
		name     string
		existing bool
		cancelAt int // the progress call that cancels, counting from 1
	}{
		{"new folder, during embeddings", false, 1},
		{"new folder, during seeds", false, 2},
		{"replacing, during embeddings", true, 1},
		{"replacing, during seeds", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "model")
			var before []byte
			if tc.existing {
				if err := bundle.Write(dir, &bundle.Bundle{LookAlike: m, Embeddings: s.Emb, Seeds: s.Clicks, Manifest: bundle.Manifest{Meta: map[string]string{"run": "1"}}}); err != nil {
					t.Fatal(err)
				}
				var err error
				if before, err = os.ReadFile(filepath.Join(dir, bundle.ManifestFile)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			progress := data.WithProgress(func(done, total int64, rate float64) {
				calls++
				if calls == tc.cancelAt {
					cancel()
				}
			})
			b := &bundle.Bundle{LookAlike: m, Embeddings: s.Emb, Seeds: s.Clicks, Manifest: bundle.Manifest{Meta: map[string]string{"run": "2"}}}
			err := bundle.WriteContext(ctx, dir, b, progress)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if calls != tc.cancelAt {
				t.Errorf("%d progress calls after cancelling at call %d", calls, tc.cancelAt)
			}
			ents, err := os.ReadDir(filepath.Dir(dir))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Name() != "model" {
					t.Errorf("left behind: %s", e.Name())
				}
			}
			after, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
			switch {
			case !tc.existing && !errors.Is(err, os.ErrNotExist):
				t.Errorf("destination created (read manifest: %v)", err)
			case tc.existing && !slices.Equal(after, before):
				t.Errorf("destination changed (read manifest: %v)", err)
			}
			if tc.existing {
				if _, err := bundle.Open(context.Background(), dir); err != nil {
					t.Errorf("previous folder no longer opens: %v", err)
				}
			}
		})
	}
}
