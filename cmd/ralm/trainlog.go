package main

// The JSON-lines training log (--log) and the training progress meter.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/internal/atomicfile"
	"github.com/ralmlab/ralm/internal/meter"
	"github.com/ralmlab/ralm/userrep"
)

// Records of the JSON-lines training log. jsonLog adds "time" (RFC 3339,
// when the record was written) and "elapsed_s" (seconds since the log was
// opened) to every record.
type (
	logStage struct {
		Type  string `json:"type"`
		Stage string `json:"stage"`
	}
	logStep struct {
		Type  string `json:"type"`
		Stage string `json:"stage"`
		Epoch int    `json:"epoch"`
		// Step counts the stage's steps from 1; Steps is its planned total.
		Step  int `json:"step"`
		Steps int `json:"steps"`
		// Examples: user-model examples or look-alike (target, item) pairs.
		Examples int64    `json:"examples"`
		Loss     *float64 `json:"loss"`
		// ExamplesPerSec is the stage's throughput so far.
		ExamplesPerSec float64 `json:"examples_per_s"`
	}
	logEpoch struct {
		Type            string   `json:"type"`
		Stage           string   `json:"stage"`
		Epoch           int      `json:"epoch"`
		Loss            *float64 `json:"loss"`
		Examples        int64    `json:"examples"`
		HeldOutAUC      *float64 `json:"heldout_auc,omitempty"`
		HeldOutRecall10 *float64 `json:"heldout_recall10,omitempty"`
		HeldOutMRR      *float64 `json:"heldout_mrr,omitempty"`
		Best            *bool    `json:"best,omitempty"`
		ValidAUC        *float64 `json:"valid_auc,omitempty"`
		Seconds         float64  `json:"seconds"`
	}
)

// finite returns &x, or nil (JSON null) for NaN and infinities, which JSON
// cannot hold.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// jsonLog writes JSON lines to a file as they come: each record is one
// write of one whole line, so `tail -f` shows a run's progress and a failed
// or interrupted run leaves its log up to the last record. A nil *jsonLog
// discards everything.
type jsonLog struct {
	path  string
	f     *os.File
	start time.Time
	now   func() time.Time
	err   error
}

// newJSONLog creates (or truncates) the log at path; an empty path gives a
// nil log, which discards everything.
func newJSONLog(path string) (*jsonLog, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, atomicfile.FileMode)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", path, err)
	}
	return &jsonLog{path: path, f: f, start: time.Now(), now: time.Now}, nil
}

// write appends v, which must encode as a JSON object, as one line with
// "time" and "elapsed_s" added; the first error is kept for close.
func (l *jsonLog) write(v any) {
	if l == nil || l.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil && (len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}') {
		err = fmt.Errorf("log record %T is not a JSON object", v)
	}
	if err != nil {
		l.err = err
		return
	}
	t := l.now()
	line := b[:len(b)-1]
	if len(b) > 2 {
		line = append(line, ',')
	}
	line = append(line, `"time":"`...)
	line = t.UTC().AppendFormat(line, time.RFC3339Nano)
	line = append(line, `","elapsed_s":`...)
	line = strconv.AppendFloat(line, t.Sub(l.start).Seconds(), 'f', 3, 64)
	line = append(line, "}\n"...)
	_, l.err = l.f.Write(line)
}

func (l *jsonLog) close() error {
	if l == nil {
		return nil
	}
	err := l.err
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write log %s: %w", l.path, err)
	}
	return nil
}

// trainLogRecord is any record of a training log, as read back: the
// members of an epoch record (a superset of what the plots read) and those
// of the step and time members.
type trainLogRecord struct {
	logEpoch
	Step    int     `json:"step"`
	Time    string  `json:"time"`
	Elapsed float64 `json:"elapsed_s"`
}

// readTrainLog reads a JSON-lines training log (of ralm train, ralm train
// userrep or ralm train lookalike). A line that is not JSON is an error
// naming the line; a last line cut short (a run still writing) is ignored.
func readTrainLog(r io.Reader, name string) ([]trainLogRecord, error) {
	var recs []trainLogRecord
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // the end, or a last line still being written
		}
		if err != nil {
			return nil, fmt.Errorf("read log %s: %w", name, err)
		}
		var rec trainLogRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("log %s line %d: not a JSON object: %w", name, n, err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// withTrainLog runs a training command's work with its JSON-lines log at
// logPath (a nil log for "") and the slot of its current progress bar. The
// bar is finished and the log closed when run returns; a close error is the
// result when run succeeded.
func withTrainLog(logPath string, run func(jl *jsonLog, bar **progress) error) (err error) {
	jl, err := newJSONLog(logPath)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := jl.close(); err == nil {
			err = cerr
		}
	}()
	var bar *progress
	defer func() { bar.Finish() }()
	return run(jl, &bar)
}

// urProgress draws the user-model stage's bar (an exponentially smoothed
// loss, the throughput and the last epoch's held-out AUC; the bar itself
// shows the time left) and logs its epochs, for ralm train and ralm train
// userrep. logStep and logEpoch, when set, write the stage's JSON-lines
// records; the two commands write different records.
type urProgress struct {
	cmd    *cobra.Command
	log    *slog.Logger
	bar    **progress // made on the first step
	epochs int        // planned epochs
	// logStep gets the step and the stage's throughput so far.
	logStep  func(s userrep.StepStats, perSec float64)
	logEpoch func(e userrep.EpochStats)

	running  float64
	m        meter.Meter
	examples int64
	first    int    // steps done before this process (a resumed run)
	lastEval string // " AUC 0.8123" after an epoch with held-out users
}

func (p *urProgress) step(s userrep.StepStats) {
	now := time.Now()
	total := s.Steps * p.epochs
	if !p.m.Started() {
		*p.bar = newProgress(p.cmd.Context(), p.cmd, int64(total), "user model")
		p.running, p.m, p.first = s.Loss, meter.Start(now), s.GlobalStep-1
	}
	p.running = 0.95*p.running + 0.05*s.Loss
	p.examples += int64(s.Examples)
	st := p.m.At(now, s.GlobalStep-p.first, total-p.first, p.examples)
	(*p.bar).Set(int64(s.GlobalStep))
	(*p.bar).Describe(fmt.Sprintf("userrep %d/%d loss %.4f %s ex/s%s", s.Epoch, p.epochs, p.running, meter.HumanCount(st.PerSec), p.lastEval))
	if p.logStep != nil {
		p.logStep(s, st.PerSec)
	}
}

func (p *urProgress) epoch(e userrep.EpochStats) {
	if p.logEpoch != nil {
		p.logEpoch(e)
	}
	if !math.IsNaN(e.HeldOutAUC) {
		p.lastEval = fmt.Sprintf(" AUC %.4f", e.HeldOutAUC)
	}
	p.log.Info("user model epoch", "epoch", e.Epoch, "loss", e.Loss, "heldout_auc", e.HeldOutAUC, "heldout_recall10", e.HeldOutRecall10,
		"best", e.Best, "took", e.Duration.Round(time.Millisecond),
		"examples_per_s", math.Round(float64(e.Examples)/e.Duration.Seconds()), "eta", p.m.At(time.Now(), e.Epoch, p.epochs, 0).Left.Round(time.Second))
}

// options returns the training options that report to p.
func (p *urProgress) options() userrep.TrainOptions {
	return userrep.TrainOptions{OnStep: p.step, OnEpoch: p.epoch}
}
