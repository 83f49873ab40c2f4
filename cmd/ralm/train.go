package main

// ralm train (both stages into a model folder) and ralm train lookalike.
// ralm train userrep lives in userrep.go.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/meter"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/userrep"
)

// trainFlags are the flags of ralm train that are not a stage config field.
type trainFlags struct {
	in      userrepInputs
	out     string
	logPath string
	seed    int64
	epochs  int
	lr      float64
	batch   int
	validLA float64
	threads int
	cold    bool // --cold-start
	// ralm train only
	checkpoint string // folder of the checkpoint file ("": the parent of --out)
	resume     bool
}

// trainRun are the execution settings of trainStages: the data-parallel
// threads and, for ralm train, the checkpoint file written after every
// epoch and the checkpoint to continue from.
type trainRun struct {
	threads    int
	checkpoint string           // "": no checkpoints
	resume     *ralm.Checkpoint // nil: start afresh
}

func newTrainCmd() *cobra.Command {
	var f trainFlags
	cfg := ralm.DefaultTrainConfig()
	cmd := &cobra.Command{
		Use:   "train --clicks FILE [--users FILE] [--items FILE] --out DIR",
		Short: "Train both RALM stages into a self-contained model folder",
		Long: `Train RALM end to end: the user representation model on the click log (and the
optional users and items tables), the embedding of every user with a click, and the
look-alike model on those embeddings, with each item's clickers as its seeds.

--out becomes a self-contained model folder, written atomically (an existing model
folder is replaced; any other non-empty folder is refused before training):

  manifest.json       versions, both configurations, a fingerprint of the
                      training clicks, counts, and a checksum of every file
  userrep.model       the user model (with its vocabularies and feature encoding)
  lookalike.model     the look-alike model
  embeddings.parquet  user_id, embedding: every user with a training click
  seeds.parquet       the training clicks: each item's seeds

It is everything 'ralm score', 'ralm expand', 'ralm eval --model' and 'ralm serve'
need. The same data, flags and --seed give the same models.

--threads N trains both stages data-parallel on N workers (default 0: every
core): each worker computes the gradients of 1/N of every batch on its own graph
and they are summed in a fixed order. The same data, flags, --seed and --threads
give byte-identical model folders; another --threads takes the sums in another
order: the weights differ in the last bits, which training can grow into a model
as good but not identical.

After every epoch of each stage, a checkpoint (weights, optimiser moments,
random generator states, the epoch, the settings and a fingerprint of the
inputs) is written atomically to OUT.checkpoint beside --out, or into the folder
--checkpoint DIR. If a run is interrupted (Ctrl-C, a crash, a killed machine),
the same command with --resume continues from the last checkpoint and writes
the same model folder, byte for byte, as an uninterrupted run. --resume refuses
a checkpoint of other inputs or settings (and names the difference); without
--resume an existing checkpoint is refused, so that it is not overwritten by
mistake. The checkpoint is removed once the model folder is written.

--epochs sets both stages' epochs; --epochs-user and --epochs-la set one each.
--lr and --batch apply to both stages. A progress bar per stage shows the running
loss; --log writes one JSON object per line: {"type":"stage"} when a stage
starts, {"type":"step"} with the loss of every step and {"type":"epoch"} with
every epoch's metrics, each with "stage":"userrep" or "lookalike".

--config FILE reads any of these flags from a YAML file (the same names, e.g.
"epochs-user: 10", "hidden: [128, 64]"); flags on the command line override it.
--print-config prints the settings in effect as such a file.

The subcommands train one stage: 'ralm train userrep' (the user model alone) and
'ralm train lookalike' (the look-alike model on given embeddings).`,
		Example: `  ralm train --clicks data/clicks.parquet --users data/users.parquet \
      --items data/items.parquet --out model
  ralm train --clicks split/train.parquet --out model --epochs-user 10 \
      --epochs-la 20 --log train.jsonl --seed 7
  ralm train userrep --clicks data/clicks.parquet --out usermodel
  ralm train --print-config > train.yaml    # every setting: edit it, keep it
  ralm train --config train.yaml --seed 2   # flags override the file
  ralm train --clicks data/clicks.parquet --out model --resume  # after Ctrl-C`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd); err != nil {
				return err
			}
			if p, _ := cmd.Flags().GetBool("print-config"); p {
				return writeConfig(cmd, cmd.OutOrStdout())
			}
			if err := requireSettings(cmd, "clicks", "out"); err != nil {
				return err
			}
			if err := f.apply(cmd, &cfg); err != nil {
				return err
			}
			if err := checkTrainFlags(&f, cfg); err != nil {
				return err
			}
			if err := checkOutputs(cmd); err != nil {
				return err
			}
			return runTrain(cmd, &f, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "model folder to write")
	fl.StringVar(&f.logPath, "log", "", "write a JSON-lines training log of both stages to this file")
	fl.StringVar(&f.checkpoint, "checkpoint", "", "folder of the checkpoint written after every epoch (default: the folder holding --out)")
	fl.BoolVar(&f.resume, "resume", false, "continue the interrupted run from its checkpoint")
	addTrainFlags(cmd, &f, &cfg)
	addOutputFlag(cmd)
	addConfigFlags(cmd)
	markModelOut(cmd, "out")
	markOutputFile(cmd, "log")
	// --clicks and --out may come from --config: checked in RunE
	delete(fl.Lookup("clicks").Annotations, cobra.BashCompOneRequiredFlag)
	cmd.AddCommand(newTrainUserrepCmd(), newTrainLookalikeCmd())
	return cmd
}

// addTrainFlags registers the input and training flags that ralm train and
// ralm eval share: the input tables, the seed, the epochs and every stage
// setting, bound to f and cfg.
func addTrainFlags(cmd *cobra.Command, f *trainFlags, cfg *ralm.TrainConfig) {
	f.in.addFlags(cmd)
	fl := cmd.Flags()
	fl.Int64Var(&f.seed, "seed", defaultSeed, "random seed of both stages: the same seed, --threads and input give the same models")
	fl.IntVar(&f.threads, "threads", 0, "data-parallel training workers of both stages (0: every core)")
	fl.IntVar(&f.epochs, "epochs", 0, "epochs of every stage (instead of --epochs-user, --epochs-la and --epochs-cold)")
	fl.IntVar(&cfg.UserRep.Epochs, "epochs-user", cfg.UserRep.Epochs, "maximum epochs of the user model")
	fl.IntVar(&cfg.LookAlike.Epochs, "epochs-la", cfg.LookAlike.Epochs, "epochs of the look-alike model")
	cmd.MarkFlagsMutuallyExclusive("epochs", "epochs-user")
	cmd.MarkFlagsMutuallyExclusive("epochs", "epochs-la")
	fl.Float64Var(&f.lr, "lr", cfg.UserRep.LR, "Adam learning rate of both stages")
	fl.IntVar(&f.batch, "batch", cfg.UserRep.Batch, "batch size of both stages (user model: examples; look-alike: pairs)")
	addUserModelFlags(cmd, &cfg.UserRep, "user model: ")
	addLookAlikeFlags(cmd, &cfg.LookAlike, "-la", "look-alike model: ")
	fl.Float64Var(&f.validLA, "valid-la", 0, "look-alike model: share of items held out to report a validation AUC per epoch (0: none)")
	// cold-start model
	fl.BoolVar(&f.cold, "cold-start", true, "with --items: train the attribute cold-start model (scores items with fewer than --min-seeds seeds from their attributes)")
	fl.IntVar(&cfg.ColdStart.Epochs, "epochs-cold", cfg.ColdStart.Epochs, "epochs of the cold-start model")
	fl.IntVar(&cfg.ColdStart.EpochPositives, "epoch-positives-cold", cfg.ColdStart.EpochPositives, "cold-start model: at most this many (item, clicker) positives per epoch, a fresh random sample each epoch (bounds its cost on large logs)")
	cmd.MarkFlagsMutuallyExclusive("epochs", "epochs-cold")
}

// apply copies the flags that set several config fields at once (--epochs,
// --seed, --lr, --batch) into cfg.
func (f *trainFlags) apply(cmd *cobra.Command, cfg *ralm.TrainConfig) error {
	fl := cmd.Flags()
	if fl.Changed("epochs") {
		if err := mustBePositive("epochs", f.epochs); err != nil {
			return err
		}
		cfg.UserRep.Epochs, cfg.LookAlike.Epochs, cfg.ColdStart.Epochs = f.epochs, f.epochs, f.epochs
	}
	cfg.SetSeed(f.seed)
	cfg.NoColdStart = !f.cold
	cfg.UserRep.LR, cfg.LookAlike.LR = f.lr, f.lr
	cfg.UserRep.Batch, cfg.LookAlike.Batch = f.batch, f.batch
	return nil
}

// checkTrainFlags validates what can be checked before reading any data.
func checkTrainFlags(f *trainFlags, cfg ralm.TrainConfig) error {
	for _, err := range []error{
		mustBePositive("epochs-user", cfg.UserRep.Epochs),
		mustBePositive("epochs-la", cfg.LookAlike.Epochs),
		mustBePositive("epochs-cold", cfg.ColdStart.Epochs),
		mustBePositive("epoch-positives-cold", cfg.ColdStart.EpochPositives),
		mustBePositive("lr", f.lr),
		mustBePositive("batch", f.batch),
		mustBePositive("k", cfg.LookAlike.K),
		mustBePositive("negatives-la", cfg.LookAlike.Negatives),
		mustBeFraction("valid-la", f.validLA),
	} {
		if err != nil {
			return err
		}
	}
	if f.threads < 0 {
		return fmt.Errorf("--threads must not be negative, got %d", f.threads)
	}
	if cfg.LookAlike.Hidden < 0 {
		return fmt.Errorf("--hidden-la must not be negative, got %d", cfg.LookAlike.Hidden)
	}
	if f.in.clicks == "" {
		return errors.New("--clicks must not be empty")
	}
	return cfg.UserRep.Validate()
}

func runTrain(cmd *cobra.Command, f *trainFlags, cfg ralm.TrainConfig) error {
	ckPath, err := checkpointPath(f)
	if err != nil {
		return err
	}
	in, err := f.in.read(cmd)
	if err != nil {
		return err
	}
	run := trainRun{threads: f.threads, checkpoint: ckPath}
	if f.resume {
		if run.resume, err = ralm.LoadCheckpoint(ckPath); err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		newLogger(cmd).Info("resuming", "checkpoint", ckPath, "stage", run.resume.Stage(), "epochs_done", run.resume.Epoch())
	}
	t, err := trainStages(cmd, in, cfg, f.validLA, f.logPath, run)
	if err != nil {
		return err
	}
	b, err := writeModel(cmd, f.out, t)
	if err != nil {
		return err
	}
	if err := os.Remove(ckPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the checkpoint %s: %w", ckPath, err)
	}
	return printTrainSummary(cmd, t, b, f.out)
}

// checkpointPath returns the checkpoint file of ralm train and checks it
// against --resume: OUT.checkpoint in --checkpoint DIR or beside --out, in
// a folder created if needed and checked to be writable (before any work:
// the first checkpoint is written after the first epoch). Without --resume
// an existing checkpoint is an error.
func checkpointPath(f *trainFlags) (string, error) {
	out := filepath.Clean(f.out)
	dir, flag := f.checkpoint, "--checkpoint "+f.checkpoint
	if dir == "" {
		dir, flag = filepath.Dir(out), "--out "+f.out
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s: create the checkpoint folder %s: %w", flag, dir, pathErr(err))
	}
	if err := probeWritable(dir); err != nil {
		return "", fmt.Errorf("%s: checkpoint %w", flag, err)
	}
	p := filepath.Join(dir, filepath.Base(out)+".checkpoint")
	_, err := os.Stat(p)
	switch {
	case f.resume && errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("--resume: no checkpoint at %s: nothing to resume", p)
	case !f.resume && err == nil:
		return "", fmt.Errorf("%s holds the checkpoint of an interrupted run: add --resume to continue it, or delete it to start afresh", p)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("checkpoint %s: %w", p, err)
	}
	return p, nil
}

// trainStages runs the two-stage pipeline with a progress bar per stage and
// an optional JSON-lines log at logPath.
func trainStages(cmd *cobra.Command, in ralm.TrainData, cfg ralm.TrainConfig, validLA float64, logPath string, run trainRun) (*ralm.Trained, error) {
	ctx := cmd.Context()
	log := newLogger(cmd)
	var t *ralm.Trained
	err := withTrainLog(logPath, func(jl *jsonLog, bar **progress) (err error) {
		stage := "userrep"
		up := &urProgress{cmd: cmd, log: log, bar: bar, epochs: cfg.UserRep.Epochs,
			logStep: func(s userrep.StepStats, perSec float64) {
				jl.write(logStep{Type: "step", Stage: stage, Epoch: s.Epoch, Step: s.GlobalStep, Steps: s.Steps * cfg.UserRep.Epochs,
					Examples: int64(s.Examples), Loss: finite(s.Loss), ExamplesPerSec: math.Round(perSec)})
			},
			logEpoch: func(e userrep.EpochStats) {
				jl.write(logEpoch{Type: "epoch", Stage: stage, Epoch: e.Epoch, Loss: finite(e.Loss), Examples: int64(e.Examples),
					HeldOutAUC: finite(e.HeldOutAUC), HeldOutRecall10: finite(e.HeldOutRecall10), HeldOutMRR: finite(e.HeldOutMRR), Best: &e.Best,
					Seconds: e.Duration.Seconds()})
			},
		}
		la := &laProgress{cmd: cmd, jl: jl, log: log, bar: bar, valid: validLA > 0, desc: "lookalike "}
		uopts := up.options()
		uopts.Threads = run.threads
		opts := ralm.TrainOptions{
			UserRep:   uopts,
			LookAlike: lookalike.TrainOptions{ProgressEvery: 1, ValidFraction: validLA, Progress: la.report, Threads: run.threads},
			Logger:    log,
			Resume:    run.resume,
			Stage: func(name string) {
				stage = name
				jl.write(logStage{Type: "stage", Stage: name})
				(*bar).Finish()
				*bar = nil
				la.reset(name)
				if name == "embed" {
					*bar = newProgress(ctx, cmd, 1, "embedding users")
				}
			},
		}
		if run.checkpoint != "" {
			opts.Checkpoint = func(c *ralm.Checkpoint) error {
				if err := c.Save(ctx, run.checkpoint); err != nil {
					return err
				}
				log.Info("checkpoint", "path", run.checkpoint, "stage", c.Stage(), "epoch", c.Epoch())
				return nil
			}
		}
		log.Info("training", "users", in.Clicks.Users.Len(), "items", in.Clicks.Items.Len(), "clicks", in.Clicks.Len())
		t, err = ralm.Train(ctx, in, cfg, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// laProgress draws the look-alike stage's bar and logs its steps and epochs.
// The trainer reports the epoch's mean loss so far after every step; the
// loss of each step is recovered from the running sums.
type laProgress struct {
	cmd   *cobra.Command
	jl    *jsonLog
	log   *slog.Logger
	bar   **progress // made on the first report
	valid bool       // validation AUC is reported
	desc  string
	stage string

	epochStart, prevPairs int64
	prevSum               float64
	prevElapsed           time.Duration
	lastEval              string // " AUC 0.8123" (validation) after an epoch
}

// reset starts a new stage.
func (l *laProgress) reset(stage string) {
	l.stage, l.epochStart, l.prevPairs, l.prevSum, l.prevElapsed, l.lastEval = stage, 0, 0, 0, 0, ""
}

func (l *laProgress) report(p lookalike.Progress) {
	if *l.bar == nil {
		*l.bar = newProgress(l.cmd.Context(), l.cmd, int64(p.Steps), strings.TrimSpace(l.desc))
	}
	// the trainer's own clock: Elapsed since the stage started
	st := meter.Start(time.Time{}).At(time.Time{}.Add(p.Elapsed), p.Step, p.Steps, p.Pairs)
	(*l.bar).Set(int64(p.Step))
	(*l.bar).Describe(fmt.Sprintf("%s%d/%d loss %.4f %s pairs/s%s", l.desc, p.Epoch, p.Epochs, p.Loss, meter.HumanCount(st.PerSec), l.lastEval))
	stage := l.stage
	if stage == "" {
		stage = "lookalike"
	}
	ep := p.Pairs - l.epochStart
	sum := p.Loss * float64(ep)
	if ep > l.prevPairs {
		l.jl.write(logStep{Type: "step", Stage: stage, Epoch: p.Epoch, Step: p.Step, Steps: p.Steps,
			Examples: ep - l.prevPairs, Loss: finite((sum - l.prevSum) / float64(ep-l.prevPairs)), ExamplesPerSec: math.Round(st.PerSec)})
	}
	l.prevSum, l.prevPairs = sum, ep
	if p.EpochDone {
		var auc *float64
		if l.valid {
			auc = finite(p.ValidAUC)
			l.lastEval = fmt.Sprintf(" AUC %.4f", p.ValidAUC)
		}
		l.jl.write(logEpoch{Type: "epoch", Stage: stage, Epoch: p.Epoch, Loss: finite(p.Loss), Examples: ep,
			ValidAUC: auc, Seconds: (p.Elapsed - l.prevElapsed).Seconds()})
		l.log.Info("look-alike epoch", "epoch", p.Epoch, "loss", p.Loss, "valid_auc", p.ValidAUC, "pairs", ep,
			"pairs_per_s", math.Round(st.PerSec), "eta", st.Left.Round(time.Second))
		l.epochStart, l.prevSum, l.prevPairs, l.prevElapsed = p.Pairs, 0, 0, p.Elapsed
	}
}

// writeModel writes the trained models as a model folder.
func writeModel(cmd *cobra.Command, dir string, t *ralm.Trained) (*bundle.Bundle, error) {
	b := t.Bundle()
	b.Meta = trainMeta(t)
	removeStale(cmd, dir)
	// the embeddings, then the seeds
	bar := newProgress(cmd.Context(), cmd, int64(b.Embeddings.Users.Len()+b.Seeds.Len()), "writing "+dir)
	defer bar.Finish()
	if err := bundle.WriteContext(cmd.Context(), dir, b, bar.rows().write("writing "+dir)); err != nil {
		return nil, err
	}
	return b, nil
}

// trainMeta summarises the training reports for the manifest.
func trainMeta(t *ralm.Trained) map[string]string {
	m := map[string]string{}
	ff := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	if r := t.UserReport; r != nil && len(r.Epochs) > 0 {
		m["userrep_epochs"] = strconv.Itoa(len(r.Epochs))
		m["userrep_best_epoch"] = strconv.Itoa(r.BestEpoch)
		if r.BestEpoch >= 1 && r.BestEpoch <= len(r.Epochs) {
			if x := r.Epochs[r.BestEpoch-1].HeldOutAUC; !math.IsNaN(x) {
				m["userrep_heldout_auc"] = ff(x)
			}
			if x := r.Epochs[r.BestEpoch-1].HeldOutRecall10; !math.IsNaN(x) {
				m["userrep_heldout_recall10"] = ff(x)
			}
		}
	}
	if r := t.LookAlikeReport; r != nil && len(r.Epochs) > 0 {
		last := r.Epochs[len(r.Epochs)-1]
		m["lookalike_epochs"] = strconv.Itoa(len(r.Epochs))
		m["lookalike_train_items"] = strconv.Itoa(r.TrainItems)
		m["lookalike_final_loss"] = ff(last.Loss)
		if last.ValidAUC > 0 {
			m["lookalike_valid_auc"] = ff(last.ValidAUC)
		}
	}
	return m
}

// trainSummary is what ralm train prints (-o json: as JSON).
type trainSummary struct {
	UserModel *userSummary `json:"user_model,omitempty"`
	Embedded  struct {
		Users int `json:"users"`
		Dim   int `json:"dim"`
	} `json:"embedded"`
	LookAlike *lookAlikeSummary `json:"lookalike,omitempty"`
	Model     modelSummary      `json:"model"`
}

type userSummary struct {
	Epochs            int      `json:"epochs"`
	BestEpoch         int      `json:"best_epoch"`
	Loss              float64  `json:"loss"`
	HeldOutAUC        *float64 `json:"heldout_auc"`
	HeldOutRecall10   *float64 `json:"heldout_recall10"`
	PopularAUC        *float64 `json:"popular_auc"`
	PopularRecall10   *float64 `json:"popular_recall10"`
	ExamplesPerSecond float64  `json:"examples_per_s"`
}

type lookAlikeSummary struct {
	Epochs         int      `json:"epochs"`
	TrainItems     int      `json:"train_items"`
	SkippedItems   int      `json:"skipped_items"`
	Loss           float64  `json:"loss"`
	PairsPerSecond float64  `json:"pairs_per_s"`
	ValidAUC       *float64 `json:"valid_auc,omitempty"`
}

type modelSummary struct {
	Dir    string `json:"dir"`
	ID     string `json:"id"`
	Users  int    `json:"users"`
	Items  int    `json:"items"`
	Clicks int    `json:"clicks"`
}

func newLookAlikeSummary(r *lookalike.TrainReport) *lookAlikeSummary {
	if r == nil || len(r.Epochs) == 0 {
		return nil
	}
	last := r.Epochs[len(r.Epochs)-1]
	s := &lookAlikeSummary{Epochs: len(r.Epochs), TrainItems: r.TrainItems, SkippedItems: r.SkippedItems,
		Loss: last.Loss, PairsPerSecond: math.Round(r.PairsPerSec)}
	if last.ValidAUC > 0 {
		s.ValidAUC = &last.ValidAUC
	}
	return s
}

func (l *lookAlikeSummary) write(w io.Writer) {
	line := fmt.Sprintf("look-alike model: %d epochs on %d items (%d with too few clickers skipped), loss %.4f, %.0f pairs/s",
		l.Epochs, l.TrainItems, l.SkippedItems, l.Loss, l.PairsPerSecond)
	if l.ValidAUC != nil {
		line += fmt.Sprintf(", validation AUC %.4f", *l.ValidAUC)
	}
	fmt.Fprintln(w, line)
}

func newModelSummary(dir string, b *bundle.Bundle) modelSummary {
	return modelSummary{Dir: dir, ID: b.ID, Users: b.Users, Items: b.Items, Clicks: b.Clicks}
}

func (m modelSummary) write(w io.Writer) {
	fmt.Fprintf(w, "wrote model folder %s (%d users, %d items, %d clicks)\n", m.Dir, m.Users, m.Items, m.Clicks)
}

// printTrainSummary prints what training did: a few lines (none with
// --quiet), or with -o json one JSON document on stdout.
func printTrainSummary(cmd *cobra.Command, t *ralm.Trained, b *bundle.Bundle, dir string) error {
	var s trainSummary
	if r := t.UserReport; r != nil && len(r.Epochs) > 0 {
		best := r.Epochs[max(r.BestEpoch, 1)-1]
		s.UserModel = &userSummary{Epochs: len(r.Epochs), BestEpoch: r.BestEpoch, Loss: best.Loss,
			HeldOutAUC: finite(best.HeldOutAUC), HeldOutRecall10: finite(best.HeldOutRecall10),
			PopularAUC: finite(r.PopularAUC), PopularRecall10: finite(r.PopularRecall10),
			ExamplesPerSecond: math.Round(float64(r.Examples) / r.Duration.Seconds())}
	}
	s.Embedded.Users, s.Embedded.Dim = t.Embeddings.Users.Len(), t.Embeddings.Dim
	s.LookAlike = newLookAlikeSummary(t.LookAlikeReport)
	s.Model = newModelSummary(dir, b)
	if asJSON(cmd) {
		return writeJSON(cmd, s)
	}
	w := summaryOut(cmd)
	if u := s.UserModel; u != nil {
		line := fmt.Sprintf("user model: %d epochs (best %d), loss %.4f", u.Epochs, u.BestEpoch, u.Loss)
		if u.HeldOutAUC != nil {
			line += fmt.Sprintf(", held-out AUC %.4f and recall@10 %.4f (most popular: %.4f and %.4f)",
				*u.HeldOutAUC, *u.HeldOutRecall10, *u.PopularAUC, *u.PopularRecall10)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "embedded %d users (dim %d)\n", s.Embedded.Users, s.Embedded.Dim)
	if s.LookAlike != nil {
		s.LookAlike.write(w)
	}
	s.Model.write(w)
	return nil
}

func newTrainLookalikeCmd() *cobra.Command {
	var (
		embPath, clicksPath, userModel, out, logPath string
		valid                                        float64
		seed                                         int64
		threads                                      int
	)
	cfg := lookalike.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "lookalike --embeddings FILE --clicks FILE --out DIR",
		Short: "Train the look-alike model on given user embeddings",
		Long: `Train the second RALM stage alone: the attention look-alike model, on user
embeddings (a file with user_id and embedding, e.g. written by 'ralm embed') with
each item's clickers in --clicks as its seeds. Clicks of users without an
embedding are dropped (with a warning).

--out becomes a model folder like the one 'ralm train' writes (manifest.json,
lookalike.model, embeddings.parquet and seeds.parquet, the clicks kept), so
'ralm score', 'ralm expand' and 'ralm serve' work on it. --user-model adds a user
model (a folder written by 'ralm train userrep', or its userrep.model file) that
produced the embeddings; without it the folder can only score users that have an
embedding. --log writes {"type":"step"} and {"type":"epoch"} JSON lines.`,
		Example: `  ralm train userrep --clicks data/clicks.parquet --out usermodel
  ralm embed --model usermodel --clicks data/clicks.parquet --out emb.parquet
  ralm train lookalike --embeddings emb.parquet --clicks data/clicks.parquet \
      --user-model usermodel --out model`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Seed = seed
			for _, err := range []error{
				mustBePositive("epochs", cfg.Epochs), mustBePositive("lr", cfg.LR), mustBePositive("batch", cfg.Batch),
				mustBePositive("k", cfg.K), mustBePositive("negatives", cfg.Negatives), mustBeFraction("valid", valid),
			} {
				if err != nil {
					return err
				}
			}
			if embPath == "" || clicksPath == "" {
				return errors.New("--embeddings and --clicks must not be empty")
			}
			if out == "" {
				return errors.New("--out must not be empty")
			}
			if threads < 0 {
				return fmt.Errorf("--threads must not be negative, got %d", threads)
			}
			if err := checkOutputs(cmd); err != nil {
				return err
			}
			return runTrainLookalike(cmd, embPath, clicksPath, userModel, out, logPath, cfg, valid, threads)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&embPath, "embeddings", "", "user embeddings (Parquet or Arrow IPC: user_id, embedding), or a folder or glob of parts (ralm embed --shard)")
	fl.StringVar(&clicksPath, "clicks", "", "click log whose clickers are each item's seeds")
	fl.StringVar(&userModel, "user-model", "", "optional user model (folder or userrep.model file) to include in the model folder")
	fl.StringVar(&out, "out", "", "model folder to write")
	fl.StringVar(&logPath, "log", "", "write a JSON-lines training log to this file")
	fl.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fl.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	fl.IntVar(&cfg.Batch, "batch", cfg.Batch, "(target, item) pairs per step")
	addLookAlikeFlags(cmd, &cfg, "", "")
	fl.Float64Var(&valid, "valid", 0, "share of items held out to report a validation AUC per epoch (0: none)")
	addSeedFlag(cmd, &seed)
	markModelOut(cmd, "out")
	markOutputFile(cmd, "log")
	fl.IntVar(&threads, "threads", 0, "data-parallel training workers (0: every core); the same --seed and --threads give the same model")
	_ = cmd.MarkFlagRequired("embeddings")
	_ = cmd.MarkFlagRequired("clicks")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func runTrainLookalike(cmd *cobra.Command, embPath, clicksPath, userModel, out, logPath string, cfg lookalike.Config, valid float64, threads int) (err error) {
	ctx := cmd.Context()
	log := newLogger(cmd)
	var um *userrep.Model
	if userModel != "" {
		p := userModel
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, userrepModelFile)
		}
		var err error
		if um, err = userrep.Load(p); err != nil {
			return err
		}
	}
	bar := newProgress(ctx, cmd, 2, "reading inputs")
	emb, err := data.ReadEmbeddingParts(ctx, embPath)
	if err != nil {
		bar.Finish()
		return err
	}
	if um != nil && um.Dim() != emb.Dim {
		bar.Finish()
		return fmt.Errorf("--user-model %s embeds to dim %d, but %s has dim %d", userModel, um.Dim(), embPath, emb.Dim)
	}
	bar.Add(1)
	var st data.ReadStats
	clicks, err := data.ReadClicks(ctx, clicksPath, data.ReadOptions{
		Users: emb.Users.Clone(), UnknownUsers: data.UnknownSkip, AllowEmpty: true, Stats: &st})
	bar.Finish()
	if err != nil {
		return err
	}
	if st.Skipped > 0 {
		log.Warn("clicks of users without an embedding are dropped", "clicks", st.Skipped)
	}
	if clicks.Len() == 0 {
		return fmt.Errorf("no click in %s is by a user of %s", clicksPath, embPath)
	}
	var t *ralm.Trained
	err = withTrainLog(logPath, func(jl *jsonLog, bar **progress) (err error) {
		la := &laProgress{cmd: cmd, jl: jl, log: log, bar: bar, valid: valid > 0, stage: "lookalike", desc: "lookalike "}
		opts := lookalike.TrainOptions{ProgressEvery: 1, ValidFraction: valid, Progress: la.report, Threads: threads}
		t, err = ralm.TrainLookAlike(ctx, ralm.LookAlikeData{Embeddings: emb, Clicks: clicks, UserModel: um}, cfg, opts)
		return err
	})
	if err != nil {
		return err
	}
	rep := t.LookAlikeReport
	b, err := writeModel(cmd, out, t)
	if err != nil {
		return err
	}
	w := summaryOut(cmd)
	newLookAlikeSummary(rep).write(w)
	newModelSummary(out, b).write(w)
	return nil
}
