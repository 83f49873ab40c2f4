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

// checkExpand runs ralm expand on a trained model folder.
func checkExpand(t *testing.T, w *trainedWorld, b *bundle.Bundle) {
	item := itemsBySeeds(b, bundle.DefaultMinSeeds, 1<<30)[0]
	out := filepath.Join(t.TempDir(), "top.parquet")
	stdout := mustRun(t, "expand", "--model", w.model, "--item", item, "--n", "20", "--out", out)
	if !strings.Contains(stdout, "expanded item "+item) || !strings.Contains(stdout, "(ok)") || !strings.Contains(stdout, "wrote the top 20 users to "+out) {
		t.Fatalf("expand output:\n%s", stdout)
	}
	ids, _, ranks := readAudience(t, out)
	seeds, _ := offline.ItemSeeds(b, item)
	if len(ids) != 20 {
		t.Fatalf("%d users, want 20", len(ids))
	}
	for i, id := range ids {
		if slices.Contains(seeds, id) {
			t.Fatalf("seed %s in the expansion", id)
		}
		if ranks[i] != strconv.Itoa(i+1) {
			t.Fatalf("row %d has rank %s", i, ranks[i])
		}
	}
	// The output is the library's expansion.
	e, err := offline.ExpandItem(t.Context(), b, item, 20, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range e.Users {
		if ids[i] != u.UserID {
			t.Fatalf("row %d: %s, library %s", i, ids[i], u.UserID)
		}
	}

	// --seeds: a user_id table (the expansion just written is one).
	out2 := filepath.Join(t.TempDir(), "top2.arrow")
	stdout = mustRun(t, "expand", "--model", w.model, "--seeds", out, "--n", "5", "--out", out2)
	ids2, _, _ := readAudience(t, out2)
	if len(ids2) != 5 || !strings.Contains(stdout, "20 seeds (ok)") {
		t.Fatalf("--seeds: %d users\n%s", len(ids2), stdout)
	}
	for _, id := range ids2 {
		if slices.Contains(ids, id) {
			t.Fatalf("seed %s in the expansion", id)
		}
	}

	// --seeds with --item: a fresh item's seeds from the split.
	fresh, err := data.ReadClicks(t.Context(), w.path(freshSeedsFile), data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fid := fresh.Items.ID(fresh.Item[0])
	out3 := filepath.Join(t.TempDir(), "fresh.parquet")
	stdout = mustRun(t, "expand", "--model", w.model, "--seeds", w.path(freshSeedsFile), "--item", fid, "--n", "1000000", "--out", out3)
	if !strings.Contains(stdout, "expanded item "+fid+" (seeds from ") {
		t.Fatalf("fresh expand:\n%s", stdout)
	}
	ids3, _, _ := readAudience(t, out3)
	var fseeds []string
	for k, it := range fresh.Item {
		if fresh.Items.ID(it) == fid {
			fseeds = append(fseeds, fresh.Users.ID(fresh.User[k]))
		}
	}
	// n above the number of users: every user with an embedding but the seeds.
	known := 0
	for _, s := range fseeds {
		if _, ok := b.Embeddings.Users.Index(s); ok {
			known++
		}
	}
	if len(ids3) != b.Embeddings.Users.Len()-known {
		t.Fatalf("%d users, want %d", len(ids3), b.Embeddings.Users.Len()-known)
	}

	notTable := filepath.Join(t.TempDir(), "x.parquet")
	if err := os.WriteFile(notTable, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no seeds", []string{"expand", "--model", w.model, "--out", bad}, "at least one of the flags in the group [item seeds] is required"},
		{"missing out", []string{"expand", "--model", w.model, "--item", item}, `required flag(s) "out" not set`},
		{"unknown item", []string{"expand", "--model", w.model, "--item", "424242", "--out", bad}, `unknown item "424242": the model ` + w.model + " has no click on it"},
		{"item not an int", []string{"expand", "--model", w.model, "--item", "i3", "--out", bad}, `item id "i3" is not an integer`},
		{"zero n", []string{"expand", "--model", w.model, "--item", item, "--n", "0", "--out", bad}, "--n must be positive, got 0"},
		{"seeds not a table", []string{"expand", "--model", w.model, "--seeds", notTable, "--out", bad}, "read table " + notTable},
		{"fresh item not in seeds", []string{"expand", "--model", w.model, "--seeds", w.path(freshSeedsFile), "--item", "424242", "--out", bad}, "has no click on item 424242"},
		{"missing model", []string{"expand", "--model", filepath.Join(w.dir, "nope"), "--item", item, "--out", bad}, "open model folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectFailure(t, tt.args, tt.want) })
	}
	if _, err := os.Stat(bad); err == nil {
		t.Fatal("a failed expand wrote its output")
	}
}
