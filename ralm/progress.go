package ralm

import (
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/ralmlab/ralm/internal/meter"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/lookalike/coldstart"
	"github.com/ralmlab/ralm/userrep"
)

// withProgress returns opt with its epoch callbacks wrapped to also print
// one line per epoch of each stage on opt.Progress (the callbacks already
// set still run first). It returns opt unchanged when Progress is nil.
func (opt TrainOptions) withProgress(cfg TrainConfig) TrainOptions {
	if opt.Progress == nil {
		return opt
	}
	p := &progressPrinter{w: opt.Progress, now: time.Now}
	if opt.progressClock != nil {
		p.now = opt.progressClock
	}
	userEpoch := opt.UserRep.OnEpoch
	opt.UserRep.OnEpoch = func(e userrep.EpochStats) {
		if userEpoch != nil {
			userEpoch(e)
		}
		p.userEpoch(e, cfg.UserRep.Epochs)
	}
	laProgress := opt.LookAlike.Progress
	opt.LookAlike.Progress = func(pr lookalike.Progress) {
		if laProgress != nil {
			laProgress(pr)
		}
		if pr.EpochDone {
			p.lookAlikeEpoch(pr)
		}
	}
	csProgress := opt.ColdStart.Progress
	opt.ColdStart.Progress = func(pr coldstart.Progress) {
		if csProgress != nil {
			csProgress(pr)
		}
		p.coldStartEpoch(pr)
	}
	stage := opt.Stage
	opt.Stage = func(name string) {
		if stage != nil {
			stage(name)
		}
		p.stage(name)
	}
	return opt
}

// progressPrinter writes the lines of TrainOptions.Progress.
type progressPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	now   func() time.Time
	m     meter.Meter // the current stage's
	name  string
	epoch int // user model: epochs so far
	ex    int64
}

func (p *progressPrinter) stage(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.m, p.epoch, p.ex = name, meter.Start(p.now()), 0, 0
}

func (p *progressPrinter) userEpoch(e userrep.EpochStats, epochs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch, p.ex = e.Epoch, p.ex+int64(e.Examples)
	st := p.m.At(p.now(), e.Epoch, epochs, p.ex)
	metric := ""
	if !math.IsNaN(e.HeldOutAUC) {
		metric = fmt.Sprintf(", held-out AUC %.4f", e.HeldOutAUC)
	}
	fmt.Fprintf(p.w, "user model: epoch %d/%d loss %.4f%s, %s\n", e.Epoch, epochs, e.Loss, metric, st.Format("examples"))
}

func (p *progressPrinter) lookAlikeEpoch(pr lookalike.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.m.At(p.now(), pr.Step, pr.Steps, pr.Pairs)
	metric := ""
	if pr.ValidAUC > 0 {
		metric = fmt.Sprintf(", validation AUC %.4f", pr.ValidAUC)
	}
	what := "look-alike model"
	if p.name == "lookalike-avg" {
		what = "ralm-avg model"
	}
	fmt.Fprintf(p.w, "%s: epoch %d/%d loss %.4f%s, %s\n", what, pr.Epoch, pr.Epochs, pr.Loss, metric, st.Format("pairs"))
}

func (p *progressPrinter) coldStartEpoch(pr coldstart.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.m.At(p.now(), pr.Epoch, pr.Epochs, pr.Pairs)
	fmt.Fprintf(p.w, "cold-start model: epoch %d/%d loss %.4f, %s\n", pr.Epoch, pr.Epochs, pr.Loss, st.Format("pairs"))
}
