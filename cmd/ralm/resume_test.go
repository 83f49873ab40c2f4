package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/ralm"
)

// resumeChildEnv holds the JSON arguments of a ralm run in a child process
// (the test binary re-executed by TestTrainResumeAfterKill).
const resumeChildEnv = "RALM_TEST_CHILD_ARGS"

// TestTrainResumeAfterKill starts `ralm train` in a child process, kills it
// (SIGKILL) once its first checkpoint is written, continues it with
// --resume, and requires the model folder to equal, byte for byte, the one
// of an uninterrupted run with the same seed and threads. Both stages train
// three epochs.
func TestTrainResumeAfterKill(t *testing.T) {
	if js := os.Getenv(resumeChildEnv); js != "" {
		var args []string
		if err := json.Unmarshal([]byte(js), &args); err != nil {
			t.Fatal(err)
		}
		os.Exit(run(context.Background(), args, os.Stdout, os.Stderr))
	}
	dir := t.TempDir()
	mustRun(t, "synth", "--users", "600", "--items", "150", "--clicks-per-user", "15", "--communities", "5",
		"--seed", "4", "--out", dir, "-q")
	train := func(out string, extra ...string) []string {
		return append([]string{"train", "--clicks", filepath.Join(dir, clicksFile), "--users", filepath.Join(dir, usersFile),
			"--items", filepath.Join(dir, itemsFile), "--out", out, "--epochs", "3", "--dim", "8", "--hidden", "16,8",
			"--k", "4", "--batch", "64", "--negatives", "5", "--seed", "3", "--threads", "2", "-q"}, extra...)
	}

	// uninterrupted
	whole := filepath.Join(dir, "whole")
	mustRun(t, train(whole)...)
	if _, err := os.Stat(whole + ".checkpoint"); !os.IsNotExist(err) {
		t.Fatalf("the checkpoint beside %s is still there after a successful run (%v)", whole, err)
	}

	// killed after its first checkpoint, checkpoints in their own folder
	out, ckDir := filepath.Join(dir, "model"), filepath.Join(dir, "ck")
	ckPath := filepath.Join(ckDir, "model.checkpoint")
	js, err := json.Marshal(train(out, "--checkpoint", ckDir))
	if err != nil {
		t.Fatal(err)
	}
	child := osexec.Command(os.Args[0], "-test.run=^TestTrainResumeAfterKill$")
	child.Env = append(os.Environ(), resumeChildEnv+"="+string(js))
	var childErr bytes.Buffer
	child.Stderr = &childErr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	deadline := time.After(2 * time.Minute)
poll:
	for {
		select {
		case err := <-exited:
			t.Fatalf("the training run ended (%v) before its first checkpoint could be seen; stderr:\n%s", err, childErr.String())
		case <-deadline:
			_ = child.Process.Kill()
			t.Fatal("no checkpoint after 2 minutes")
		case <-time.After(5 * time.Millisecond):
			if _, err := os.Stat(ckPath); err == nil {
				break poll
			}
		}
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	ck, err := ralm.LoadCheckpoint(ckPath)
	if err != nil {
		t.Fatalf("checkpoint left by the killed run: %v", err)
	}
	t.Logf("killed after the checkpoint of %s epoch %d", ck.Stage(), ck.Epoch())
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err == nil {
		t.Fatal("the killed run wrote its model folder: it was not interrupted")
	}

	// a new run does not overwrite the checkpoint; --resume continues it
	code, _, stderr := exec(t, train(out, "--checkpoint", ckDir)...)
	if code == 0 || !strings.Contains(stderr, "holds the checkpoint of an interrupted run: add --resume") {
		t.Fatalf("run over a checkpoint without --resume: exit %d, stderr %q", code, stderr)
	}
	mustRun(t, train(out, "--checkpoint", ckDir, "--resume")...)
	if _, err := os.Stat(ckPath); !os.IsNotExist(err) {
		t.Errorf("checkpoint still there after the resumed run (%v)", err)
	}
	want, got := readDir(t, whole), readDir(t, out)
	if len(got) != len(want) {
		t.Fatalf("resumed folder has %d files, the uninterrupted one %d", len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s of the resumed run differs from the uninterrupted run's", name)
		}
	}

	// nothing left to resume
	code, _, stderr = exec(t, train(out, "--checkpoint", ckDir, "--resume")...)
	if code == 0 || !strings.Contains(stderr, "nothing to resume") {
		t.Errorf("--resume without a checkpoint: exit %d, stderr %q", code, stderr)
	}
}

// readDir returns the files of a folder by name.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}
