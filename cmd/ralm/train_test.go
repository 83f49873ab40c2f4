package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/ralm/bundle"
)

// tinyTrain are training flags that keep a run to a second or two.
var tinyTrain = []string{"--epochs", "1", "--dim", "8", "--hidden", "16,8", "--k", "4", "--batch", "64",
	"--negatives", "5", "--seed", "3"}

// trainedWorld is a tiny synthetic data set (in data), its split (in dir),
// and a model folder (dir/model) trained on the split's training clicks.
type trainedWorld struct {
	dir, data, model string
}

// newTrainedWorld runs synth, split and train with tiny settings.
func newTrainedWorld(t *testing.T) *trainedWorld {
	t.Helper()
	dir := t.TempDir()
	w := &trainedWorld{dir: dir, data: t.TempDir(), model: filepath.Join(dir, "model")}
	mustRun(t, "synth", "--users", "300", "--items", "100", "--clicks-per-user", "15", "--communities", "4",
		"--seed", "3", "--out", w.data, "-q")
	mustRun(t, "split", "--clicks", w.path(clicksFile), "--out", dir, "--fresh", "0.2", "-q")
	out := mustRun(t, append([]string{"train", "--clicks", w.path(trainFile), "--users", w.path(usersFile),
		"--items", w.path(itemsFile), "--out", w.model, "--log", w.path("train.jsonl")}, tinyTrain...)...)
	for _, want := range []string{"user model: 1 epochs", "embedded ", "look-alike model: 1 epochs", "wrote model folder " + w.model} {
		if !strings.Contains(out, want) {
			t.Fatalf("train output lacks %q:\n%s", want, out)
		}
	}
	return w
}

// path is the path of a file of the world: synth's files are in data (split
// refuses a folder with files it does not write), the rest in dir.
func (w *trainedWorld) path(name string) string {
	switch name {
	case clicksFile, usersFile, itemsFile:
		return filepath.Join(w.data, name)
	}
	return filepath.Join(w.dir, name)
}

// TestTrainScoreExpand trains once and runs every command on the model.
func TestTrainScoreExpand(t *testing.T) {
	w := newTrainedWorld(t)
	ctx := context.Background()
	b, err := bundle.Open(ctx, w.model)
	if err != nil {
		t.Fatal(err)
	}
	if b.UserModel == nil || b.LookAlike == nil || b.Embeddings.Dim != 8 || b.Meta["userrep_epochs"] != "1" || b.Meta["lookalike_epochs"] != "1" {
		t.Fatalf("model folder: user model %v, dim %d, meta %v", b.UserModel != nil, b.Embeddings.Dim, b.Meta)
	}

	t.Run("log", func(t *testing.T) { checkTrainLog(t, w.path("train.jsonl")) })
	t.Run("plot", func(t *testing.T) {
		png := filepath.Join(t.TempDir(), "curves.png")
		out := mustRun(t, "plot", "--log", w.path("train.jsonl"), "--out", png)
		if !strings.Contains(out, "plotted 2 stage(s)") {
			t.Fatalf("plot output %q", out)
		}
		checkPNG(t, png)
		// A log cut mid-line (a run still writing) plots up to its last
		// complete record; a log without training records is an error.
		b, _ := os.ReadFile(w.path("train.jsonl"))
		cut := filepath.Join(t.TempDir(), "cut.jsonl")
		os.WriteFile(cut, b[:len(b)-10], 0o644)
		mustRun(t, "plot", "--log", cut, "--out", png, "-q")
		os.WriteFile(cut, []byte(`{"type":"stage","stage":"userrep"}`+"\n"), 0o644)
		if code, _, errs := exec(t, "plot", "--log", cut, "--out", png); code != 1 || !strings.Contains(errs, "no step or epoch record") {
			t.Fatalf("empty log: exit %d, %q", code, errs)
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		again := filepath.Join(t.TempDir(), "model")
		mustRun(t, append([]string{"train", "--clicks", w.path(trainFile), "--users", w.path(usersFile),
			"--items", w.path(itemsFile), "--out", again}, tinyTrain...)...)
		a, _ := os.ReadFile(filepath.Join(w.model, bundle.ManifestFile))
		c, _ := os.ReadFile(filepath.Join(again, bundle.ManifestFile))
		if len(a) == 0 || !bytes.Equal(a, c) {
			t.Fatalf("two runs with the same seed wrote different manifests (checksums of every file):\n%s\n%s", a, c)
		}
		// Training again into an existing model folder replaces it, and
		// removes (with a note) the temporary folder a killed earlier run
		// left beside it, but nothing else.
		stale, other := filepath.Join(filepath.Dir(again), ".model.tmp-4242"), filepath.Join(filepath.Dir(again), ".model.tmp-x")
		for _, d := range []string{stale, other} {
			if err := os.MkdirAll(filepath.Join(d, "embeddings.parquet"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		code, _, errs := exec(t, append([]string{"train", "--clicks", w.path(trainFile), "--out", again}, tinyTrain...)...)
		if code != 0 {
			t.Fatalf("train again: exit %d, stderr %q", code, errs)
		}
		if !strings.Contains(errs, "ralm: removed "+stale+", left by an interrupted earlier run\n") {
			t.Errorf("no note about the stale folder in stderr %q", errs)
		}
		if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale folder not removed: %v", err)
		}
		if _, err := os.Stat(other); err != nil {
			t.Errorf("another destination's entry was touched: %v", err)
		}
	})

	t.Run("score", func(t *testing.T) { checkScore(t, w, b) })
	t.Run("expand", func(t *testing.T) { checkExpand(t, w, b) })

	t.Run("train lookalike", func(t *testing.T) {
		la := filepath.Join(t.TempDir(), "la")
		out := mustRun(t, "train", "lookalike", "--embeddings", filepath.Join(w.model, bundle.EmbeddingsFile),
			"--clicks", w.path(trainFile), "--user-model", w.model, "--out", la, "--epochs", "1", "--k", "4",
			"--batch", "64", "--valid", "0.2", "--log", w.path("la.jsonl"))
		if !strings.Contains(out, "validation AUC") || !strings.Contains(out, "wrote model folder "+la) {
			t.Fatalf("train lookalike output:\n%s", out)
		}
		lb, err := bundle.Open(ctx, la)
		if err != nil {
			t.Fatal(err)
		}
		if lb.UserModel == nil || lb.Seeds.Len() != b.Seeds.Len() || lb.ClicksFingerprint != b.ClicksFingerprint {
			t.Fatalf("look-alike folder: user model %v, %d seeds (want %d), fingerprint %s vs %s",
				lb.UserModel != nil, lb.Seeds.Len(), b.Seeds.Len(), lb.ClicksFingerprint, b.ClicksFingerprint)
		}
		recs := readLog(t, w.path("la.jsonl"))
		var auc any
		for _, r := range recs {
			if r["type"] == "epoch" {
				auc = r["valid_auc"]
			}
		}
		if a, ok := auc.(float64); !ok || !(a > 0 && a <= 1) {
			t.Fatalf("validation AUC in the log: %v", auc)
		}
		// Without a user model: still scorable for known users.
		la2 := filepath.Join(t.TempDir(), "la2")
		mustRun(t, "train", "lookalike", "--embeddings", filepath.Join(w.model, bundle.EmbeddingsFile),
			"--clicks", w.path(trainFile), "--out", la2, "--epochs", "1", "--k", "4", "--batch", "64", "-q")
		user := b.Embeddings.Users.ID(0)
		if out := mustRun(t, "score", "--model", la2, "--user", user, "--items", b.Seeds.Items.ID(0)); strings.Count(out, "\n") != 1 {
			t.Fatalf("score on a look-alike-only folder: %q", out)
		}
	})
}

// checkTrainLog: stage, step and epoch records of both stages; the
// look-alike steps' losses average to their epoch's loss.
func checkTrainLog(t *testing.T, path string) {
	t.Helper()
	recs := readLog(t, path)
	count := map[string]int{}
	var laSum, laN float64
	var laEpochLoss float64
	var prevTime time.Time
	prevElapsed := -1.0
	for _, r := range recs {
		stage, _ := r["stage"].(string)
		typ, _ := r["type"].(string)
		count[stage+"/"+typ]++
		// every record: a timestamp and the time since the run started,
		// both non-decreasing
		ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["time"]))
		elapsed, ok := r["elapsed_s"].(float64)
		if err != nil || !ok || ts.Before(prevTime) || elapsed < prevElapsed {
			t.Fatalf("record without an increasing time and elapsed_s: %v (%v)", r, err)
		}
		prevTime, prevElapsed = ts, elapsed
		if typ == "step" {
			if v, ok := r["examples_per_s"].(float64); !ok || v < 0 {
				t.Fatalf("step without examples_per_s: %v", r)
			}
		}
		if typ == "step" {
			if l, ok := r["loss"].(float64); !ok || math.IsNaN(l) || l <= 0 {
				t.Fatalf("step without a positive loss: %v", r)
			}
		}
		if stage == "lookalike" && typ == "step" {
			n := r["examples"].(float64)
			laSum += r["loss"].(float64) * n
			laN += n
		}
		if stage == "lookalike" && typ == "epoch" {
			laEpochLoss = r["loss"].(float64)
		}
	}
	for _, k := range []string{"userrep/stage", "embed/stage", "lookalike/stage", "userrep/epoch", "lookalike/epoch"} {
		if count[k] != 1 {
			t.Fatalf("log has %d %s records (want 1): %v", count[k], k, count)
		}
	}
	if count["userrep/step"] < 2 || count["lookalike/step"] < 2 {
		t.Fatalf("log steps: %v", count)
	}
	if got := laSum / laN; math.Abs(got-laEpochLoss) > 1e-6*laEpochLoss {
		t.Fatalf("look-alike step losses average to %v, the epoch loss is %v", got, laEpochLoss)
	}
}

// checkPNG fails unless path is a PNG image of a reasonable size.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Fatalf("%s is %v, too small", path, b)
	}
}

func readLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		t.Fatal("empty log")
	}
	return recs
}

func TestTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	busy := filepath.Join(dir, "busy")
	if err := os.MkdirAll(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.parquet")
	out := filepath.Join(dir, "model")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing flags", []string{"train"}, `required flag(s) "clicks", "out" not set`},
		{"epochs twice", []string{"train", "--clicks", missing, "--out", out, "--epochs", "2", "--epochs-la", "3"}, "[epochs epochs-la] were all set"},
		{"bad pooling", []string{"train", "--clicks", missing, "--out", out, "--pooling", "max"}, `invalid argument "max" for "--pooling" flag: pooling "max": want one of attention, avg`},
		{"bad merge", []string{"train", "--clicks", missing, "--out", out, "--merge", "sum"}, `invalid argument "sum" for "--merge" flag: merge "sum": want one of attention, concat, gated`},
		{"zero epochs", []string{"train", "--clicks", missing, "--out", out, "--epochs", "0"}, "--epochs must be positive, got 0"},
		{"out not empty", []string{"train", "--clicks", missing, "--out", busy}, "holds notes.txt, which 'ralm train' does not write"},
		{"missing clicks", []string{"train", "--clicks", missing, "--out", out}, "read clicks " + missing},
		{"negative threads", []string{"train", "--clicks", missing, "--out", out, "--threads", "-1"}, "--threads must not be negative, got -1"},
		{"resume without checkpoint", []string{"train", "--clicks", missing, "--out", out, "--resume"}, "--resume: no checkpoint at " + out + ".checkpoint: nothing to resume"},
		{"unknown subcommand", []string{"train", "userrepp"}, `unknown command "userrepp"`},
		{"lookalike negative threads", []string{"train", "lookalike", "--embeddings", missing, "--clicks", missing, "--out", out, "--threads", "-2"}, "--threads must not be negative, got -2"},
		{"lookalike missing flags", []string{"train", "lookalike", "--out", out}, `required flag(s) "clicks", "embeddings" not set`},
		{"lookalike missing embeddings", []string{"train", "lookalike", "--embeddings", missing, "--clicks", missing, "--out", out}, "read embeddings " + missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectFailure(t, tt.args, tt.want) })
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a failed train left a model folder behind")
	}
}

// expectFailure runs the CLI and checks it fails with one "ralm: " line on
// stderr containing want.
func expectFailure(t *testing.T, args []string, want string) {
	t.Helper()
	code, _, errs := exec(t, args...)
	if code == 0 {
		t.Fatalf("ralm %s: exit 0, want failure", strings.Join(args, " "))
	}
	lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "ralm: ") {
		t.Fatalf("stderr is not one 'ralm: ' line: %q", errs)
	}
	if !strings.Contains(lines[0], want) {
		t.Fatalf("stderr %q, want it to contain %q", lines[0], want)
	}
}

// TestEveryCommandHasExample walks the whole command tree, subcommands
// included.
func TestEveryCommandHasExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() != "help" && !sub.Hidden && sub.Example == "" {
				t.Errorf("command %q has no Example", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(newRootCmd())
	for _, args := range [][]string{{"train", "--help"}, {"train", "lookalike", "--help"}, {"score", "--help"}, {"expand", "--help"}} {
		code, out, _ := exec(t, args...)
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
}

// TestQuickstartTrains runs the quickstart at a tiny size: every step,
// including training, scoring and the expansion.
func TestQuickstartTrains(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := exec(t, "quickstart", "--out", dir, "--users", "300", "--epochs-user", "1", "--epochs-la", "1")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if errs != "" {
		t.Fatalf("quickstart wrote to stderr without --verbose: %q", errs)
	}
	for _, want := range []string{"[1/6] generate", "[2/6] split", "[3/6] train", "[4/6] evaluate", "[5/6] score", "[6/6] expand",
		"warm items", "fresh items", "wrote model folder", "centroid", " ok\n", "unknown_item", "hidden clickers", "done: files in " + dir} {
		if !strings.Contains(out, want) {
			t.Fatalf("quickstart output lacks %q:\n%s", want, out)
		}
	}
	for _, name := range []string{clicksFile, usersFile, itemsFile, trainFile, heldoutFile, freshSeedsFile, freshHeldoutFile,
		"model/" + bundle.ManifestFile, "train.jsonl", "expand.parquet"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("missing output: %v", err)
		}
	}
	expectFailure(t, []string{"quickstart", "--users", "10"}, "--users must be at least 100")
}

// TestStringIDs: train, score and expand on a data set with string ids.
func TestStringIDs(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "synth", "--users", "200", "--items", "60", "--clicks-per-user", "15", "--communities", "3",
		"--string-ids", "--out", dir, "-q")
	model := filepath.Join(dir, "model")
	mustRun(t, append([]string{"train", "--clicks", filepath.Join(dir, clicksFile), "--out", model}, tinyTrain...)...)
	b, err := bundle.Open(t.Context(), model)
	if err != nil {
		t.Fatal(err)
	}
	if b.UserIDKind != "string" || b.ItemIDKind != "string" {
		t.Fatalf("id kinds %s/%s", b.UserIDKind, b.ItemIDKind)
	}
	user, item := b.Embeddings.Users.ID(0), b.Seeds.Items.ID(b.Seeds.Item[0])
	out := mustRun(t, "score", "--model", model, "--user", user, "--items", item+",nope")
	if f := strings.Fields(out); len(f) != 6 || f[0] != item || f[3] != "nope" || f[5] != "unknown_item" {
		t.Fatalf("score: %q", out)
	}
	top := filepath.Join(dir, "top.parquet")
	mustRun(t, "expand", "--model", model, "--item", item, "--n", "7", "--out", top, "-q")
	ids, _, _ := readAudience(t, top)
	if len(ids) != 7 || !strings.HasPrefix(ids[0], "u") {
		t.Fatalf("expand: %v", ids)
	}
	expectFailure(t, []string{"score", "--model", model, "--user", "1", "--items", item}, `unknown user "1"`)
	expectFailure(t, []string{"score", "--model", model, "--user", user, "--items", item + ",,nope"}, "--items element 2 of 3: empty item id")
}
