package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/offline"
)

// TestQuietAndJSON: --quiet keeps only results not sent to a file, and -o
// json prints one parseable document with the values of the text output.
func TestQuietAndJSON(t *testing.T) {
	w := newTrainedWorld(t)
	b, err := bundle.Open(t.Context(), w.model)
	if err != nil {
		t.Fatal(err)
	}
	item := itemsBySeeds(b, bundle.DefaultMinSeeds, 1<<30)[0]
	user := b.Embeddings.Users.ID(3)
	tmp := t.TempDir()
	train := func(extra ...string) []string {
		return append(append([]string{"train", "--clicks", w.path(trainFile), "--out", filepath.Join(tmp, "m")}, tinyTrain...), extra...)
	}

	// --quiet: nothing on stdout or stderr when every result went to a file.
	for _, args := range [][]string{
		{"synth", "--users", "200", "--items", "60", "--out", filepath.Join(tmp, "s")},
		{"split", "--clicks", w.path(clicksFile), "--out", filepath.Join(tmp, "sp")},
		train(),
		{"expand", "--model", w.model, "--item", item, "--n", "5", "--out", filepath.Join(tmp, "e.parquet")},
		{"eval", "--model", w.model, "--split", w.dir, "--report", filepath.Join(tmp, "r.json")},
		{"plot", "--log", w.path("train.jsonl"), "--out", filepath.Join(tmp, "c.png")},
	} {
		code, out, errs := exec(t, append(args, "--quiet")...)
		if code != 0 || out != "" || errs != "" {
			t.Errorf("%s --quiet: exit %d, stdout %q, stderr %q", args[0], code, out, errs)
		}
	}
	// --quiet keeps results that have nowhere else to go.
	if out := mustRun(t, "score", "--model", w.model, "--user", user, "--items", item, "-q"); strings.Count(out, "\n") != 1 || !strings.Contains(out, " ok") {
		t.Errorf("score --quiet: %q", out)
	}
	if out := mustRun(t, "eval", "--model", w.model, "--split", w.dir, "-q"); !strings.Contains(out, "warm AUC") {
		t.Errorf("eval --quiet without --report dropped its table: %q", out)
	}

	t.Run("score", func(t *testing.T) {
		var rows []struct {
			ItemID string   `json:"item_id"`
			Score  *float64 `json:"score"`
			Status string   `json:"status"`
		}
		decode(t, mustRun(t, "score", "--model", w.model, "--user", user, "--items", item+",99999", "-o", "json"), &rows)
		res, err := offline.ScoreItems(t.Context(), b, user, []string{item}, offline.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].ItemID != item || rows[0].Status != "ok" || rows[0].Score == nil ||
			float32(*rows[0].Score) != res[0].Score || rows[1].Status != "unknown_item" || rows[1].Score != nil {
			t.Fatalf("score -o json: %+v", rows)
		}
	})
	t.Run("expand", func(t *testing.T) {
		var s struct {
			Item    string `json:"item"`
			Seeds   int    `json:"seeds"`
			Status  string `json:"status"`
			Written int    `json:"users_written"`
			Top     []struct {
				Rank   int    `json:"rank"`
				UserID string `json:"user_id"`
			} `json:"top"`
		}
		decode(t, mustRun(t, "expand", "--model", w.model, "--item", item, "--n", "7", "--out", filepath.Join(tmp, "e.parquet"), "-o", "json"), &s)
		e, err := offline.ExpandItem(t.Context(), b, item, 7, offline.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Item != item || s.Seeds != e.Seeds || s.Status != "ok" || s.Written != 7 || len(s.Top) != 5 || s.Top[0].UserID != e.Users[0].UserID || s.Top[4].Rank != 5 {
			t.Fatalf("expand -o json: %+v", s)
		}
	})
	t.Run("train", func(t *testing.T) {
		var s trainSummary
		decode(t, mustRun(t, train("-o", "json")...), &s)
		if s.UserModel == nil || s.UserModel.Epochs != 1 || s.LookAlike == nil || s.LookAlike.Epochs != 1 ||
			s.Embedded.Dim != 8 || s.Model.Dir != filepath.Join(tmp, "m") || s.Model.Users != b.Users || s.Model.ID == "" {
			t.Fatalf("train -o json: %+v", s)
		}
	})
	t.Run("eval", func(t *testing.T) {
		var rep struct {
			Models map[string]map[string]struct {
				AUC float64 `json:"auc"`
			} `json:"models"`
			Order []string `json:"model_order"`
		}
		decode(t, mustRun(t, "eval", "--model", w.model, "--split", w.dir, "-o", "json"), &rep)
		if len(rep.Order) < 4 || rep.Models["ralm"]["warm"].AUC <= 0 {
			t.Fatalf("eval -o json: %+v", rep)
		}
	})
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, s)
	}
}
