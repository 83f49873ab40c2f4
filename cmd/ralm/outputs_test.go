package main

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/ralm/bundle"
)

// TestOutputPolicy: every command applies the one output policy to every
// output path before it reads any input (the inputs here do not exist, so
// an error about an output shows it was checked first): an output folder
// holding a file the command does not write is refused and left alone, an
// output under a regular file (unwritable also for root) or in a missing
// folder is refused, and no output may lie inside an output folder.
func TestOutputPolicy(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.parquet") // every input
	file := filepath.Join(dir, "file")               // a regular file: nothing can be created under it
	mine := filepath.Join(dir, "mine")               // a folder of the user's own
	for p, b := range map[string]string{file: "x", filepath.Join(mine, "notes.txt"): "mine"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	under := filepath.Join(file, "child")
	nowhere := filepath.Join(dir, "no", "such", "folder", "x")
	type outFlag struct {
		flag string
		dir  bool // a folder output
	}
	for _, tc := range []struct {
		name string
		args []string // without the output flags
		outs []outFlag
	}{
		{"synth", []string{"synth"}, []outFlag{{"out", true}}},
		{"split", []string{"split", "--clicks", missing}, []outFlag{{"out", true}}},
		{"quickstart", []string{"quickstart"}, []outFlag{{"out", true}}},
		{"train", []string{"train", "--clicks", missing}, []outFlag{{"out", true}, {"log", false}}},
		{"train userrep", []string{"train", "userrep", "--clicks", missing}, []outFlag{{"out", true}, {"log", false}}},
		{"train lookalike", []string{"train", "lookalike", "--clicks", missing, "--embeddings", missing}, []outFlag{{"out", true}, {"log", false}}},
		{"embed", []string{"embed", "--clicks", missing, "--model", missing}, []outFlag{{"out", false}}},
		{"embed --shard", []string{"embed", "--clicks", missing, "--model", missing, "--shard", "1/2"}, []outFlag{{"out", true}}},
		{"expand", []string{"expand", "--model", missing, "--item", "1", "--n", "5"}, []outFlag{{"out", false}}},
		{"eval --clicks", []string{"eval", "--clicks", missing}, []outFlag{{"report", false}, {"plot", false}, {"per-item", false}, {"scores", false}, {"log", false}}},
		{"eval --model", []string{"eval", "--model", missing, "--split", missing}, []outFlag{{"report", false}, {"plot", false}, {"per-item", false}, {"scores", false}}},
		{"plot", []string{"plot", "--log", missing}, []outFlag{{"out", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// the other outputs of the command: valid, fresh paths
			fine := func(skip string) []string {
				var a []string
				for _, o := range tc.outs {
					if o.flag != skip {
						a = append(a, "--"+o.flag, filepath.Join(t.TempDir(), "ok-"+o.flag))
					}
				}
				return a
			}
			type bad struct{ path, want string }
			for _, o := range tc.outs {
				cases := []bad{
					{under, file + " is not a folder"},
				}
				if o.dir {
					cases = append(cases, bad{mine, "holds notes.txt, which 'ralm " + tc.args[0]})
				} else {
					cases = append(cases, bad{nowhere, "does not exist"}, bad{mine, "is a folder, not a file"})
				}
				for _, b := range cases {
					args := append(append(append([]string{}, tc.args...), "--"+o.flag, b.path), fine(o.flag)...)
					code, _, errs := exec(t, args...)
					if code != exitError || !strings.Contains(errs, "--"+o.flag+" "+b.path+": ") || !strings.Contains(errs, b.want) {
						t.Errorf("%s: exit %d, stderr %q; want exit 1 naming --%s %s with %q", strings.Join(args, " "), code, errs, o.flag, b.path, b.want)
					}
				}
			}
			// an output inside an output folder
			for _, d := range tc.outs {
				for _, f := range tc.outs {
					if !d.dir || f == d {
						continue
					}
					folder := filepath.Join(t.TempDir(), "o")
					args := append(append([]string{}, tc.args...), "--"+d.flag, folder, "--"+f.flag, filepath.Join(folder, "in"))
					if code, _, errs := exec(t, args...); code != exitError || !strings.Contains(errs, "is inside the output folder --"+d.flag) {
						t.Errorf("%s: exit %d, stderr %q; want the inner output refused", strings.Join(args, " "), code, errs)
					}
				}
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(mine, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("the user's folder was changed: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(mine); len(ents) != 1 {
		t.Errorf("the user's folder holds %v", ents)
	}
}

// TestOutputPolicyRerun: a folder an earlier run of the same command wrote
// (with a temporary an interrupted write left) is written again; one with
// the files of another command is not.
func TestOutputPolicyRerun(t *testing.T) {
	dir := t.TempDir()
	data, sp := filepath.Join(dir, "data"), filepath.Join(dir, "split")
	synth := []string{"synth", "-q", "--users", "200", "--items", "60", "--clicks-per-user", "10", "--communities", "3", "--out", data}
	split := []string{"split", "-q", "--clicks", filepath.Join(data, clicksFile), "--out", sp}
	mustRun(t, synth...)
	mustRun(t, split...)
	if err := os.WriteFile(filepath.Join(sp, "."+trainFile+".tmp-123"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, synth...)
	mustRun(t, split...)
	code, _, errs := exec(t, "split", "-q", "--clicks", filepath.Join(data, clicksFile), "--out", data)
	if code != exitError || !strings.Contains(errs, "holds "+clicksFile+", which 'ralm split' does not write") {
		t.Errorf("split into synth's folder: exit %d, stderr %q", code, errs)
	}
}

// TestOutputsCheckedBeforeTraining (issue 14, point 9): with real inputs,
// an output that cannot be written (a path under a regular file, which
// root cannot create either; a folder that is not writable when not root)
// fails in well under a second with one line naming the flag, before any
// training, and writes nothing; a model folder in folders that do not
// exist yet trains, with its checkpoint beside it.
func TestOutputsCheckedBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustRun(t, "synth", "-q", "--users", "200", "--items", "60", "--clicks-per-user", "10", "--communities", "3", "--out", data)
	clicks := filepath.Join(data, clicksFile)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	under := filepath.Join(file, "sub")
	train := func(extra ...string) []string {
		return append(append([]string{"train", "--clicks", clicks}, tinyTrain...), extra...)
	}
	eval := func(extra ...string) []string {
		return append(append([]string{"eval", "--clicks", clicks}, tinyTrain...), extra...)
	}
	fresh := func() string { return filepath.Join(t.TempDir(), "model") }
	type tc struct {
		name string
		args []string
		want string // in the one error line
	}
	cases := []tc{
		{"train --out", train("--out", filepath.Join(under, "model")), "--out " + filepath.Join(under, "model") + ": " + file + " is not a folder"},
		{"train --log", train("--out", fresh(), "--log", filepath.Join(under, "t.jsonl")), "--log " + filepath.Join(under, "t.jsonl") + ": " + file + " is not a folder"},
		{"train --checkpoint", train("--out", fresh(), "--checkpoint", under), "--checkpoint " + under + ": create the checkpoint folder " + under},
		{"eval --report", eval("--report", filepath.Join(under, "r.json")), "--report " + filepath.Join(under, "r.json") + ": " + file + " is not a folder"},
		{"eval --plot", eval("--plot", filepath.Join(under, "p.png")), "--plot " + filepath.Join(under, "p.png") + ": " + file + " is not a folder"},
	}
	if os.Geteuid() != 0 { // read-only folders stop only other users
		ro := filepath.Join(dir, "ro")
		model := filepath.Join(ro, "model")
		if err := os.MkdirAll(model, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(ro, 0o755) })
		rw := filepath.Join(dir, "rw-checkpoints")
		if err := os.Mkdir(rw, 0o555); err != nil {
			t.Fatal(err)
		}
		cases = append(cases,
			// an existing model folder is replaced by one built beside it
			tc{"train --out in a read-only folder", train("--out", model), "--out " + model + ": folder " + ro + " is not writable"},
			tc{"train --checkpoint read-only", train("--out", fresh(), "--checkpoint", rw), "--checkpoint " + rw + ": checkpoint folder " + rw + " is not writable"},
			tc{"eval --report in a read-only folder", eval("--report", filepath.Join(ro, "r.json")), "--report " + filepath.Join(ro, "r.json") + ": folder " + ro + " is not writable"},
		)
	} else {
		t.Log("running as root: the read-only folder cases are left out (root writes there)")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			code, out, errs := exec(t, c.args...)
			took := time.Since(start)
			if code != exitError || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", code, errs, c.want)
			}
			if took > time.Second || strings.Contains(out+errs, "epoch") {
				t.Errorf("failed after %v (stdout %q): the output was not checked before training", took, out)
			}
		})
	}
	// the folders of a new --out are created, the checkpoint written beside it
	model := filepath.Join(dir, "new", "a", "model")
	mustRun(t, train("-q", "--out", model)...)
	if _, err := os.Stat(filepath.Join(model, bundle.ManifestFile)); err != nil {
		t.Errorf("no model folder at %s: %v", model, err)
	}
}

// TestWriteFolderWhole: split's and synth's folders are written whole: a run
// that fails after writing some files leaves the earlier run's folder as it
// was (and no temporary folder), a run that succeeds replaces it, and the
// temporary folder of a killed run beside it is removed by the next run.
func TestWriteFolderWhole(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "split")
	cmd := newRootCmd()
	write := func(content string, fail bool) error {
		return writeFolder(context.Background(), cmd, out, true, func(d string) error {
			for _, name := range []string{trainFile, heldoutFile} {
				if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
					return err
				}
				if fail {
					return errors.New("the disk is full")
				}
			}
			return nil
		})
	}
	files := func() map[string]string {
		got := map[string]string{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			sub, _ := os.ReadDir(filepath.Join(dir, e.Name()))
			for _, f := range sub {
				b, _ := os.ReadFile(filepath.Join(dir, e.Name(), f.Name()))
				got[e.Name()+"/"+f.Name()] = string(b)
			}
			if len(sub) == 0 {
				got[e.Name()+"/"] = ""
			}
		}
		return got
	}
	if err := write("run 1", false); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"split/" + trainFile: "run 1", "split/" + heldoutFile: "run 1"}
	if got := files(); !maps.Equal(got, want) {
		t.Fatalf("after the first run: %v, want %v", got, want)
	}
	if err := write("run 2", true); err == nil {
		t.Fatal("the failing run succeeded")
	}
	if got := files(); !maps.Equal(got, want) {
		t.Errorf("after a failed run: %v, want the first run's folder alone %v", got, want)
	}
	stale := filepath.Join(dir, ".split.tmp-123")
	if err := os.Mkdir(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := write("run 3", false); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"split/" + trainFile: "run 3", "split/" + heldoutFile: "run 3"}
	if got := files(); !maps.Equal(got, want) {
		t.Errorf("after the third run: %v, want %v (the killed run's temporary folder removed)", got, want)
	}
}
