package userrep_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/userrep"
)

// Train a user model on a synthetic click log with users and items tables,
// then embed every user.
func ExampleTrain() {
	sc := synth.DefaultConfig()
	sc.Users, sc.Items, sc.Communities = 300, 80, 4
	ds, err := synth.Generate(context.Background(), sc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fs, err := data.NewFeatureSet(ds.Clicks, ds.Users, ds.Items)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := userrep.DefaultConfig()
	cfg.Dim, cfg.Hidden, cfg.Epochs = 16, []int{32, 16}, 2
	m, rep, err := userrep.Train(context.Background(), fs, ds.Clicks, cfg, userrep.TrainOptions{
		OnEpoch: func(e userrep.EpochStats) { _ = e.HeldOutRecall10 }, // e.g. log progress
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	emb, err := m.EmbedUsers(context.Background(), ds.Clicks)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("epochs:", len(rep.Epochs), "fields:", len(m.Fields()))
	fmt.Println("users:", emb.Users.Len(), "dim:", emb.Dim)
	// Output:
	// epochs: 2 fields: 7
	// users: 300 dim: 16
}

// Save a model, load it back and embed one user from raw clicks.
func ExampleLoad() {
	sc := synth.DefaultConfig()
	sc.Users, sc.Items, sc.Communities = 200, 50, 2
	ds, _ := synth.Generate(context.Background(), sc)
	fs, _ := data.NewFeatureSet(ds.Clicks, ds.Users, ds.Items)
	cfg := userrep.DefaultConfig()
	cfg.Dim, cfg.Hidden, cfg.Epochs = 8, []int{8}, 1
	m, _, err := userrep.Train(context.Background(), fs, ds.Clicks, cfg, userrep.TrainOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "userrep")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "userrep.model")
	if err := m.Save(path); err != nil {
		fmt.Println(err)
		return
	}
	loaded, err := userrep.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	// features of user "1" who clicked the items with indices 0 and 3
	var ft data.Features
	loaded.Features().Build("1", []int32{0, 3}, &ft)
	v, err := loaded.Embed(&ft)
	if err != nil {
		fmt.Println(err)
		return
	}
	// score item 0 for this user: dot product with its output vector
	iv := loaded.ItemVectors()[:loaded.Dim()]
	var s float32
	for k := range v {
		s += v[k] * iv[k]
	}
	fmt.Println("embedding size:", len(v), "finite score:", s == s)
	// Output:
	// embedding size: 8 finite score: true
}
