package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/internal/atomicfile"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/eval"
)

// evalFlags are ralm eval's own flags (the training ones are trainFlags).
type evalFlags struct {
	train    trainFlags
	model    string
	splitDir string
	fresh    float64
	report   string
	perItem  string
	scores   string
	plot     string
	// candidates > 0 samples that many negatives per item (seeded by --seed)
	candidates int
	// avg trains the avg-pooling look-alike model for the ralm-avg row
	avg      bool
	maxSeeds int // the latest seeds per item the seed-based models see
}

func newEvalCmd() *cobra.Command {
	var f evalFlags
	cfg := ralm.DefaultTrainConfig()
	cmd := &cobra.Command{
		Use:   "eval (--clicks FILE [--users FILE] [--items FILE] | --model DIR --split DIR) [--report FILE]",
		Short: "Evaluate RALM against baselines on held-out clicks (warm and fresh items)",
		Long: `Evaluate look-alike models with the held-out protocol (version 1, in the
repository: docs/EVAL_PROTOCOL.md,
https://github.com/ralmlab/ralm/blob/main/docs/EVAL_PROTOCOL.md):
how well each model finds the future clickers of items it knows (warm) and of
items it never saw, given only their first clickers as seeds (fresh).

With --clicks, the log is split (--fresh, --seed), every model is trained on the
training part only (the same flags as 'ralm train'), and all models are
evaluated: activity, centroid, knn, itemvec, ralm-avg, ralm-paper (the ralm
model's paper score, without its learned propensity term; only when the model
has one, see --propensity) and ralm. ralm-avg is a second look-alike model
(average pooling instead of attention); --avg=false leaves it out, which
halves the look-alike training on large logs.

With --model and --split, an already trained model folder is evaluated on the
files written by 'ralm split': the baselines plus the models in the folder. A
model whose training-clicks fingerprint differs from the split's train.parquet
is refused, so a report never mixes in a model fitted on held-out clicks.

Prints a table (rows: models; columns: warm AUC / R@10 / R@50, fresh AUC / R@10 /
R@50, tail / torso / head AUC, item counts). --report writes the same numbers as
JSON, --per-item one row per (model, item), --scores every scored candidate
(model, item_id, user_id, score, label) so the metrics can be recomputed, and
--plot a bar chart of AUC by bucket and model (the axis starts at the chance
level 0.5, drawn dashed). -o json prints the JSON report on stdout instead of
the table; --quiet drops the table when --report is given.

Scoring is exact by default: every known user who is not one of the item's
seeds is a candidate. --candidates N scores each item on all its held-out
clickers plus N negatives sampled uniformly (seeded by --seed and the item,
so a run is reproducible) for large logs where exact scoring is too slow.
Sampled AUC is an unbiased estimate of the exact AUC; sampled recall@K is
biased upwards (fewer negatives compete for the top K), so compare it only
with runs of the same N. The report's "scoring" field and a line under the
table say which mode was used; N at least the number of negatives is exact.

Seeds: centroid, knn and the look-alike models see each item's latest
--max-seeds distinct seeds (by first click, ties in click-log order), the
rule 'ralm serve' keeps an item's seeds by; older seeds are still not
candidates. The default is the serving default, above every item of
MovieLens-size logs; a lower cap bounds the per-item cost on large logs.`,
		Example: `  ralm eval --clicks data/clicks.parquet --users data/users.parquet \
      --items data/items.parquet --seed 1 --report report.json --plot auc.png
  ralm split --clicks data/clicks.parquet --out split --seed 1
  ralm train --clicks split/train.parquet --out model
  ralm eval --model model --split split --report report.json --scores scores.parquet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.train.apply(cmd, &cfg); err != nil {
				return err
			}
			return runEval(cmd, &f, cfg)
		},
	}
	addTrainFlags(cmd, &f.train, &cfg)
	fl := cmd.Flags()
	delete(fl.Lookup("clicks").Annotations, cobra.BashCompOneRequiredFlag) // --model replaces it
	fl.StringVar(&f.model, "model", "", "evaluate this trained model folder (with --split) instead of training")
	fl.StringVar(&f.splitDir, "split", "", "split folder written by 'ralm split' (with --model)")
	fl.Float64Var(&f.fresh, "fresh", split.DefaultFreshFraction, "share of eligible items made fresh (with --clicks)")
	fl.StringVar(&f.report, "report", "", "write the JSON report to this file")
	fl.StringVar(&f.perItem, "per-item", "", "write one row per (model, item) to this Parquet file")
	fl.StringVar(&f.scores, "scores", "", "write every scored candidate to this Parquet file")
	fl.StringVar(&f.plot, "plot", "", "write a PNG bar chart of AUC by bucket and model to this file")
	fl.StringVar(&f.train.logPath, "log", "", "write a JSON-lines training log (with --clicks)")
	fl.BoolVar(&f.avg, "avg", true, "also train the avg-pooling look-alike model and report it as ralm-avg (with --clicks; false: one look-alike training)")
	fl.IntVar(&f.maxSeeds, "max-seeds", bundle.DefaultMaxSeeds, "the seed-based models see each item's latest `N` distinct seeds (as 'ralm serve --max-seeds'); every seed stays out of the candidates")
	fl.IntVar(&f.candidates, "candidates", 0, "score each item on its positives and `N` sampled negatives (seeded by --seed; 0 = every candidate, exact)")
	addOutputFlag(cmd)
	for _, name := range []string{"report", "per-item", "scores", "plot", "log"} {
		markOutputFile(cmd, name)
	}
	cmd.MarkFlagsMutuallyExclusive("model", "clicks")
	cmd.MarkFlagsRequiredTogether("model", "split")
	return cmd
}

func runEval(cmd *cobra.Command, f *evalFlags, cfg ralm.TrainConfig) error {
	ctx := cmd.Context()
	if f.model == "" && f.train.in.clicks == "" {
		return errors.New("give --clicks (split, train and evaluate) or --model with --split")
	}
	if f.model != "" && (cmd.Flags().Changed("users") || cmd.Flags().Changed("items") || cmd.Flags().Changed("fresh") || cmd.Flags().Changed("avg")) {
		return errors.New("--users, --items, --fresh and --avg apply to --clicks, not to --model")
	}
	if err := mustBeFraction("fresh", f.fresh); err != nil {
		return err
	}
	if f.candidates < 0 {
		return fmt.Errorf("--candidates %d: want 0 (exact) or a positive number of negatives per item", f.candidates)
	}
	if f.maxSeeds < 1 {
		return fmt.Errorf("--max-seeds %d: want a positive number of seeds", f.maxSeeds)
	}
	if err := checkOutputs(cmd); err != nil {
		return err
	}
	var log eval.ScoreLog
	var bar *progress
	eopt := eval.Options{Progress: func(done, total int) {
		if bar == nil {
			bar = newProgress(ctx, cmd, int64(total), "evaluating items")
		}
		bar.Set(int64(done))
	}, Candidates: f.candidates, Seed: f.train.seed, MaxSeeds: f.maxSeeds}
	defer func() { bar.Finish() }()
	if f.scores != "" {
		eopt.Sink = log.Sink
	}
	var (
		res         *eval.Result
		users       *data.Vocab
		itemKind    data.IDKind
		config, spl map[string]any
	)
	if f.model != "" {
		r, sf, err := eval.RunModel(ctx, f.model, f.splitDir, eopt)
		if err != nil {
			return err
		}
		res, users, itemKind = r, sf.Train.Users, sf.Train.Items.Kind()
		config = map[string]any{"model": f.model}
		spl = map[string]any{"dir": f.splitDir, "train_clicks": sf.Train.Len(), "heldout_clicks": sf.Heldout.Len(),
			"fresh_seed_clicks": sf.FreshSeeds.Len(), "fresh_heldout_clicks": sf.FreshHeldout.Len()}
	} else {
		if err := checkTrainFlags(&f.train, cfg); err != nil {
			return err
		}
		td, err := f.train.in.read(cmd)
		if err != nil {
			return err
		}
		rc := eval.RunConfig{Split: split.Options{FreshFraction: f.fresh, Seed: f.train.seed}, Train: cfg, NoAvg: !f.avg}
		train := func(ctx context.Context, in ralm.TrainData, cfg ralm.TrainConfig) (*ralm.Trained, error) {
			return trainStages(cmd, in, cfg, f.train.validLA, f.train.logPath, trainRun{threads: f.train.threads})
		}
		r, sp, _, err := eval.Run(ctx, td, rc, train, eopt)
		if err != nil {
			return err
		}
		res, users, itemKind = r, sp.Train.Users, sp.Train.Items.Kind()
		config = map[string]any{"clicks": f.train.in.clicks, "users": f.train.in.users, "items": f.train.in.items,
			"seed": f.train.seed, "userrep": cfg.UserRep, "lookalike": cfg.LookAlike}
		spl = map[string]any{"fresh": f.fresh, "seed": f.train.seed, "train_clicks": sp.Train.Len(),
			"heldout_clicks": sp.Heldout.Len(), "warm_items": len(sp.WarmItems), "fresh_items": len(sp.FreshItems),
			"eligible_fresh": sp.Eligible, "duplicates": sp.Duplicates}
	}
	bar.Finish()
	rep := eval.NewReport(res, config, spl)
	switch {
	case asJSON(cmd):
		if err := rep.WriteJSON(cmd.OutOrStdout()); err != nil {
			return err
		}
	case quiet(cmd) && f.report != "":
		// the result went where the user sent it
	default:
		if err := rep.WriteTable(cmd.OutOrStdout()); err != nil {
			return err
		}
	}
	if f.report != "" {
		var buf bytes.Buffer
		if err := rep.WriteJSON(&buf); err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(ctx, f.report, buf.Bytes()); err != nil {
			return fmt.Errorf("write report %s: %w", f.report, err)
		}
	}
	if f.perItem != "" {
		if err := eval.WritePerItem(f.perItem, res.Items, itemKind); err != nil {
			return err
		}
	}
	if f.scores != "" {
		if err := log.Write(f.scores, users, itemKind); err != nil {
			return err
		}
	}
	if f.plot != "" {
		if err := rep.WritePlot(f.plot); err != nil {
			return err
		}
	}
	return nil
}
