package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/synth"
)

// userrepCLI runs `ralm train userrep` / `ralm embed` in-process on a root
// that has only these commands (root.go wires them for the real binary).
func userrepCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "ralm", SilenceUsage: true, SilenceErrors: true}
	addGlobalFlags(root)
	train := &cobra.Command{Use: "train"}
	train.AddCommand(newTrainUserrepCmd())
	root.AddCommand(train, newEmbedCmd())
	var out, errb bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// writeSynth writes a small synthetic data set to dir.
func writeSynth(t *testing.T, dir string) {
	t.Helper()
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.ClicksPerUser, cfg.Communities, cfg.Seed = 400, 120, 10, 4, 5
	ds, err := synth.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func(string) error{
		"clicks.parquet": func(p string) error { return data.WriteClicks(context.Background(), p, ds.Clicks) },
		"users.parquet":  func(p string) error { return data.WriteTable(context.Background(), p, data.ColUserID, ds.Users) },
		"items.parquet":  func(p string) error { return data.WriteTable(context.Background(), p, data.ColItemID, ds.Items) },
	} {
		if err := write(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTrainUserrepThenEmbed trains twice with the same seed (identical
// model files and embeddings), checks the JSON-lines log and the report,
// and embeds every user.
func TestTrainUserrepThenEmbed(t *testing.T) {
	dir := t.TempDir()
	writeSynth(t, dir)
	in := func(name string) string { return filepath.Join(dir, name) }
	train := func(out, log string) string {
		s, err := userrepCLI(t, "train", "userrep", "--clicks", in("clicks.parquet"), "--users", in("users.parquet"),
			"--items", in("items.parquet"), "--out", out, "--epochs", "3", "--dim", "16", "--hidden", "32,16",
			"--batch", "64", "--seed", "7", "--log", log)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	out1, out2 := in("m1"), in("m2")
	summary := train(out1, in("log1.jsonl"))
	train(out2, in("log2.jsonl"))
	if !strings.Contains(summary, "held-out AUC") || !strings.Contains(summary, userrepModelFile) {
		t.Errorf("summary lacks the metric or the model path:\n%s", summary)
	}
	a, _ := os.ReadFile(filepath.Join(out1, userrepModelFile))
	b, _ := os.ReadFile(filepath.Join(out2, userrepModelFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("same seed gave different model files")
	}

	// the log has a step line per step and an epoch line per epoch
	f, err := os.Open(in("log1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Type string   `json:"type"`
			Loss *float64 `json:"loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line.Loss == nil {
			t.Fatalf("log line without loss: %s", sc.Text())
		}
		counts[line.Type]++
	}
	if counts["epoch"] < 1 || counts["step"] < counts["epoch"] {
		t.Errorf("log has %v", counts)
	}
	var rep struct {
		Report struct {
			Epochs []json.RawMessage `json:"epochs"`
		} `json:"report"`
	}
	rb, err := os.ReadFile(filepath.Join(out1, userrepReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &rep); err != nil || len(rep.Report.Epochs) != counts["epoch"] {
		t.Errorf("report: %v, %d epochs (log: %d)", err, len(rep.Report.Epochs), counts["epoch"])
	}

	// embed (model given as directory and as file): identical files, every user
	e1, e2 := in("e1.parquet"), in("e2.parquet")
	if _, err := userrepCLI(t, "embed", "--model", out1, "--clicks", in("clicks.parquet"), "--users", in("users.parquet"), "--out", e1, "--quiet"); err != nil {
		t.Fatal(err)
	}
	if _, err := userrepCLI(t, "embed", "--model", filepath.Join(out2, userrepModelFile), "--clicks", in("clicks.parquet"), "--out", e2, "--quiet"); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(e1)
	y, _ := os.ReadFile(e2)
	if len(x) == 0 || !bytes.Equal(x, y) {
		t.Error("embeddings files differ")
	}
	emb, err := data.ReadEmbeddings(context.Background(), e1)
	if err != nil {
		t.Fatal(err)
	}
	if emb.Users.Len() != 400 || emb.Dim != 16 {
		t.Errorf("embeddings: %d users, dim %d", emb.Users.Len(), emb.Dim)
	}

	// embed --shard i/3 for every i: the folder of parts reads as the
	// unsharded file, row for row
	parts := in("parts")
	for i := 0; i < 3; i++ {
		if _, err := userrepCLI(t, "embed", "--model", out1, "--clicks", in("clicks.parquet"), "--users", in("users.parquet"),
			"--out", parts, "--shard", fmt.Sprintf("%d/3", i), "--quiet"); err != nil {
			t.Fatal(err)
		}
	}
	all, err := data.ReadEmbeddingParts(context.Background(), parts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all.Users.IDs(), emb.Users.IDs()) || !slices.Equal(all.Vecs, emb.Vecs) || all.Dim != emb.Dim {
		t.Errorf("3 shards read together: %d users, dim %d; unsharded: %d users, dim %d (or the rows differ)",
			all.Users.Len(), all.Dim, emb.Users.Len(), emb.Dim)
	}
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		in      string
		want    shard
		wantErr bool
	}{
		{"", shard{0, 1}, false},
		{"0/1", shard{0, 1}, false},
		{"2/3", shard{2, 3}, false},
		{"3/3", shard{}, true},
		{"-1/3", shard{}, true},
		{"1/0", shard{}, true},
		{"1", shard{}, true},
		{"a/b", shard{}, true},
	}
	for _, tt := range tests {
		got, err := parseShard(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseShard(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	// the ranges of all shards tile the users exactly
	for _, n := range []int{0, 1, 7, 100, 1000} {
		next := int32(0)
		for i := 0; i < 3; i++ {
			lo, hi := shard{i, 3}.users(n)
			if lo != next || hi < lo || (i > 0 && lo%shardAlign != 0) {
				t.Fatalf("n=%d shard %d/3: [%d,%d), want start %d", n, i, lo, hi, next)
			}
			next = hi
		}
		if int(next) != n {
			t.Fatalf("n=%d: shards end at %d", n, next)
		}
	}
}

// TestUserrepBadInput: bad flags and files give one clear error.
func TestUserrepBadInput(t *testing.T) {
	dir := t.TempDir()
	writeSynth(t, dir)
	clicks := filepath.Join(dir, "clicks.parquet")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "userrep", "--clicks", clicks, "--out", dir, "--merge", "sum"}, "merge"},
		{[]string{"train", "userrep", "--clicks", clicks, "--out", dir, "--lr", "0"}, "lr"},
		{[]string{"train", "userrep", "--clicks", filepath.Join(dir, "missing.parquet"), "--out", filepath.Join(dir, "m")}, "missing.parquet"},
		{[]string{"train", "userrep", "--clicks", clicks, "--out", dir}, "holds clicks.parquet, which 'ralm train userrep' does not write"},
		{[]string{"train", "userrep", "--out", dir}, "clicks"},
		{[]string{"embed", "--model", dir, "--clicks", clicks, "--out", filepath.Join(dir, "e.parquet")}, "userrep.model"},
		{[]string{"embed", "--model", clicks, "--clicks", clicks, "--out", filepath.Join(dir, "e.parquet")}, "not a userrep model"},
	} {
		_, err := userrepCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}
