package userrep

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// trainWithCheckpoints trains and returns the model file and every epoch's
// checkpoint, each through its binary encoding.
func trainWithCheckpoints(t *testing.T, p *planted, cfg Config, opts TrainOptions) ([]byte, *TrainReport, []*Checkpoint) {
	t.Helper()
	var cks []*Checkpoint
	opts.Checkpoint = func(c *Checkpoint) error {
		var b bytes.Buffer
		if err := c.Encode(&b); err != nil {
			return err
		}
		var d Checkpoint
		if err := d.Decode(bufio.NewReader(&b)); err != nil {
			return err
		}
		cks = append(cks, &d)
		return nil
	}
	m, rep, err := Train(context.Background(), p.fb, p.clicks, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b, rep, cks
}

// TestResumeMatchesUninterrupted: a run resumed from the checkpoint of any
// epoch ends with the same model file, byte for byte, and the same report
// as the uninterrupted run, on one and two workers, with field dropout and
// with early stopping.
func TestResumeMatchesUninterrupted(t *testing.T) {
	p := tinyPlanted()
	for _, c := range []struct {
		name    string
		threads int
		edit    func(*Config)
	}{
		{"dropout", 1, func(c *Config) { c.Epochs, c.FieldDropout = 3, 0.2 }},
		{"threads=2", 2, func(c *Config) { c.Epochs = 3 }},
		{"early-stop", 1, func(c *Config) { c.Epochs, c.Patience, c.LR = 40, 2, 0.05 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := quickConfig()
			c.edit(&cfg)
			want, rep, cks := trainWithCheckpoints(t, p, cfg, TrainOptions{Threads: c.threads})
			if len(cks) != len(rep.Epochs) {
				t.Fatalf("%d checkpoints for %d epochs", len(cks), len(rep.Epochs))
			}
			if last := cks[len(cks)-1]; !last.Done() || last.Epoch() != len(rep.Epochs) {
				t.Fatalf("last checkpoint: epoch %d, done %v", last.Epoch(), last.Done())
			}
			for _, k := range []int{0, len(cks) / 2, len(cks) - 1} {
				ck := cks[k]
				var seen []int
				got, rrep, more := trainWithCheckpoints(t, p, cfg, TrainOptions{Threads: c.threads, Resume: ck,
					OnEpoch: func(e EpochStats) { seen = append(seen, e.Epoch) }})
				if !bytes.Equal(got, want) {
					t.Fatalf("resumed after epoch %d: model differs from the uninterrupted run", ck.Epoch())
				}
				if len(seen) != len(rep.Epochs)-ck.Epoch() || len(more) != len(seen) {
					t.Errorf("resumed after epoch %d: %d epochs trained and %d checkpoints, want %d", ck.Epoch(), len(seen), len(more), len(rep.Epochs)-ck.Epoch())
				}
				if rrep.BestEpoch != rep.BestEpoch || rrep.StoppedEarly != rep.StoppedEarly || len(rrep.Epochs) != len(rep.Epochs) || rrep.Examples != rep.Examples {
					t.Errorf("resumed after epoch %d: report best %d stopped %v epochs %d examples %d, want %d %v %d %d", ck.Epoch(),
						rrep.BestEpoch, rrep.StoppedEarly, len(rrep.Epochs), rrep.Examples, rep.BestEpoch, rep.StoppedEarly, len(rep.Epochs), rep.Examples)
				}
				for i := range rep.Epochs {
					if rrep.Epochs[i].Loss != rep.Epochs[i].Loss || fmt.Sprint(rrep.Epochs[i].HeldOutAUC) != fmt.Sprint(rep.Epochs[i].HeldOutAUC) {
						t.Errorf("resumed after epoch %d: epoch %d loss %v AUC %v, want %v %v", ck.Epoch(), i+1,
							rrep.Epochs[i].Loss, rrep.Epochs[i].HeldOutAUC, rep.Epochs[i].Loss, rep.Epochs[i].HeldOutAUC)
					}
				}
			}
		})
	}
}

// TestResumeRefusesOtherRun: a checkpoint does not resume a run with another
// config, other data or another number of threads.
func TestResumeRefusesOtherRun(t *testing.T) {
	p := tinyPlanted()
	cfg := quickConfig()
	_, _, cks := trainWithCheckpoints(t, p, cfg, TrainOptions{Threads: 1})
	ck := cks[0]
	other := genPlanted(plantedSpec{users: 150, items: 70, communities: 4, clicksPerUser: 6, inCommunity: 0.8, seed: 3})
	lr := cfg
	lr.LR *= 2
	for _, c := range []struct {
		name    string
		p       *planted
		cfg     Config
		threads int
		want    string
	}{
		{"config", p, lr, 1, "another configuration"},
		{"threads", p, cfg, 2, "written with 1 threads, this run has 2"},
		{"data", other, cfg, 1, "these inputs give"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Train(context.Background(), c.p.fb, c.p.clicks, c.cfg, TrainOptions{Threads: c.threads, Resume: ck})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one with %q", err, c.want)
			}
		})
	}
	var bad Checkpoint
	if err := bad.Decode(bufio.NewReader(strings.NewReader("not a checkpoint"))); err == nil {
		t.Error("decoded garbage as a checkpoint")
	}
}
