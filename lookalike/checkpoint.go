package lookalike

// Checkpoints: the whole state of a training run at the end of an epoch, so
// that a run resumed from it ends with the same weights, bit for bit, as one
// that was never interrupted (same inputs, config and Threads).

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/ralmlab/ralm/internal/gobstream"
)

// checkpointVersion is the version of the checkpoint encoding.
const checkpointVersion = 2

// Checkpoint is the state of a look-alike training run after an epoch: the
// weights, the Adam moments and step count, the states of the random
// generators, every training item's centroids, the report so far, and the
// config and shapes it belongs to. TrainOptions.Checkpoint receives one after
// every epoch; TrainOptions.Resume continues from one. It encodes with
// Encode.
type Checkpoint struct{ s checkpointState }

// checkpointState is the gob-encoded content of a Checkpoint.
type checkpointState struct {
	Version    int
	Config     []byte // JSON of the run's Config, defaults filled in
	Workers    int
	Users      int
	Dim        int
	TrainItems int
	ValidItems int

	Epoch          int // epochs done
	Steps          int
	TotalSteps     int
	Pairs          int64
	Reclusters     int
	SinceRecluster int
	Weights        [][]float32 // Model.params() order; scalars have one value
	M1, M2         [][]float32 // Adam moments, same order
	AdamSteps      int
	RNG            [3][]byte // split, sample and dropout generators
	Cents          [][]float32
	NC             []int
	Epochs         []EpochStats
}

// Epoch is the number of epochs done when the checkpoint was taken.
func (c *Checkpoint) Epoch() int { return c.s.Epoch }

// Encode writes the checkpoint to w as a stream of gob values: a header with
// the weights, then every item's centroids one item at a time
// (internal/gobstream), so no encoding of the whole state is built in
// memory.
func (c *Checkpoint) Encode(w io.Writer) error {
	enc := gob.NewEncoder(w)
	h := c.s
	h.Cents = nil
	if err := enc.Encode(&h); err != nil {
		return fmt.Errorf("lookalike: encode checkpoint: %w", err)
	}
	if err := gobstream.EncodeArrays(enc, c.s.Cents); err != nil {
		return fmt.Errorf("lookalike: encode checkpoint centroids: %w", err)
	}
	return nil
}

// Decode reads a checkpoint written by Encode from r, reading no byte past
// it.
func (c *Checkpoint) Decode(r *bufio.Reader) error {
	dec := gob.NewDecoder(r)
	var s checkpointState
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("lookalike: decode checkpoint: %w", err)
	}
	if s.Version != checkpointVersion {
		return fmt.Errorf("lookalike: checkpoint version %d, this build reads %d", s.Version, checkpointVersion)
	}
	cents, err := gobstream.DecodeArrays(dec, s.TrainItems)
	if err != nil {
		return fmt.Errorf("lookalike: decode checkpoint centroids: %w", err)
	}
	s.Cents = cents
	c.s = s
	return nil
}

// rngs returns the trainer's generators' sources in checkpoint order.
func (t *trainer) rngs() [3]*rand.PCG { return [3]*rand.PCG{t.splitSrc, t.sampleSrc, t.dropSrc} }

// checkpoint returns the run's state after the current epoch (the scalars
// must have been synced into the model).
func (t *trainer) checkpoint(totalSteps int) (*Checkpoint, error) {
	cfg, err := json.Marshal(t.cfg)
	if err != nil {
		return nil, fmt.Errorf("lookalike: checkpoint config: %w", err)
	}
	s := checkpointState{Version: checkpointVersion, Config: cfg, Workers: len(t.sgs), Users: t.rep.Users, Dim: t.m.d,
		TrainItems: len(t.items), ValidItems: len(t.valid), Epoch: t.epoch, Steps: t.rep.Steps, TotalSteps: totalSteps,
		Pairs: t.rep.Pairs, Reclusters: t.rep.Reclusters, SinceRecluster: t.sinceRecluster,
		AdamSteps: t.adam.opt.Steps(), Epochs: append([]EpochStats(nil), t.rep.Epochs...)}
	for i, p := range t.m.params() {
		s.Weights = append(s.Weights, append([]float32(nil), t.m.slice(p.name)...))
		s.M1 = append(s.M1, append([]float32(nil), t.adam.m1[i]...))
		s.M2 = append(s.M2, append([]float32(nil), t.adam.m2[i]...))
	}
	for i, src := range t.rngs() {
		if s.RNG[i], err = src.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("lookalike: checkpoint generator: %w", err)
		}
	}
	for _, it := range t.items {
		// shared, not copied: the trainer replaces an item's centroids and
		// never writes into them (k-means copies its warm start)
		s.Cents = append(s.Cents, it.cents)
		s.NC = append(s.NC, it.nc)
	}
	return &Checkpoint{s: s}, nil
}

// restoreWeights checks that the checkpoint belongs to this run and copies
// its weights into the model (before the graphs are built).
func (t *trainer) restoreWeights(c *Checkpoint) error {
	s := &c.s
	cfg, err := json.Marshal(t.cfg)
	if err != nil {
		return fmt.Errorf("lookalike: resume: %w", err)
	}
	if !bytes.Equal(cfg, s.Config) {
		return fmt.Errorf("lookalike: resume: the checkpoint was written with another configuration: %s (checkpoint %s)", cfg, s.Config)
	}
	if s.Users != t.rep.Users || s.Dim != t.m.d || s.TrainItems != len(t.items) || s.ValidItems != len(t.valid) {
		return fmt.Errorf("lookalike: resume: the checkpoint is of %d users of dim %d and %d+%d items, these inputs have %d users of dim %d and %d+%d items",
			s.Users, s.Dim, s.TrainItems, s.ValidItems, t.rep.Users, t.m.d, len(t.items), len(t.valid))
	}
	if s.Epoch < 1 || s.Epoch > t.cfg.Epochs || len(s.Epochs) != s.Epoch || len(s.Cents) != len(t.items) || len(s.NC) != len(t.items) {
		return fmt.Errorf("lookalike: resume: the checkpoint's epoch count or items are inconsistent")
	}
	ps := t.m.params()
	if len(s.Weights) != len(ps) || len(s.M1) != len(ps) || len(s.M2) != len(ps) {
		return fmt.Errorf("lookalike: resume: the checkpoint has %d weights, the model %d", len(s.Weights), len(ps))
	}
	for i, p := range ps {
		dst := t.m.slice(p.name)
		if len(s.Weights[i]) != len(dst) || len(s.M1[i]) != len(dst) || len(s.M2[i]) != len(dst) {
			return fmt.Errorf("lookalike: resume: weight %s has %d values in the checkpoint, the model %d", p.name, len(s.Weights[i]), len(dst))
		}
		switch p.name {
		case "a":
			t.m.a = s.Weights[i][0]
		case "c":
			t.m.c = s.Weights[i][0]
		default:
			copy(dst, s.Weights[i])
		}
	}
	return nil
}

// restoreState restores the optimiser, the generators, the items'
// centroids and the report (after the graphs are built) and returns the
// run's total step estimate.
func (t *trainer) restoreState(c *Checkpoint) (int, error) {
	s := &c.s
	if s.Workers != len(t.sgs) {
		return 0, fmt.Errorf("lookalike: resume: the checkpoint was written with %d threads, this run has %d (use the same --threads)", s.Workers, len(t.sgs))
	}
	for i := range s.M1 {
		copy(t.adam.m1[i], s.M1[i])
		copy(t.adam.m2[i], s.M2[i])
	}
	t.adam.opt.SetSteps(s.AdamSteps)
	for i, src := range t.rngs() {
		if err := src.UnmarshalBinary(s.RNG[i]); err != nil {
			return 0, fmt.Errorf("lookalike: resume: generator: %w", err)
		}
	}
	for j, it := range t.items {
		it.cents, it.nc = s.Cents[j], s.NC[j] // never written into (see checkpoint)
	}
	t.rep.Steps, t.rep.Pairs, t.rep.Reclusters = s.Steps, s.Pairs, s.Reclusters
	t.rep.Epochs = append([]EpochStats(nil), s.Epochs...)
	t.sinceRecluster = s.SinceRecluster
	t.epoch = s.Epoch
	return s.TotalSteps, nil
}
