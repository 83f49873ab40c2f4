package ralm

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	synthdata "github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
)

func TestItemClickers(t *testing.T) {
	c := &data.Clicks{Users: data.NewVocab(data.IDString), Items: data.NewVocab(data.IDString)}
	add := func(u, i string) {
		c.User = append(c.User, c.Users.MustAdd(u))
		c.Item = append(c.Item, c.Items.MustAdd(i))
		c.TS = append(c.TS, 0)
	}
	add("a", "x")
	add("b", "x")
	add("a", "x") // duplicate click
	add("b", "y")
	emb := data.NewVocab(data.IDString)
	emb.MustAdd("b") // row 0
	emb.MustAdd("a") // row 1
	got, err := ItemClickers(c, emb)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{1, 0}, {0}}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("item %d: clickers %v, want %v", i, got[i], want[i])
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("item %d: clickers %v, want %v", i, got[i], want[i])
			}
		}
	}
	missing := data.NewVocab(data.IDString)
	missing.MustAdd("a")
	if _, err := ItemClickers(c, missing); err == nil {
		t.Error("user without an embedding: want an error")
	}
}

func TestTrainPipelineWritesBundle(t *testing.T) {
	sc := synthdata.DefaultConfig()
	sc.Users, sc.Items, sc.ClicksPerUser, sc.Communities, sc.Seed = 300, 60, 15, 4, 2
	ds, err := synthdata.Generate(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultTrainConfig()
	cfg.UserRep.Epochs, cfg.UserRep.Dim, cfg.UserRep.Hidden = 2, 8, []int{16, 8}
	cfg.LookAlike.Epochs, cfg.LookAlike.K = 2, 4
	cfg.WithAvg = true
	cfg.ColdStart.Epochs = 2
	var stages []string
	var progress bytes.Buffer
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	opt := TrainOptions{Stage: func(s string) { stages = append(stages, s) }, Progress: &progress,
		progressClock: func() time.Time { clock = clock.Add(time.Second); return clock }}
	tr, err := Train(context.Background(), TrainData{Clicks: ds.Clicks, Users: ds.Users, Items: ds.Items}, cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"userrep", "embed", "lookalike", "lookalike-avg", "coldstart"}; len(stages) != len(want) {
		t.Fatalf("stages %v, want %v", stages, want)
	}
	// Progress: one line per epoch of each stage, with the loss, the
	// validation metric, the throughput and the time left.
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	wantLines := []string{
		`^user model: epoch 1/2 loss \d+\.\d{4}, held-out AUC 0\.\d{4}, \d+(\.\d)?k? examples/s, ETA 1s$`,
		`^user model: epoch 2/2 loss \d+\.\d{4}, held-out AUC 0\.\d{4}, \d+(\.\d)?k? examples/s$`,
		`^look-alike model: epoch 1/2 loss \d+\.\d{4}, \d+(\.\d)?k? pairs/s, ETA 1s$`,
		`^look-alike model: epoch 2/2 loss \d+\.\d{4}, \d+(\.\d)?k? pairs/s$`,
		`^ralm-avg model: epoch 1/2 `,
		`^ralm-avg model: epoch 2/2 `,
		`^cold-start model: epoch 1/2 loss \d+\.\d{4}, \d+(\.\d)?k? pairs/s, ETA 1s$`,
		`^cold-start model: epoch 2/2 loss \d+\.\d{4}, \d+(\.\d)?k? pairs/s$`,
	}
	if len(lines) != len(wantLines) {
		t.Fatalf("progress:\n%s", progress.String())
	}
	for i, re := range wantLines {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("progress line %q does not match %s", lines[i], re)
		}
	}
	if tr.ColdStart == nil || tr.ColdStart.Dim() != 8 || tr.ColdStart.Config().Negatives != tr.LookAlike.Config().Negatives {
		t.Errorf("cold-start model %v: not trained, or not on the embeddings and the look-alike negatives", tr.ColdStart)
	}
	if tr.Embeddings.Dim != 8 || tr.LookAlike.Dim() != 8 || tr.Avg == nil {
		t.Fatalf("embedding width %d, look-alike width %d, avg %v", tr.Embeddings.Dim, tr.LookAlike.Dim(), tr.Avg)
	}
	if tr.Embeddings.Users.Len() != ds.Clicks.Users.Len() {
		t.Errorf("%d users embedded, %d have clicks", tr.Embeddings.Users.Len(), ds.Clicks.Users.Len())
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := bundle.Write(dir, tr.Bundle()); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.ClicksFingerprint != bundle.FingerprintClicks(ds.Clicks) {
		t.Error("bundle fingerprint differs from the training clicks'")
	}
	// The cold-start model is an optional file of the folder and reads back
	// to the same logits.
	if b.ColdStart == nil {
		t.Fatal("model folder has no cold-start model")
	}
	enc := tr.ColdStart.Encoder()
	row, _, err := enc.Row(ds.Items, 0)
	if err != nil {
		t.Fatal(err)
	}
	i1, _ := tr.ColdStart.Item(row)
	i2, err := b.ColdStart.Item(row)
	if err != nil {
		t.Fatal(err)
	}
	u := tr.Embeddings.Vecs[:tr.Embeddings.Dim]
	if x, y := tr.ColdStart.Logit(u, i1), b.ColdStart.Logit(u, i2); x != y {
		t.Errorf("cold-start logit %v before writing the folder, %v after opening it", x, y)
	}
	if _, err := Train(context.Background(), TrainData{Clicks: &data.Clicks{}}, cfg, TrainOptions{}); err == nil {
		t.Error("no clicks: want an error")
	}

	// The look-alike stage alone on the same embeddings: a complete model
	// folder that keeps the given user model.
	la, err := TrainLookAlike(context.Background(), LookAlikeData{Embeddings: tr.Embeddings, Clicks: ds.Clicks, UserModel: tr.User}, cfg.LookAlike, lookalike.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if la.LookAlike.Dim() != 8 || la.User != tr.User || la.UserReport != nil || la.LookAlikeReport == nil {
		t.Errorf("look-alike alone: width %d, user model kept %v, reports %v/%v", la.LookAlike.Dim(), la.User == tr.User, la.UserReport, la.LookAlikeReport)
	}
	if err := bundle.Write(filepath.Join(t.TempDir(), "la"), la.Bundle()); err != nil {
		t.Fatal(err)
	}
	if _, err := TrainLookAlike(context.Background(), LookAlikeData{Embeddings: tr.Embeddings, Clicks: &data.Clicks{}}, cfg.LookAlike, lookalike.TrainOptions{}); err == nil {
		t.Error("look-alike alone, no clicks: want an error")
	}
	bad := *tr.Embeddings
	bad.Vecs = slices.Clone(bad.Vecs)
	bad.Vecs[3*bad.Dim+1] = float32(math.Inf(1))
	_, err = TrainLookAlike(context.Background(), LookAlikeData{Embeddings: &bad, Clicks: ds.Clicks}, cfg.LookAlike, lookalike.TrainOptions{})
	if want := fmt.Sprintf("the embedding of user %q has a non-finite value", bad.Users.ID(3)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("non-finite embedding: got %v, want an error containing %s", err, want)
	}
}
