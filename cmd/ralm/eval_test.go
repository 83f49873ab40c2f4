package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalModelAndSplit evaluates a trained model folder on its split, then
// splits, trains and evaluates in one command, and checks every output.
func TestEvalModelAndSplit(t *testing.T) {
	w := newTrainedWorld(t)
	report := w.path("report.json")
	out := mustRun(t, "eval", "--model", w.model, "--split", w.dir, "--report", report, "--per-item", w.path("items_eval.parquet"))
	for _, want := range []string{"activity", "centroid", "knn", "itemvec", "ralm", "warm AUC"} {
		if !strings.Contains(out, want) {
			t.Fatalf("eval table lacks %q:\n%s", want, out)
		}
	}
	var rep struct {
		Scoring string `json:"scoring"`
		Models  map[string]map[string]struct {
			AUC    *float64 `json:"auc"`
			NItems int      `json:"n_items"`
		} `json:"models"`
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if m := rep.Models["ralm"]["warm"]; m.AUC == nil || m.NItems == 0 {
		t.Fatalf("report lacks ralm warm metrics: %s", b)
	}
	if _, ok := rep.Models["ralm-avg"]; ok {
		t.Error("ralm-avg reported for a model folder that has none")
	}
	if rep.Scoring != "exact" {
		t.Errorf("default scoring %q, want exact", rep.Scoring)
	}

	// --candidates: sampled negatives, said in the table and the report
	out = mustRun(t, "eval", "--model", w.model, "--split", w.dir, "--candidates", "20", "--seed", "3", "--report", report)
	if !strings.Contains(out, "candidates sampled: 20 negatives per item, seed 3") {
		t.Errorf("sampled eval table does not say so:\n%s", out)
	}
	if b, err = os.ReadFile(report); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil || rep.Scoring != "sampled: 20 negatives per item, seed 3" {
		t.Errorf("sampled report scoring %q (%v)", rep.Scoring, err)
	}

	// One command: split, train (tiny), evaluate all six models.
	plot := w.path("auc.png")
	out = mustRun(t, append([]string{"eval", "--clicks", w.path(clicksFile), "--users", w.path(usersFile),
		"--items", w.path(itemsFile), "--fresh", "0.2", "--scores", w.path("scores.parquet"), "--plot", plot}, tinyTrain...)...)
	for _, want := range []string{"ralm-avg", "itemvec", "zero-seed (attributes only)", "popularity", "ralm-features"} {
		if !strings.Contains(out, want) {
			t.Fatalf("eval table lacks %q:\n%s", want, out)
		}
	}
	f, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("plot: %v", err)
	}
	if st, err := os.Stat(w.path("scores.parquet")); err != nil || st.Size() == 0 {
		t.Fatalf("scores file: %v", err)
	}

	// --avg=false: no avg-pooling model is trained, no ralm-avg row.
	out = mustRun(t, append([]string{"eval", "--clicks", w.path(clicksFile), "--fresh", "0.2", "--avg=false", "--report", report}, tinyTrain...)...)
	if b, err = os.ReadFile(report); err != nil {
		t.Fatal(err)
	}
	rep.Models = nil
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if _, ok := rep.Models["ralm-avg"]; ok || strings.Contains(out, "ralm-avg") {
		t.Errorf("--avg=false: ralm-avg reported:\n%s", out)
	}
	if _, ok := rep.Models["ralm"]; !ok {
		t.Errorf("--avg=false: no ralm row:\n%s", out)
	}
}

func TestEvalBadInput(t *testing.T) {
	w := newTrainedWorld(t)
	other := t.TempDir()
	mustRun(t, "split", "--clicks", w.path(clicksFile), "--out", other, "--fresh", "0.2", "--seed", "9", "-q")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval"}, "give --clicks"},
		{[]string{"eval", "--model", w.model}, "missing [split]"},
		{[]string{"eval", "--model", w.model, "--split", other}, "fingerprints differ"},
		{[]string{"eval", "--model", w.model, "--split", w.dir, "--fresh", "0.3"}, "apply to --clicks"},
		{[]string{"eval", "--model", w.model, "--split", w.dir, "--avg=false"}, "apply to --clicks"},
		{[]string{"eval", "--model", filepath.Join(w.dir, "nope"), "--split", w.dir}, "nope"},
		{[]string{"eval", "--model", w.model, "--split", w.dir, "--report", filepath.Join(w.dir, "no", "r.json")}, "does not exist"},
		{[]string{"eval", "--clicks", w.path(clicksFile), "--fresh", "1.5"}, "fresh"},
		{[]string{"eval", "--model", w.model, "--split", w.dir, "--candidates", "-1"}, "--candidates -1"},
	} {
		expectFailure(t, tc.args, tc.want)
	}
}
