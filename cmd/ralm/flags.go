package main

// Flags and helpers shared by every command: --quiet, --seed, logging,
// output directories and progress bars (progress.go).

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/ralmlab/ralm/lookalike"
	"github.com/spf13/cobra"
)

// defaultSeed is the default of every --seed flag.
const defaultSeed = 1

// addGlobalFlags adds the persistent flags every command inherits.
func addGlobalFlags(root *cobra.Command) {
	root.PersistentFlags().BoolP("quiet", "q", false, "no progress bars and no logs but errors")
	root.PersistentFlags().BoolP("verbose", "v", false, "log each step on stderr")
	root.MarkFlagsMutuallyExclusive("quiet", "verbose")
}

// addSeedFlag adds --seed to cmd, stored in p.
func addSeedFlag(cmd *cobra.Command, p *int64) {
	cmd.Flags().Int64Var(p, "seed", defaultSeed, "random seed: the same seed and input give the same output")
}

// quiet reports whether --quiet was given.
func quiet(cmd *cobra.Command) bool { return boolFlag(cmd, "quiet") }

// verbose reports whether --verbose was given.
func verbose(cmd *cobra.Command) bool { return boolFlag(cmd, "verbose") }

func boolFlag(cmd *cobra.Command, name string) bool {
	f := cmd.Flag(name)
	return f != nil && f.Value.String() == "true"
}

// newLogger returns the command's logger: text on stderr; warnings and
// errors by default, also informational messages with --verbose, only
// errors with --quiet.
func newLogger(cmd *cobra.Command) *slog.Logger {
	level := slog.LevelWarn
	switch {
	case quiet(cmd):
		level = slog.LevelError
	case verbose(cmd):
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
}

// mustBePositive returns an error naming the flag if v <= 0.
func mustBePositive[T int | int64 | float64](flag string, v T) error {
	if !(v > 0) {
		return fmt.Errorf("--%s must be positive, got %v", flag, v)
	}
	return nil
}

// mustBeFraction returns an error naming the flag if v is not in [0,1].
func mustBeFraction(flag string, v float64) error {
	if !(v >= 0 && v <= 1) {
		return fmt.Errorf("--%s must be in [0,1], got %v", flag, v)
	}
	return nil
}

// makeOutDir creates dir (and parents) for a command's outputs.
func makeOutDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("--out must not be empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	return nil
}

// addPropensityFlag adds --propensity to cmd, stored in p (prefix starts
// the usage text, e.g. "look-alike model: ").
func addPropensityFlag(cmd *cobra.Command, p *lookalike.PropensityMode, prefix string) {
	cmd.Flags().Var(p, "propensity", prefix+
		"user (a learned per-user click-propensity term added to the score: one user's item order is the paper's, an item's audience ranks active users higher) or off (the paper's score)")
}
