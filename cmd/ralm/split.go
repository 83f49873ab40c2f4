package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
)

// Names of the files ralm split writes.
const (
	trainFile        = "train.parquet"
	heldoutFile      = "heldout.parquet"
	freshSeedsFile   = "fresh_seeds.parquet"
	freshHeldoutFile = "fresh_heldout.parquet"
)

func newSplitCmd() *cobra.Command {
	var (
		clicks, out string
		opt         = split.DefaultOptions()
	)
	cmd := &cobra.Command{
		Use:   "split --clicks FILE --out DIR",
		Short: "Split a click log for evaluation (held-out and fresh items)",
		Long: `Split a click log by the look-alike evaluation protocol (version 1, steps 1-5):

  1. repeated (user, item) clicks keep the earliest; among items with at least 20
     distinct clickers, round(fresh * n) are drawn as fresh items (by --seed);
  2. each user with at least 5 remaining clicks, sorted by (ts, item_id), holds
     out the last (n+4) div 5;
  3. the rest is the training set;
  4. warm items have >= 10 training and >= 3 held-out clickers;
  5. a fresh item's n clickers sorted by (ts, user_id): the first max(10, n div 2)
     are seeds, the rest positives.

Ids are ordered as numbers when they are int64 and as strings otherwise. Writes
DIR/train.parquet, DIR/heldout.parquet (all held-out clicks of step 2),
DIR/fresh_seeds.parquet and DIR/fresh_heldout.parquet, each with columns
user_id, item_id, ts.`,
		Example: `  ralm split --clicks data/clicks.parquet --out split
  ralm split --clicks logs.arrow --out split --fresh 0.2 --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mustBeFraction("fresh", opt.FreshFraction); err != nil {
				return err
			}
			if clicks == "" {
				return fmt.Errorf("--clicks must not be empty")
			}
			if err := checkOutputs(cmd); err != nil {
				return err
			}
			ctx := cmd.Context()
			bar := newProgress(ctx, cmd, 1, "reading "+filepath.Base(clicks))
			c, err := data.ReadClicks(ctx, clicks, data.ReadOptions{})
			bar.Finish()
			if err != nil {
				return err
			}
			_, err = runSplit(ctx, cmd, c, opt, out, true)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&clicks, "clicks", "", "click log (Parquet or Arrow IPC) with user_id, item_id, ts")
	f.StringVar(&out, "out", "", "output directory (created if missing)")
	f.Float64Var(&opt.FreshFraction, "fresh", opt.FreshFraction, "share of items with >= 20 clickers made fresh, in [0,1]")
	addSeedFlag(cmd, &opt.Seed)
	markReplacedDir(cmd, "out", trainFile, heldoutFile, freshSeedsFile, freshHeldoutFile)
	_ = cmd.MarkFlagRequired("clicks")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// runSplit splits c and writes the four files to dir, printing a summary on
// the command's stdout. With replace the folder is written whole
// (writeFolder).
func runSplit(ctx context.Context, cmd *cobra.Command, c *data.Clicks, opt split.Options, dir string, replace bool) (*split.Result, error) {
	log := newLogger(cmd)
	bar := newProgress(ctx, cmd, 5, "splitting")
	defer bar.Finish()
	r, err := split.Split(c, opt)
	if err != nil {
		return nil, err
	}
	bar.Add(1)
	log.Info("split", "clicks", c.Len(), "duplicates", r.Duplicates, "fresh", len(r.FreshItems), "warm", len(r.WarmItems), "seed", opt.Seed)
	err = writeFolder(ctx, cmd, dir, replace, func(d string) error {
		for _, o := range []struct {
			name string
			c    *data.Clicks
		}{
			{trainFile, r.Train}, {heldoutFile, r.Heldout}, {freshSeedsFile, r.FreshSeeds}, {freshHeldoutFile, r.FreshHeldout},
		} {
			if err := ctx.Err(); err != nil {
				return err
			}
			bar.Describe("writing " + o.name)
			if err := data.WriteClicks(ctx, filepath.Join(d, o.name), o.c); err != nil {
				return err
			}
			bar.Add(1)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	printSplitSummary(summaryOut(cmd), c, r, dir)
	return r, nil
}

func printSplitSummary(w io.Writer, c *data.Clicks, r *split.Result, dir string) {
	known := make(map[int32]bool)
	for _, u := range r.Train.User {
		known[u] = true
	}
	fmt.Fprintf(w, "split %d clicks (%d repeated (user, item) clicks dropped):\n", c.Len(), r.Duplicates)
	fmt.Fprintf(w, "  %-22s %9d clicks, %d known users\n", trainFile, r.Train.Len(), len(known))
	fmt.Fprintf(w, "  %-22s %9d clicks, %d warm items\n", heldoutFile, r.Heldout.Len(), len(r.WarmItems))
	fmt.Fprintf(w, "  %-22s %9d clicks, %d fresh items of %d eligible\n", freshSeedsFile, r.FreshSeeds.Len(), len(r.FreshItems), r.Eligible)
	fmt.Fprintf(w, "  %-22s %9d clicks\n", freshHeldoutFile, r.FreshHeldout.Len())
	fmt.Fprintf(w, "written to %s\n", dir)
}
