package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
		if err := data.WriteClicks(context.Background(), filepath.Join(dir, name), c); err != nil {
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
	// the default model has the propensity term, so its paper score is a row
	want := []string{"activity", "centroid", "knn", "itemvec", "ralm-paper", "ralm"}
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

// TestRunMatchesFileRoute: `ralm eval --clicks` (Run) trains and scores
// exactly what `ralm split`, `ralm train` on the split's train.parquet and
// `ralm eval --model --split` do: the same user embeddings, bit for bit,
// and the same table for every model both report.
func TestRunMatchesFileRoute(t *testing.T) {
	ctx := context.Background()
	sc := synth.DefaultConfig()
	sc.Users, sc.Items, sc.ClicksPerUser, sc.Communities, sc.Seed = 400, 80, 20, 4, 5
	ds, err := synth.Generate(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ralm.DefaultTrainConfig()
	cfg.UserRep.Epochs, cfg.UserRep.Dim, cfg.UserRep.Hidden = 2, 8, []int{16, 8}
	cfg.LookAlike.Epochs, cfg.LookAlike.K = 2, 4
	cfg.NoColdStart = true
	rc := RunConfig{Split: split.Options{FreshFraction: 0.2, Seed: 1}, Train: cfg, NoAvg: true}
	res, sp, tr, err := Run(ctx, ralm.TrainData{Clicks: ds.Clicks, Users: ds.Users, Items: ds.Items}, rc, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Train.Items.Len() == sp.Train.Compact().Items.Len() {
		t.Fatal("the split's vocabulary has no id without a training click: the test does not exercise the difference")
	}

	root := t.TempDir()
	splitDir, modelDir := filepath.Join(root, "split"), filepath.Join(root, "model")
	writeSplit(t, splitDir, sp)
	train, err := data.ReadClicks(ctx, filepath.Join(splitDir, SplitTrainFile), data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ftr, err := ralm.Train(ctx, ralm.TrainData{Clicks: train, Users: ds.Users, Items: ds.Items}, cfg, ralm.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tr.Embeddings.Vecs, ftr.Embeddings.Vecs) || !slices.Equal(tr.Embeddings.Users.IDs(), ftr.Embeddings.Users.IDs()) {
		t.Fatal("user embeddings differ between the two routes")
	}
	if err := bundle.Write(modelDir, ftr.Bundle()); err != nil {
		t.Fatal(err)
	}
	fres, _, err := RunModel(ctx, modelDir, splitDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fres.Models { // Run adds the zero-seed bucket (it has the items table)
		for bucket, want := range fres.Table[m] {
			if got := res.Table[m][bucket]; !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %s: %+v through Run, %+v through the files", m, bucket, got, want)
			}
		}
	}
}
