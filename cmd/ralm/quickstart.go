package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/data/synth"
)

// quickstartState is what the quickstart steps share. Later steps (train,
// evaluate) read what earlier ones left here and add their own results.
type quickstartState struct {
	ctx  context.Context
	cmd  *cobra.Command
	dir  string // where every file goes
	seed int64

	synth  *synth.Dataset // step "generate"
	clicks *data.Clicks   // the click log read back from clicksFile
	split  *split.Result  // step "split"
}

// quickstartStep is one stage of the quickstart. Steps run in order; each
// prints its own summary on stdout.
type quickstartStep struct {
	name string
	run  func(s *quickstartState) error
}

// quickstartSteps lists the stages. Append training and evaluation here as
// they land.
func quickstartSteps() []quickstartStep {
	return []quickstartStep{
		{"generate synthetic data", quickstartGenerate},
		{"split for evaluation", quickstartSplit},
	}
}

// quickstartConfig is the embedded default data set: small enough to run in
// seconds, large enough for every protocol threshold to matter.
func quickstartConfig(seed int64) synth.Config {
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.ClicksPerUser, cfg.Communities = 5000, 2000, 20, 8
	cfg.Seed = seed
	return cfg
}

func newQuickstartCmd() *cobra.Command {
	var (
		out  string
		seed int64
	)
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run the whole pipeline on a small synthetic data set",
		Long: `Run the pipeline end to end on an embedded default: generate a synthetic data set
(5,000 users, 2,000 items, about 100,000 clicks), write it as Parquet, read the
click log back, split it for evaluation, and print what each step made.

Files go to --out, or to a new temporary directory that is kept (its path is
printed) so you can look at them.`,
		Example: `  ralm quickstart
  ralm quickstart --out /tmp/ralm-demo --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				d, err := os.MkdirTemp("", "ralm-quickstart-")
				if err != nil {
					return fmt.Errorf("create temporary directory: %w", err)
				}
				out = d
			} else if err := makeOutDir(out); err != nil {
				return err
			}
			s := &quickstartState{ctx: cmd.Context(), cmd: cmd, dir: out, seed: seed}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "ralm quickstart: files in %s\n", out)
			steps := quickstartSteps()
			for i, st := range steps {
				if err := s.ctx.Err(); err != nil {
					return err
				}
				fmt.Fprintf(w, "\n[%d/%d] %s\n", i+1, len(steps), st.name)
				if err := st.run(s); err != nil {
					return fmt.Errorf("%s: %w", st.name, err)
				}
			}
			fmt.Fprintf(w, "\ndone: files in %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output directory (default: a new temporary directory)")
	addSeedFlag(cmd, &seed)
	return cmd
}

func quickstartGenerate(s *quickstartState) error {
	ds, err := runSynth(s.ctx, s.cmd, quickstartConfig(s.seed), s.dir)
	if err != nil {
		return err
	}
	s.synth = ds
	return nil
}

func quickstartSplit(s *quickstartState) error {
	c, err := data.ReadClicks(s.ctx, filepath.Join(s.dir, clicksFile), data.ReadOptions{})
	if err != nil {
		return err
	}
	s.clicks = c
	opt := split.DefaultOptions()
	opt.Seed = s.seed
	r, err := runSplit(s.ctx, s.cmd, c, opt, s.dir)
	if err != nil {
		return err
	}
	s.split = r
	return nil
}
