package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/bundle"
)

func writeSplit(t *testing.T, dir string, sp *split.Result) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*data.Clicks{
		SplitTrainFile: sp.Train, SplitHeldoutFile: sp.Heldout,
		SplitFreshSeedsFile: sp.FreshSeeds, SplitFreshHeldoutFile: sp.FreshHeldout,
	} {
		if err := data.WriteClicks(filepath.Join(dir, name), c); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRunModelChecksFingerprint trains a tiny model on one split, evaluates
// it on that split's files, and checks it is refused on another split.
func TestRunModelChecksFingerprint(t *testing.T) {
	sc := synth.DefaultConfig()
	sc.Users, sc.Items, sc.ClicksPerUser, sc.Communities, sc.Seed = 400, 80, 20, 4, 4
	ds, err := synth.Generate(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := split.Split(ds.Clicks, split.Options{FreshFraction: 0.2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ralm.DefaultTrainConfig()
	cfg.UserRep.Epochs, cfg.UserRep.Dim, cfg.UserRep.Hidden = 2, 8, []int{16, 8}
	cfg.LookAlike.Epochs, cfg.LookAlike.K = 2, 4
	tr, err := ralm.Train(context.Background(), ralm.TrainData{Clicks: sp.Train, Users: ds.Users, Items: ds.Items}, cfg, ralm.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	modelDir, splitDir, otherDir := filepath.Join(root, "model"), filepath.Join(root, "split"), filepath.Join(root, "other")
	if err := bundle.Write(modelDir, tr.Bundle()); err != nil {
		t.Fatal(err)
	}
	writeSplit(t, splitDir, sp)
	res, sf, err := RunModel(context.Background(), modelDir, splitDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"activity", "centroid", "knn", "itemvec", "ralm"}
	if len(res.Models) != len(want) {
		t.Fatalf("models %v, want %v", res.Models, want)
	}
	for i := range want {
		if res.Models[i] != want[i] {
			t.Fatalf("models %v, want %v", res.Models, want)
		}
	}
	if n := res.Table["ralm"][BucketWarm].NItems; n != len(sp.WarmItems) {
		t.Errorf("ralm scored %d warm items, split has %d", n, len(sp.WarmItems))
	}
	if sf.Train.Len() != sp.Train.Len() {
		t.Errorf("read back %d training clicks, wrote %d", sf.Train.Len(), sp.Train.Len())
	}
	other, err := split.Split(ds.Clicks, split.Options{FreshFraction: 0.2, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	writeSplit(t, otherDir, other)
	if _, _, err := RunModel(context.Background(), modelDir, otherDir, Options{}); !errors.Is(err, ErrFingerprint) {
		t.Errorf("model trained on another split: err = %v, want ErrFingerprint", err)
	}
}
