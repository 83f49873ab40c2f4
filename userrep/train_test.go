package userrep

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/synth"
)

// synthData generates a small `ralm synth` data set and its feature set.
func synthData(t testing.TB) (*synth.Dataset, *data.FeatureSet) {
	t.Helper()
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.ClicksPerUser, cfg.Communities, cfg.Seed = 1500, 600, 12, 40, 3
	ds, err := synth.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := data.NewFeatureSet(ds.Clicks, ds.Users, ds.Items)
	if err != nil {
		t.Fatal(err)
	}
	return ds, fs
}

// TestLearnsSynth trains both merges on `ralm synth` data through the real
// feature set and requires the held-out recall@10 of the model's item score
// (user·item_vector + item_bias; the bias is zero with the LogQ correction,
// so that case ranks by user·item_vector alone) to be at least 3× the
// most-popular baseline; it then checks that the model saves and loads with
// its feature set. The concat case trains on two data-parallel workers.
func TestLearnsSynth(t *testing.T) {
	ds, fs := synthData(t)
	for _, v := range []struct {
		merge   Merge
		logQ    bool
		threads int
	}{{MergeAttention, false, 1}, {MergeConcat, false, 2}, {MergeAttention, true, 1}} {
		t.Run(fmt.Sprintf("%s/logq=%v/threads=%d", v.merge, v.logQ, v.threads), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Merge, cfg.LogQ = v.merge, v.logQ
			cfg.Dim = 32
			cfg.Hidden = []int{64, 32}
			cfg.Epochs = 5
			cfg.LR = 5e-3
			cfg.Batch = 128
			var steps int
			m, rep, err := Train(context.Background(), fs, ds.Clicks, cfg, TrainOptions{OnStep: func(StepStats) { steps++ }, Threads: v.threads})
			if err != nil {
				t.Fatal(err)
			}
			best := rep.Epochs[rep.BestEpoch-1].HeldOutRecall10
			for _, e := range rep.Epochs {
				t.Logf("epoch %d loss %.4f auc %.4f recall@10 %.4f mrr %.4f (%v)", e.Epoch, e.Loss, e.HeldOutAUC, e.HeldOutRecall10, e.HeldOutMRR, e.Duration)
			}
			t.Logf("popular auc %.4f recall@10 %.4f, model %.4f over %d held-out users", rep.PopularAUC, rep.PopularRecall10, best, rep.HeldOutUsers)
			if rep.HeldOutUsers < 1000 {
				t.Fatalf("only %d held-out users", rep.HeldOutUsers)
			}
			if !(rep.PopularRecall10 > 0 && best >= 3*rep.PopularRecall10) {
				t.Errorf("recall@10 %.4f is not 3× the popular baseline %.4f", best, rep.PopularRecall10)
			}
			zero := true
			for _, b := range m.ItemBias() {
				zero = zero && b == 0
			}
			if zero != v.logQ {
				t.Errorf("item bias all zero: %v, want %v", zero, v.logQ)
			}
			if first, last := rep.Epochs[0].Loss, rep.Epochs[len(rep.Epochs)-1].Loss; !(last < first) || math.IsNaN(last) {
				t.Errorf("training loss did not fall: %v -> %v", first, last)
			}
			if want := int((rep.Examples + int64(cfg.Batch) - 1) / int64(cfg.Batch)); steps < want {
				t.Errorf("OnStep called %d times, want at least %d", steps, want)
			}

			path := filepath.Join(t.TempDir(), "m.userrep")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			l, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := l.Features().(*data.FeatureSet); !ok {
				t.Fatalf("loaded features are %T, want *data.FeatureSet", l.Features())
			}
			a, err := m.EmbedUsers(context.Background(), ds.Clicks)
			if err != nil {
				t.Fatal(err)
			}
			b, err := l.EmbedUsers(context.Background(), ds.Clicks)
			if err != nil {
				t.Fatal(err)
			}
			if a.Users.Len() != ds.Clicks.Users.Len() {
				t.Errorf("embedded %d users, want every one of %d", a.Users.Len(), ds.Clicks.Users.Len())
			}
			expectClose(t, "embeddings after load", b.Vecs, a.Vecs, 0)
		})
	}
}

// TestEarlyStopping: with a learning rate that overfits fast, training stops
// before the epoch limit and keeps the best epoch's weights.
func TestEarlyStopping(t *testing.T) {
	p := tinyPlanted()
	cfg := quickConfig()
	cfg.Epochs, cfg.Patience, cfg.LR = 40, 2, 0.05
	var epochs []EpochStats
	m, rep, err := Train(context.Background(), p.fb, p.clicks, cfg, TrainOptions{OnEpoch: func(e EpochStats) { epochs = append(epochs, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.StoppedEarly || len(rep.Epochs) >= 40 {
		t.Fatalf("did not stop early: %d epochs", len(rep.Epochs))
	}
	if len(epochs) != len(rep.Epochs) {
		t.Errorf("OnEpoch called %d times for %d epochs", len(epochs), len(rep.Epochs))
	}
	if got := len(rep.Epochs) - rep.BestEpoch; got != cfg.Patience {
		t.Errorf("stopped %d epochs after the best, want %d", got, cfg.Patience)
	}
	// the model holds the best epoch's weights: its held-out recall is the best one
	tr, err := newTrainer[float32](p.fb, p.clicks, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.p.copyFrom(m.p)
	h, err := tr.validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := rep.Epochs[rep.BestEpoch-1].HeldOutAUC; h.auc != want {
		t.Errorf("model held-out AUC %v, best epoch had %v", h.auc, want)
	}
}

// TestTrainErrors: invalid inputs are reported, not panics.
func TestTrainErrors(t *testing.T) {
	p := tinyPlanted()
	ctx := context.Background()
	bad := quickConfig()
	bad.Merge = "sum"
	if _, _, err := Train(ctx, p.fb, p.clicks, bad, TrainOptions{}); err == nil {
		t.Error("bad merge accepted")
	}
	if _, _, err := Train(ctx, nil, p.clicks, quickConfig(), TrainOptions{}); err == nil {
		t.Error("nil builder accepted")
	}
	if _, _, err := Train(ctx, p.fb, &data.Clicks{Users: p.clicks.Users, Items: p.clicks.Items}, quickConfig(), TrainOptions{}); err == nil {
		t.Error("empty clicks accepted")
	}
	broken := *p.clicks
	broken.Item = append([]int32{9999}, broken.Item[1:]...)
	if _, _, err := Train(ctx, p.fb, &broken, quickConfig(), TrainOptions{}); err == nil {
		t.Error("out-of-range item accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Train(cctx, p.fb, p.clicks, quickConfig(), TrainOptions{}); err == nil {
		t.Error("cancelled context ignored")
	}
}

// TestConfigValidate lists invalid settings.
func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Config)
	}{
		{"dim", func(c *Config) { c.Dim = 0 }},
		{"hidden", func(c *Config) { c.Hidden = nil }},
		{"hidden size", func(c *Config) { c.Hidden = []int{4, 0} }},
		{"merge", func(c *Config) { c.Merge = "" }},
		{"att dim", func(c *Config) { c.AttDim = 0 }},
		{"heads", func(c *Config) { c.Heads = 0 }},
		{"gated heads", func(c *Config) { c.Merge = MergeGated; c.Heads = 2 }},
		{"field fc", func(c *Config) { c.FieldFC = "gelu" }},
		{"temperature", func(c *Config) { c.Temperature = 0 }},
		{"dropout", func(c *Config) { c.FieldDropout = 1 }},
		{"negatives", func(c *Config) { c.Negatives = 0 }},
		{"lr", func(c *Config) { c.LR = -1 }},
		{"batch", func(c *Config) { c.Batch = 0 }},
		{"epochs", func(c *Config) { c.Epochs = 0 }},
		{"positives", func(c *Config) { c.MaxPositivesPerUser = 0 }},
		{"patience", func(c *Config) { c.Patience = -1 }},
		{"holdout", func(c *Config) { c.HoldOutMinClicks = 1 }},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: invalid config accepted", c.name)
		}
	}
}

// TestPipelineMatchesSequential: the pipelined epoch (batches loaded by a
// second goroutine) gives bit-identical weights to loading and computing
// each batch in turn.
func TestPipelineMatchesSequential(t *testing.T) {
	p := tinyPlanted()
	cfg := quickConfig()
	cfg.FieldDropout = 0.2
	a, err := newTrainer[float32](p.fb, p.clicks, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newTrainer[float32](p.fb, p.clicks, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for epoch := 1; epoch <= 2; epoch++ {
		ex := a.epochExamples(nil)
		global := 0
		if _, err := a.runEpoch(context.Background(), epoch, ex, TrainOptions{}, &global); err != nil {
			t.Fatal(err)
		}
		ex = b.epochExamples(nil)
		for lo := 0; lo < len(ex); lo += b.B {
			hi := min(lo+b.B, len(ex))
			b.loadBatch(ex[lo:hi])
			if _, err := b.computeGrads(hi - lo); err != nil {
				t.Fatal(err)
			}
			b.apply()
		}
	}
	expectClose(t, "dense", a.p.dense, b.p.dense, 0)
	expectClose(t, "items", a.p.out, b.p.out, 0)
	expectClose(t, "table", a.p.tables[0], b.p.tables[0], 0)
}

func TestModeFlags(t *testing.T) {
	var m Merge
	var f FieldFC
	for _, tc := range []struct {
		set func(string) error
		in  string
		ok  bool
	}{
		{m.Set, "gated", true},
		{m.Set, "sum", false},
		{f.Set, "tanh", true},
		{f.Set, "sigmoid", false},
	} {
		err := tc.set(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("Set(%q): error %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	if m != MergeGated || f != FieldFCTanh {
		t.Fatalf("after Set: %q %q", m, f)
	}
	if _, err := ParseMerge("concat"); err != nil {
		t.Fatal(err)
	}
}

// TestReportJSONNaN checks that the JSON of an epoch and of a report writes
// NaN and infinite metrics as null and every other field as it is.
func TestReportJSONNaN(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"epoch without held-out users", EpochStats{Epoch: 2, Examples: 10, Loss: 0.5, HeldOutAUC: nan, HeldOutRecall10: nan, HeldOutMRR: math.Inf(1), Best: true, Duration: 3},
			`{"epoch":2,"examples":10,"loss":0.5,"heldout_auc":null,"heldout_recall10":null,"heldout_mrr":null,"best":true,"duration_ns":3}`},
		{"epoch with held-out users", EpochStats{Epoch: 1, Loss: 1.25, HeldOutAUC: 0.75, HeldOutRecall10: 0.5, HeldOutMRR: 0.25},
			`{"epoch":1,"examples":0,"loss":1.25,"heldout_auc":0.75,"heldout_recall10":0.5,"heldout_mrr":0.25,"best":false,"duration_ns":0}`},
		{"report", TrainReport{Epochs: []EpochStats{{Epoch: 1, HeldOutAUC: nan, HeldOutRecall10: 0.5, HeldOutMRR: 0.25}}, BestEpoch: 1, Examples: 7, HeldOutUsers: 0, PopularAUC: nan, PopularRecall10: 0.125},
			`{"epochs":[{"epoch":1,"examples":0,"loss":0,"heldout_auc":null,"heldout_recall10":0.5,"heldout_mrr":0.25,"best":false,"duration_ns":0}],"best_epoch":1,"stopped_early":false,"examples":7,"duration_ns":0,"heldout_users":0,"popular_auc":null,"popular_recall10":0.125}`},
	} {
		got, err := json.Marshal(tc.v)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
