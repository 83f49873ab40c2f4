package userrep

// Checkpoints: the whole state of a training run at the end of an epoch, so
// that a run resumed from it ends with the same weights, byte for byte, as
// one that was never interrupted (same data, config and Threads).

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"

	"github.com/ralmlab/ralm/internal/gobstream"
)

// countingSource is the trainer's random source: math/rand's seeded source,
// counting the numbers drawn so that a resumed run can fast-forward a fresh
// source of the same seed to the same state.
type countingSource struct {
	src rand.Source64
	n   uint64
}

func newCountingSource(seed int64) *countingSource {
	return &countingSource{src: rand.NewSource(seed).(rand.Source64)}
}

func (s *countingSource) Int63() int64   { s.n++; return s.src.Int63() }
func (s *countingSource) Uint64() uint64 { s.n++; return s.src.Uint64() }

// Seed is not used by the trainer; it restarts the count.
func (s *countingSource) Seed(seed int64) { s.src.Seed(seed); s.n = 0 }

// advance draws until n numbers have been drawn in all.
func (s *countingSource) advance(n uint64) error {
	if n < s.n {
		return fmt.Errorf("random source at %d draws cannot go back to %d", s.n, n)
	}
	for s.n < n {
		s.src.Uint64()
		s.n++
	}
	return nil
}

// checkpointVersion is the version of the checkpoint encoding.
const checkpointVersion = 2

// Checkpoint is the state of a user-model training run after an epoch:
// every weight, the Adam moments and step count, the random generator's
// position, the best epoch's weights, the report so far, and the config and
// shape it belongs to. TrainOptions.Checkpoint receives one after every
// epoch; TrainOptions.Resume continues from one. It encodes with
// Encode.
type Checkpoint struct{ s checkpointState }

// checkpointState is the gob-encoded content of a Checkpoint.
type checkpointState struct {
	Version int
	Config  []byte // JSON of the run's Config
	Workers int    // data-parallel workers of the run
	Fields  int
	Items   int
	Dense   int // length of the dense parameters

	Epoch    int // epochs done
	Global   int // optimisation steps done
	Draws    uint64
	Steps    int // Adam steps
	Weights  weightState
	Moments  [2]weightState // Adam m and v
	HasBest  bool
	Best     weightState
	BestAUC  float64
	Report   TrainReport
	Stopped  bool // early stopping ended the run after Epoch
	Finished bool // no epoch is left
}

// weightState holds one copy of every trained array.
type weightState struct {
	Dense, Out, Bias []float32
	Tables           [][]float32
}

// Epoch is the number of epochs done when the checkpoint was taken.
func (c *Checkpoint) Epoch() int { return c.s.Epoch }

// Done reports whether the run had no epoch left (all epochs done, or
// stopped early): resuming from it only restores the best weights.
func (c *Checkpoint) Done() bool { return c.s.Finished }

// Encode writes the checkpoint to w as a stream of gob values: a header,
// then every weight array in bounded chunks (internal/gobstream), so no
// encoding of the whole state is built in memory.
func (c *Checkpoint) Encode(w io.Writer) error {
	enc := gob.NewEncoder(w)
	h := c.s
	h.Weights, h.Moments, h.Best = weightState{}, [2]weightState{}, weightState{}
	if err := enc.Encode(&h); err != nil {
		return fmt.Errorf("userrep: encode checkpoint: %w", err)
	}
	for _, ws := range c.s.arrays() {
		if err := ws.encode(enc); err != nil {
			return fmt.Errorf("userrep: encode checkpoint: %w", err)
		}
	}
	return nil
}

// Decode reads a checkpoint written by Encode from r, reading no byte past
// it.
func (c *Checkpoint) Decode(r *bufio.Reader) error {
	dec := gob.NewDecoder(r)
	var s checkpointState
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("userrep: decode checkpoint: %w", err)
	}
	if s.Version != checkpointVersion {
		return fmt.Errorf("userrep: checkpoint version %d, this build reads %d", s.Version, checkpointVersion)
	}
	for _, ws := range s.arrays() {
		if err := ws.decode(dec, s.Fields); err != nil {
			return fmt.Errorf("userrep: decode checkpoint: %w", err)
		}
	}
	c.s = s
	return nil
}

// arrays returns the weight copies the state holds, in stream order.
func (s *checkpointState) arrays() []*weightState {
	ws := []*weightState{&s.Weights, &s.Moments[0], &s.Moments[1]}
	if s.HasBest {
		ws = append(ws, &s.Best)
	}
	return ws
}

// encode writes w's arrays on enc.
func (w *weightState) encode(enc *gob.Encoder) error {
	for _, v := range [][]float32{w.Dense, w.Out, w.Bias} {
		if err := gobstream.EncodeFloat32s(enc, v); err != nil {
			return err
		}
	}
	return gobstream.EncodeArrays(enc, w.Tables)
}

// decode reads arrays written by encode into w (fields tables).
func (w *weightState) decode(dec *gob.Decoder, fields int) error {
	for _, v := range []*[]float32{&w.Dense, &w.Out, &w.Bias} {
		var err error
		if *v, err = gobstream.DecodeFloat32s(dec); err != nil {
			return err
		}
	}
	var err error
	w.Tables, err = gobstream.DecodeArrays(dec, fields)
	return err
}

func copyWeights(p *params[float32]) weightState {
	w := weightState{Dense: append([]float32(nil), p.dense...), Out: append([]float32(nil), p.out...), Bias: append([]float32(nil), p.bias...)}
	for _, t := range p.tables {
		w.Tables = append(w.Tables, append([]float32(nil), t...))
	}
	return w
}

// restoreWeights copies w into p, checking every length.
func restoreWeights(p *params[float32], w weightState, what string) error {
	bad := func(name string, got, want int) error {
		return fmt.Errorf("userrep: checkpoint %s %s has %d values, the model %d", what, name, got, want)
	}
	if len(w.Dense) != len(p.dense) {
		return bad("dense weights", len(w.Dense), len(p.dense))
	}
	if len(w.Out) != len(p.out) {
		return bad("item vectors", len(w.Out), len(p.out))
	}
	if len(w.Bias) != len(p.bias) {
		return bad("item biases", len(w.Bias), len(p.bias))
	}
	if len(w.Tables) != len(p.tables) {
		return bad("tables", len(w.Tables), len(p.tables))
	}
	for f := range p.tables {
		if len(w.Tables[f]) != len(p.tables[f]) {
			return bad(fmt.Sprintf("table %d", f), len(w.Tables[f]), len(p.tables[f]))
		}
	}
	copy(p.dense, w.Dense)
	copy(p.out, w.Out)
	copy(p.bias, w.Bias)
	for f := range p.tables {
		copy(p.tables[f], w.Tables[f])
	}
	return nil
}

// momentParams wraps the optimiser's moments as params for copying.
func momentParams(a *adam[float32], first bool) *params[float32] {
	if first {
		return &params[float32]{dense: a.dm, tables: a.tm, out: a.om, bias: []float32{}}
	}
	return &params[float32]{dense: a.dv, tables: a.tv, out: a.ov, bias: []float32{}}
}

// checkpoint returns the run's state after epoch.
func checkpoint(tr *trainer[float32], epoch, global int, best *params[float32], bestAUC float64, rep *TrainReport, stopped bool) (*Checkpoint, error) {
	cfg, err := json.Marshal(tr.cfg)
	if err != nil {
		return nil, fmt.Errorf("userrep: checkpoint config: %w", err)
	}
	s := checkpointState{Version: checkpointVersion, Config: cfg, Workers: len(tr.workers), Fields: tr.lay.F,
		Items: tr.lay.nItems, Dense: tr.lay.denseLen, Epoch: epoch, Global: global, Draws: tr.src.n,
		Steps: tr.opt.Steps(), Weights: copyWeights(tr.p),
		Moments: [2]weightState{copyWeights(momentParams(tr.opt, true)), copyWeights(momentParams(tr.opt, false))},
		BestAUC: bestAUC, Report: *rep, Stopped: stopped, Finished: stopped || epoch >= tr.cfg.Epochs}
	s.Report.Epochs = append([]EpochStats(nil), rep.Epochs...)
	if best != nil {
		s.HasBest, s.Best = true, copyWeights(best)
	}
	return &Checkpoint{s: s}, nil
}

// resumeState is what run continues from.
type resumeState struct {
	epoch, global int
	best          *params[float32]
	bestAUC       float64
	rep           *TrainReport
	stopped       bool
}

// resume restores the trainer from c, after checking that c belongs to
// this run's config, data shape and number of workers.
func resume(tr *trainer[float32], c *Checkpoint) (*resumeState, error) {
	s := &c.s
	cfg, err := json.Marshal(tr.cfg)
	if err != nil {
		return nil, fmt.Errorf("userrep: resume: %w", err)
	}
	if !bytes.Equal(cfg, s.Config) {
		return nil, fmt.Errorf("userrep: resume: the checkpoint was written with another configuration: %s (checkpoint %s)", cfg, s.Config)
	}
	if s.Fields != tr.lay.F || s.Items != tr.lay.nItems || s.Dense != tr.lay.denseLen {
		return nil, fmt.Errorf("userrep: resume: the checkpoint is of a model with %d fields and %d items, these inputs give %d fields and %d items",
			s.Fields, s.Items, tr.lay.F, tr.lay.nItems)
	}
	if s.Workers != len(tr.workers) {
		return nil, fmt.Errorf("userrep: resume: the checkpoint was written with %d threads, this run has %d (use the same --threads)", s.Workers, len(tr.workers))
	}
	if s.Epoch < 1 || s.Epoch > tr.cfg.Epochs || len(s.Report.Epochs) != s.Epoch {
		return nil, errors.New("userrep: resume: the checkpoint's epoch count is inconsistent")
	}
	if err := restoreWeights(tr.p, s.Weights, "weights"); err != nil {
		return nil, err
	}
	for i, first := range []bool{true, false} {
		if err := restoreWeights(momentParams(tr.opt, first), s.Moments[i], "moments"); err != nil {
			return nil, err
		}
	}
	tr.opt.SetSteps(s.Steps)
	r := &resumeState{epoch: s.Epoch, global: s.Global, bestAUC: s.BestAUC, stopped: s.Stopped}
	if s.HasBest {
		r.best = tr.p.clone()
		if err := restoreWeights(r.best, s.Best, "best weights"); err != nil {
			return nil, err
		}
	} else {
		r.bestAUC = math.Inf(-1)
	}
	rep := s.Report
	rep.Epochs = append([]EpochStats(nil), s.Report.Epochs...)
	r.rep = &rep
	if !s.Finished { // only a run with epochs left draws again
		if err := tr.src.advance(s.Draws); err != nil {
			return nil, fmt.Errorf("userrep: resume: %w", err)
		}
	}
	return r, nil
}
