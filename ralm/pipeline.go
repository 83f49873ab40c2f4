// Package ralm is the library entry point of RALM (Real-time Attention-based
// Look-alike Model): Train runs the two-stage training pipeline (the user
// representation model, then the look-alike model on its embeddings), and
// Trained.Bundle is the model folder to write with bundle.Write. The
// sub-packages do one job each: bundle (the model folder), serve (the
// real-time engine and its store), server (HTTP), offline (batch score and
// expand) and eval (the evaluation protocol).
package ralm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/lookalike/coldstart"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/userrep"
)

// TrainConfig configures the two-stage training pipeline.
type TrainConfig struct {
	UserRep   userrep.Config
	LookAlike lookalike.Config
	// WithAvg also trains the paper's "RALM with average pooling" baseline
	// (the look-alike configuration with Pooling avg) on the same embeddings;
	// evaluations report it as ralm-avg.
	WithAvg bool
	// ColdStart configures the attribute cold-start network, trained after
	// the look-alike stage when the items table is given (see
	// ColdStartConfig for what the pipeline sets); NoColdStart skips it.
	ColdStart   coldstart.Config
	NoColdStart bool
}

// DefaultTrainConfig returns both stages' defaults.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{UserRep: userrep.DefaultConfig(), LookAlike: lookalike.DefaultConfig(), ColdStart: coldstart.DefaultConfig()}
}

// SetSeed seeds every stage with one int64, the one seed type of the
// project (userrep.Config.Seed, lookalike.Config.Seed and
// coldstart.Config.Seed are all int64): the user model, the look-alike
// model (and ralm-avg) and the cold-start network. The same seed value,
// data and settings give the same models.
func (c *TrainConfig) SetSeed(seed int64) {
	c.UserRep.Seed, c.LookAlike.Seed, c.ColdStart.Seed = seed, seed, seed
}

// TrainData is what the pipeline learns from: the training clicks and the
// optional users and items tables.
type TrainData struct {
	Clicks *data.Clicks
	Users  *data.Table // optional
	Items  *data.Table // optional
}

// TrainOptions receives progress from both stages; every callback may be nil.
type TrainOptions struct {
	UserRep   userrep.TrainOptions
	LookAlike lookalike.TrainOptions
	ColdStart coldstart.TrainOptions
	// Stage is called when a stage starts: "userrep", "embed", "lookalike",
	// "lookalike-avg", "coldstart".
	Stage  func(name string)
	Logger *slog.Logger
	// Checkpoint, if set, is called after every epoch of the user model and
	// of the look-alike model with the pipeline's state (write it with
	// Checkpoint.Save); an error stops training with that error.
	Checkpoint func(*Checkpoint) error
	// Resume continues the interrupted run whose last checkpoint it is: the
	// same inputs and settings (configs, Threads, validation options) end
	// with the same models, byte for byte, as the uninterrupted run; other
	// inputs or settings are refused with an error naming the difference.
	Resume *Checkpoint
	// Progress, if set, gets one line per epoch of each stage, for people:
	// "user model: epoch 3/20 loss 1.6012, held-out AUC 0.8547, 35.1k
	// examples/s, ETA 12s" (the look-alike line has its validation AUC
	// with LookAlike.ValidFraction). Use os.Stderr for a ready progress
	// report; the callbacks above still run.
	Progress io.Writer

	progressClock func() time.Time // tests: the clock of Progress
}

// Trained is the outcome of the pipeline: both models, the user embeddings,
// the training clicks (each item's seeds), the optional ralm-avg baseline
// and the training reports of both stages.
type Trained struct {
	User            *userrep.Model
	LookAlike       *lookalike.Model
	Embeddings      *data.Embeddings // every user with a training click
	Seeds           *data.Clicks     // the training clicks
	Avg             *lookalike.Model // nil unless TrainConfig.WithAvg
	UserReport      *userrep.TrainReport
	LookAlikeReport *lookalike.TrainReport
	AvgReport       *lookalike.TrainReport
	// ColdStart is the attribute cold-start network (nil without an items
	// table or with NoColdStart).
	ColdStart       *coldstart.Model
	ColdStartReport *coldstart.TrainReport
}

// Train runs RALM's two stages end to end: it fits the user representation
// model on the clicks (and tables), embeds every user with at least one
// click, and fits the look-alike model on those embeddings with each item's
// clickers as its seeds; with an items table (and not NoColdStart) it then
// fits the attribute cold-start network on the same embeddings.
func Train(ctx context.Context, in TrainData, cfg TrainConfig, opt TrainOptions) (*Trained, error) {
	if in.Clicks == nil || in.Clicks.Len() == 0 {
		return nil, errors.New("train: no training clicks")
	}
	opt = opt.withProgress(cfg)
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stage := func(name string) {
		log.Info("stage", "name", name)
		if opt.Stage != nil {
			opt.Stage(name)
		}
	}
	fs, err := data.NewFeatureSet(in.Clicks, in.Users, in.Items)
	if err != nil {
		return nil, fmt.Errorf("train: features: %w", err)
	}
	uopt, lopt, err := opt.stageOptions(in.Clicks, fs, cfg)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	stage("userrep")
	um, urep, err := userrep.Train(ctx, fs, in.Clicks, cfg.UserRep, uopt)
	if err != nil {
		return nil, fmt.Errorf("train user model: %w", err)
	}
	stage("embed")
	emb, err := um.EmbedUsers(ctx, in.Clicks)
	if err != nil {
		return nil, fmt.Errorf("train: embed users: %w", err)
	}
	stage("lookalike")
	out, err := TrainLookAlike(ctx, LookAlikeData{Embeddings: emb, Clicks: in.Clicks, UserModel: um}, cfg.LookAlike, lopt)
	if err != nil {
		return nil, err
	}
	out.UserReport = urep
	if cfg.WithAvg {
		clickers, err := ItemClickers(in.Clicks, emb.Users)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		stage("lookalike-avg")
		avgCfg := cfg.LookAlike
		avgCfg.Pooling = lookalike.PoolingAvg
		avgOpt := opt.LookAlike
		avgOpt.Checkpoint, avgOpt.Resume = nil, nil // not checkpointed
		if out.Avg, out.AvgReport, err = lookalike.Train(ctx, emb.Vecs, emb.Dim, clickers, avgCfg, avgOpt); err != nil {
			return nil, fmt.Errorf("train ralm-avg model: %w", err)
		}
	}
	if in.Items != nil && !cfg.NoColdStart {
		stage("coldstart")
		if out.ColdStart, out.ColdStartReport, err = TrainColdStart(ctx, in.Items, in.Clicks, emb, cfg.ColdStartConfig(), opt.ColdStart); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LookAlikeData is what the look-alike stage alone learns from: user
// embeddings, the clicks whose clickers are each item's seeds (every
// clicking user must have an embedding), and optionally the user model that
// produced the embeddings (kept in the model folder for raw-feature upserts).
type LookAlikeData struct {
	Embeddings *data.Embeddings
	Clicks     *data.Clicks
	UserModel  *userrep.Model // optional
}

// TrainLookAlike trains the look-alike stage alone on given embeddings, each
// item's clickers as its seeds. The result's Bundle is a complete model
// folder; UserReport is nil.
func TrainLookAlike(ctx context.Context, in LookAlikeData, cfg lookalike.Config, opt lookalike.TrainOptions) (*Trained, error) {
	if in.Embeddings == nil || in.Clicks == nil || in.Clicks.Len() == 0 {
		return nil, errors.New("train look-alike model: no embeddings or no clicks")
	}
	clickers, err := ItemClickers(in.Clicks, in.Embeddings.Users)
	if err != nil {
		return nil, fmt.Errorf("train look-alike model: %w", err)
	}
	la, rep, err := lookalike.Train(ctx, in.Embeddings.Vecs, in.Embeddings.Dim, clickers, cfg, opt)
	if nf := (*lookalike.NonFiniteError)(nil); errors.As(err, &nf) {
		return nil, fmt.Errorf("train look-alike model: the embedding of user %q has a non-finite value (row %d)", in.Embeddings.Users.ID(int32(nf.Row)), nf.Row)
	}
	if err != nil {
		return nil, fmt.Errorf("train look-alike model: %w", err)
	}
	return &Trained{User: in.UserModel, LookAlike: la, Embeddings: in.Embeddings, Seeds: in.Clicks, LookAlikeReport: rep}, nil
}

// ItemClickers lists, for every item index of clicks, the distinct rows of
// users (in the users vocabulary, e.g. an embeddings table's) who clicked
// it. A click by a user missing from users is an error.
func ItemClickers(clicks *data.Clicks, users *data.Vocab) ([][]int32, error) {
	row := make([]int32, clicks.Users.Len())
	for u := range row {
		r, ok := users.Index(clicks.Users.ID(int32(u)))
		if !ok {
			r = -1
		}
		row[u] = r
	}
	// Linear and map-free: count each item's clicks, place the clickers'
	// rows item by item in one backing array (in click order), then drop
	// the repeats of each item in place, keeping first occurrences, with a
	// per-row stamp of the last item that row was kept for.
	start := make([]int, clicks.Items.Len()+1)
	for k, u := range clicks.User {
		if row[u] < 0 {
			return nil, fmt.Errorf("item clickers: user %s of click %d has no embedding", clicks.Users.ID(u), k)
		}
		start[clicks.Item[k]+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	rows := make([]int32, len(clicks.User))
	next := make([]int, clicks.Items.Len())
	copy(next, start)
	for k, u := range clicks.User {
		it := clicks.Item[k]
		rows[next[it]] = row[u]
		next[it]++
	}
	out := make([][]int32, clicks.Items.Len())
	stamp := make([]int32, users.Len()) // item index + 1 that the row was last kept for
	for it := range out {
		lo, hi := start[it], start[it+1]
		kept := lo
		for _, r := range rows[lo:hi] {
			if stamp[r] != int32(it)+1 {
				stamp[r] = int32(it) + 1
				rows[kept] = r
				kept++
			}
		}
		if kept > lo {
			out[it] = rows[lo:kept:kept]
		}
	}
	return out, nil
}

// Bundle returns the model folder contents of a training run, ready for
// bundle.Write. The ralm-avg baseline, if trained, is not part of it.
func (t *Trained) Bundle() *bundle.Bundle {
	return &bundle.Bundle{UserModel: t.User, LookAlike: t.LookAlike, Embeddings: t.Embeddings, Seeds: t.Seeds, ColdStart: t.ColdStart}
}
