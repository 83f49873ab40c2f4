package ralm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	synthdata "github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// readFolder returns every file of a folder by name.
func readFolder(t *testing.T, dir string) map[string][]byte {
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

// TestTrainResume: a pipeline run resumed from a checkpoint taken at an
// epoch boundary of either stage writes the same model folder, byte for
// byte, as the uninterrupted run; a checkpoint refuses other settings and
// other inputs.
func TestTrainResume(t *testing.T) {
	sc := synthdata.DefaultConfig()
	sc.Users, sc.Items, sc.ClicksPerUser, sc.Communities, sc.Seed = 200, 50, 12, 4, 5
	ds, err := synthdata.Generate(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	in := TrainData{Clicks: ds.Clicks, Users: ds.Users, Items: ds.Items}
	cfg := DefaultTrainConfig()
	cfg.UserRep.Epochs, cfg.UserRep.Dim, cfg.UserRep.Hidden, cfg.UserRep.Batch = 3, 8, []int{16, 8}, 128
	cfg.LookAlike.Epochs, cfg.LookAlike.K = 3, 4
	ckDir := t.TempDir()
	var saved []string
	opt := TrainOptions{}
	opt.UserRep.Threads, opt.LookAlike.Threads, opt.LookAlike.ValidFraction = 2, 2, 0.1
	opt.Checkpoint = func(c *Checkpoint) error {
		p := filepath.Join(ckDir, fmt.Sprintf("%d-%s-%d", len(saved), c.Stage(), c.Epoch()))
		saved = append(saved, p)
		return c.Save(context.Background(), p)
	}
	write := func(t *testing.T, tr *Trained) map[string][]byte {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "model")
		if err := bundle.Write(dir, tr.Bundle()); err != nil {
			t.Fatal(err)
		}
		return readFolder(t, dir)
	}
	tr, err := Train(context.Background(), in, cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := write(t, tr)
	var names []string
	for _, p := range saved {
		names = append(names, filepath.Base(p))
	}
	if got := strings.Join(names, " "); got != "0-userrep-1 1-userrep-2 2-userrep-3 3-lookalike-1 4-lookalike-2 5-lookalike-3" {
		t.Fatalf("checkpoints %s", got)
	}

	ropt := opt
	ropt.Checkpoint = nil
	for _, k := range []int{0, 2, 3, 4, 5} {
		t.Run(names[k], func(t *testing.T) {
			ck, err := LoadCheckpoint(saved[k])
			if err != nil {
				t.Fatal(err)
			}
			ropt.Resume = ck
			tr, err := Train(context.Background(), in, cfg, ropt)
			if err != nil {
				t.Fatal(err)
			}
			got := write(t, tr)
			if len(got) != len(want) {
				t.Fatalf("%d files, the uninterrupted run wrote %d", len(got), len(want))
			}
			for name, b := range want {
				if !bytes.Equal(got[name], b) {
					t.Errorf("%s differs from the uninterrupted run's", name)
				}
			}
		})
	}

	ck, err := LoadCheckpoint(saved[3])
	if err != nil {
		t.Fatal(err)
	}
	lr := cfg
	lr.UserRep.LR *= 2
	threads := ropt
	threads.LookAlike.Threads = 1
	fewer := *ds.Clicks
	fewer.User, fewer.Item, fewer.TS = fewer.User[1:], fewer.Item[1:], fewer.TS[1:]
	for _, c := range []struct {
		name string
		in   TrainData
		cfg  TrainConfig
		opt  TrainOptions
		want string
	}{
		{"settings", in, lr, ropt, "other settings: userrep.lr is 0.002, the checkpoint has 0.001"},
		{"threads", in, cfg, threads, "lookalike_threads is 1, the checkpoint has 2"},
		{"inputs", TrainData{Clicks: &fewer, Users: ds.Users, Items: ds.Items}, cfg, ropt, "other inputs"},
	} {
		t.Run("refuses "+c.name, func(t *testing.T) {
			c.opt.Resume = ck
			_, err := Train(context.Background(), c.in, c.cfg, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one with %q", err, c.want)
			}
		})
	}
	if _, err := LoadCheckpoint(filepath.Join(ckDir, "none")); err == nil {
		t.Error("missing checkpoint: want an error")
	}
	good, err := os.ReadFile(saved[4])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"junk", []byte("junk"), "not a ralm checkpoint"},
		{"format 1", []byte("ralm-checkpoint/1\n\x00"), "another format (ralm-checkpoint/1)"},
		{"format 2", []byte("ralm-checkpoint/2\n\x00"), "another format (ralm-checkpoint/2)"},
		{"cut short", good[:len(good)*2/3], "decode"},
		{"trailing bytes", append(slices.Clone(good), 0), "data after the end"},
	} {
		path := filepath.Join(ckDir, "damaged")
		if err := os.WriteFile(path, c.content, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCheckpoint(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.want)
		}
	}
}
