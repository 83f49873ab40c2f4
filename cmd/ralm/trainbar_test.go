package main

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/userrep"
)

// TestTrainingBar: the training bars of both stages show the loss, the
// throughput and, from the second epoch on, the last epoch's validation
// AUC; they count steps (so the bar predicts the time left).
func TestTrainingBar(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := &cobra.Command{}
	cmd.SetContext(ctx)
	cmd.SetErr(&terminal{w: &syncWriter{}, tty: true}) // a terminal: bars are made
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	desc := func(bar *progress) string {
		t.Helper()
		if bar == nil {
			t.Fatal("no bar on a terminal")
		}
		return bar.bar.State().Description
	}

	t.Run("user model", func(t *testing.T) {
		var bar *progress
		defer func() { bar.Finish() }()
		p := &urProgress{cmd: cmd, log: log, bar: &bar, epochs: 2}
		p.step(userrep.StepStats{Epoch: 1, Step: 1, Steps: 50, GlobalStep: 1, Examples: 512, Loss: 2.5})
		time.Sleep(20 * time.Millisecond)
		p.step(userrep.StepStats{Epoch: 1, Step: 2, Steps: 50, GlobalStep: 2, Examples: 512, Loss: 2.5})
		if d := desc(bar); !regexp.MustCompile(`^userrep 1/2 loss 2\.5000 \d+(\.\d)?k? ex/s$`).MatchString(d) {
			t.Errorf("epoch 1 bar %q, want the loss and examples/s", d)
		}
		p.epoch(userrep.EpochStats{Epoch: 1, Loss: 2.5, HeldOutAUC: 0.8125})
		p.step(userrep.StepStats{Epoch: 2, Step: 1, Steps: 50, GlobalStep: 51, Examples: 512, Loss: 2.5})
		if d := desc(bar); !regexp.MustCompile(`^userrep 2/2 loss 2\.5000 \d+(\.\d)?k? ex/s AUC 0\.8125$`).MatchString(d) {
			t.Errorf("epoch 2 bar %q, want the loss, examples/s and epoch 1's held-out AUC", d)
		}
		if st := bar.bar.State(); st.Max != 100 || st.CurrentNum != 51 {
			t.Errorf("bar at %d of %d steps, want 51 of 100", st.CurrentNum, st.Max)
		}
	})

	t.Run("look-alike model", func(t *testing.T) {
		var bar *progress
		defer func() { bar.Finish() }()
		l := &laProgress{cmd: cmd, log: log, bar: &bar, valid: true, desc: "lookalike "}
		l.report(lookalike.Progress{Epoch: 1, Epochs: 2, Step: 1, Steps: 40, Loss: 0.7, Pairs: 1000, Elapsed: time.Second})
		if d := desc(bar); !regexp.MustCompile(`^lookalike 1/2 loss 0\.7000 1\.0k pairs/s$`).MatchString(d) {
			t.Errorf("epoch 1 bar %q, want the loss and pairs/s", d)
		}
		l.report(lookalike.Progress{Epoch: 1, Epochs: 2, Step: 20, Steps: 40, Loss: 0.6, ValidAUC: 0.875, EpochDone: true, Pairs: 20000, Elapsed: 10 * time.Second})
		l.report(lookalike.Progress{Epoch: 2, Epochs: 2, Step: 21, Steps: 40, Loss: 0.5, Pairs: 22000, Elapsed: 11 * time.Second})
		if d := desc(bar); !regexp.MustCompile(`^lookalike 2/2 loss 0\.5000 2\.0k pairs/s AUC 0\.8750$`).MatchString(d) {
			t.Errorf("epoch 2 bar %q, want the loss, pairs/s and epoch 1's validation AUC", d)
		}
		if st := bar.bar.State(); st.Max != 40 || st.CurrentNum != 21 {
			t.Errorf("bar at %d of %d steps, want 21 of 40", st.CurrentNum, st.Max)
		}
	})
}
