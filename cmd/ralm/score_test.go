package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/offline"
)

// itemsBySeeds returns item ids of the model with at least min and fewer
// than max distinct clickers.
func itemsBySeeds(b *bundle.Bundle, min, max int) []string {
	seen := map[[2]int32]bool{}
	n := make([]int, b.Seeds.Items.Len())
	for k := range b.Seeds.User {
		if key := [2]int32{b.Seeds.User[k], b.Seeds.Item[k]}; !seen[key] {
			seen[key] = true
			n[b.Seeds.Item[k]]++
		}
	}
	var out []string
	for i, c := range n {
		if c >= min && c < max {
			out = append(out, b.Seeds.Items.ID(int32(i)))
		}
	}
	return out
}

// checkScore runs ralm score on a trained model folder.
func checkScore(t *testing.T, w *trainedWorld, b *bundle.Bundle) {
	warm := itemsBySeeds(b, bundle.DefaultMinSeeds, 1<<30)
	few := itemsBySeeds(b, 1, bundle.DefaultMinSeeds)
	if len(warm) < 2 || len(few) == 0 {
		t.Fatalf("test data: %d warm items, %d with few seeds", len(warm), len(few))
	}
	user := b.Embeddings.Users.ID(3)
	items := []string{warm[0], few[0], "99999", warm[1]}
	out := mustRun(t, "score", "--model", w.model, "--user", user, "--items", strings.Join(items, ","))
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(items) {
		t.Fatalf("%d lines for %d items:\n%s", len(lines), len(items), out)
	}
	wantStatus := []string{"ok", "cold", "unknown_item", "ok"}
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != items[i] || f[2] != wantStatus[i] {
			t.Fatalf("line %d %q: want item %s status %s", i, l, items[i], wantStatus[i])
		}
		if f[2] == "unknown_item" {
			if f[1] != "-" {
				t.Fatalf("unknown item scored %q", f[1])
			}
			continue
		}
		s, err := strconv.ParseFloat(f[1], 64)
		if err != nil || s < -1.0001 || s > 1.0001 {
			t.Fatalf("line %q: score %v (%v)", l, s, err)
		}
	}
	// The scores are the library's.
	res, err := offline.ScoreItems(t.Context(), b, user, items, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(lines[0]); f[1] != strconv.FormatFloat(float64(res[0].Score), 'f', 6, 32) {
		t.Fatalf("score %s, library %v", f[1], res[0].Score)
	}
	// --min-seeds 1: the item with few seeds is scored by the model;
	// canonical int64 ids: "007" is 7.
	out = mustRun(t, "score", "--model", w.model, "--user", "00"+user, "--items", few[0], "--min-seeds", "1")
	if f := strings.Fields(out); len(f) != 3 || f[2] != "ok" {
		t.Fatalf("--min-seeds 1: %q", out)
	}

	corrupt := filepath.Join(t.TempDir(), "corrupt")
	copyDir(t, w.model, corrupt)
	if err := os.WriteFile(filepath.Join(corrupt, bundle.ManifestFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "tampered")
	copyDir(t, w.model, tampered)
	if err := os.WriteFile(filepath.Join(tampered, bundle.SeedsFile), []byte("PAR1 nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nothing")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing flags", []string{"score"}, `required flag(s) "items", "model", "user" not set`},
		{"unknown user", []string{"score", "--model", w.model, "--user", "987654", "--items", warm[0]}, `unknown user "987654": the model ` + w.model + " has no embedding for it"},
		{"user not an int", []string{"score", "--model", w.model, "--user", "u1", "--items", warm[0]}, `user id "u1" is not an integer`},
		{"empty items", []string{"score", "--model", w.model, "--user", user, "--items", ""}, "--items must list at least one item id"},
		{"empty element", []string{"score", "--model", w.model, "--user", user, "--items", warm[0] + ",," + warm[1]}, "--items element 2 of 3: empty item id"},
		{"blank repeated element", []string{"score", "--model", w.model, "--user", user, "--items", warm[0], "--items", " "}, "--items element 2 of 2: empty item id"},
		{"element not an int", []string{"score", "--model", w.model, "--user", user, "--items", warm[0] + ",abc"}, `--items element 2 of 2: item id "abc" is not an integer`},
		{"missing model", []string{"score", "--model", missing, "--user", user, "--items", warm[0]}, "open model folder " + missing},
		{"not a model", []string{"score", "--model", w.dir, "--user", user, "--items", warm[0]}, "no manifest.json"},
		{"corrupt manifest", []string{"score", "--model", corrupt, "--user", user, "--items", warm[0]}, "manifest.json is corrupt"},
		{"tampered file", []string{"score", "--model", tampered, "--user", user, "--items", warm[0]}, "seeds.parquet has"},
		{"min seeds", []string{"score", "--model", w.model, "--user", user, "--items", warm[0], "--min-seeds", "0"}, "--min-seeds must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectFailure(t, tt.args, tt.want) })
	}
}

// copyDir copies the regular files of a folder.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readAudience reads an expand output: ids, scores and ranks.
func readAudience(t *testing.T, path string) (ids []string, scores []float64, ranks []string) {
	t.Helper()
	tab, err := data.ReadTable(t.Context(), path, data.ColUserID, data.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, rk := tab.Column("score"), tab.Column("rank")
	if sc == nil || rk == nil || len(tab.Columns) != 2 {
		t.Fatalf("%s: columns %v", path, tab.Columns)
	}
	for r := range tab.Rows() {
		ids = append(ids, tab.Keys.ID(int32(r)))
		scores = append(scores, sc.Floats[r])
		ranks = append(ranks, rk.Values.ID(rk.Row(r)[0]))
	}
	if !slices.IsSortedFunc(scores, func(a, b float64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	}) {
		t.Fatalf("%s: scores not in descending order: %v", path, scores)
	}
	return ids, scores, ranks
}
