package lookalike

import (
	"bufio"
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

// trainWithCheckpoints trains and returns the encoded model, the report and
// every epoch's checkpoint, each through its binary encoding.
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
	m, rep, err := Train(context.Background(), p.emb, p.dim, p.train, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.encode()
	if err != nil {
		t.Fatal(err)
	}
	return b, rep, cks
}

// TestResumeMatchesUninterrupted: a run resumed from the checkpoint of any
// epoch ends with the same weights, bit for bit, and the same per-epoch
// report as the uninterrupted run: attention with dropout and validation,
// average pooling with re-clustering within epochs, two workers.
func TestResumeMatchesUninterrupted(t *testing.T) {
	p := smallPlanted(2)
	for _, c := range []struct {
		name    string
		cfg     Config
		threads int
	}{
		{"attention+dropout", Config{Epochs: 3, K: 5, SeedsPerItem: 20, Seed: 7, Dropout: 0.2}, 1},
		{"avg+recluster", Config{Epochs: 3, K: 5, SeedsPerItem: 20, Seed: 7, Pooling: PoolingAvg, ReclusterEvery: 3, NoSizePrior: true}, 1},
		{"threads=2", Config{Epochs: 3, K: 5, SeedsPerItem: 20, Seed: 7, ReclusterEvery: 1000}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := TrainOptions{ValidFraction: 0.2, Threads: c.threads}
			want, rep, cks := trainWithCheckpoints(t, p, c.cfg, opts)
			if len(cks) != c.cfg.Epochs {
				t.Fatalf("%d checkpoints for %d epochs", len(cks), c.cfg.Epochs)
			}
			for _, ck := range cks {
				ro := opts
				ro.Resume = ck
				got, rrep, more := trainWithCheckpoints(t, p, c.cfg, ro)
				if !bytes.Equal(got, want) {
					t.Fatalf("resumed after epoch %d: weights differ from the uninterrupted run", ck.Epoch())
				}
				if len(more) != c.cfg.Epochs-ck.Epoch() {
					t.Errorf("resumed after epoch %d: %d more checkpoints, want %d", ck.Epoch(), len(more), c.cfg.Epochs-ck.Epoch())
				}
				for i := range rep.Epochs {
					rrep.Epochs[i].Seconds, rep.Epochs[i].Seconds = 0, 0
				}
				if !reflect.DeepEqual(rrep.Epochs, rep.Epochs) || rrep.Steps != rep.Steps || rrep.Pairs != rep.Pairs || rrep.Reclusters != rep.Reclusters {
					t.Errorf("resumed after epoch %d: report %+v, want %+v", ck.Epoch(), rrep, rep)
				}
			}
		})
	}
}

// TestResumeRefusesOtherRun: a checkpoint does not resume a run with another
// config, other inputs or another number of threads.
func TestResumeRefusesOtherRun(t *testing.T) {
	p := smallPlanted(2)
	cfg := Config{Epochs: 2, K: 5, SeedsPerItem: 20, Seed: 7}
	_, _, cks := trainWithCheckpoints(t, p, cfg, TrainOptions{Threads: 1})
	other := smallPlanted(3)
	lr := cfg
	lr.LR = 0.5
	for _, c := range []struct {
		name     string
		emb      []float32
		clickers [][]int32
		cfg      Config
		threads  int
		want     string
	}{
		{"config", p.emb, p.train, lr, 1, "another configuration"},
		{"threads", p.emb, p.train, cfg, 2, "written with 1 threads, this run has 2"},
		{"inputs", other.emb[:len(other.emb)-other.dim], other.train[:20], cfg, 1, "these inputs have"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Train(context.Background(), c.emb, p.dim, c.clickers, c.cfg, TrainOptions{Threads: c.threads, Resume: cks[0]})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one with %q", err, c.want)
			}
		})
	}
}
