package main

// Flags and helpers shared by every command: --quiet, --seed, logging,
// output directories and progress bars (progress.go).

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/spf13/cobra"
)

// defaultSeed is the default of every --seed flag.
const defaultSeed = 1

// addGlobalFlags adds the persistent flags every command inherits.
func addGlobalFlags(root *cobra.Command) {
	root.PersistentFlags().BoolP("quiet", "q", false, "only errors on stderr, and on stdout only results not sent to a file (no progress, summaries or logs)")
	root.PersistentFlags().BoolP("verbose", "v", false, "log each step on stderr (above the progress bar)")
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

// outputFormat is the value of --output: how a command prints its result.
type outputFormat string

// Output formats.
const (
	outputText outputFormat = "text" // for people: lines and tables
	outputJSON outputFormat = "json" // for scripts: one JSON document on stdout
)

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "format" }

// Set accepts text or json.
func (o *outputFormat) Set(s string) error {
	switch f := outputFormat(s); f {
	case outputText, outputJSON:
		*o = f
		return nil
	}
	return fmt.Errorf("must be %s or %s, got %q", outputText, outputJSON, s)
}

// addOutputFlag adds --output/-o to cmd.
func addOutputFlag(cmd *cobra.Command) {
	o := outputText
	cmd.Flags().VarP(&o, "output", "o", "result format: text, or json (one JSON document on stdout, for scripts)")
}

// asJSON reports whether --output json was given.
func asJSON(cmd *cobra.Command) bool {
	f := cmd.Flag("output")
	return f != nil && f.Value.String() == string(outputJSON)
}

// writeJSON prints v on stdout as indented JSON (--output json).
func writeJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON output: %w", err)
	}
	return nil
}

// summaryOut is where a command prints what it did (counts, paths, the
// first rows of a file it wrote): stdout, or nothing with --quiet. A
// command's result itself (score's lines, a JSON document) goes to stdout.
func summaryOut(cmd *cobra.Command) io.Writer {
	if quiet(cmd) {
		return io.Discard
	}
	return cmd.OutOrStdout()
}

// newLogger returns the command's logger: text on stderr, each record on a
// line of its own above a progress bar; warnings and errors by default, also
// informational messages with --verbose, only errors with --quiet.
func newLogger(cmd *cobra.Command) *slog.Logger {
	level := slog.LevelWarn
	switch {
	case quiet(cmd):
		level = slog.LevelError
	case verbose(cmd):
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(logWriter(cmd.ErrOrStderr()), &slog.HandlerOptions{Level: level}))
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

// checkTablesMatch refuses a users or items table none of whose ids is in
// the click log: it would add nothing to training (every user or item would
// train without its features), so it is the wrong file or the wrong id
// column, never what was meant. A table that covers only part of the log is
// fine (the rest train without features): logged at --verbose.
func checkTablesMatch(cmd *cobra.Command, in userrepInputs, clicks *data.Clicks, users, items *data.Table) error {
	log := newLogger(cmd)
	for _, tc := range []struct {
		flag, path, what string
		t                *data.Table
		v                *data.Vocab
	}{
		{"users", in.users, "user", users, clicks.Users},
		{"items", in.items, "item", items, clicks.Items},
	} {
		if tc.t == nil || tc.t.Keys == nil {
			continue
		}
		shared := 0
		for _, id := range tc.t.Keys.IDs() {
			if _, ok := tc.v.Index(id); ok {
				shared++
			}
		}
		if shared == 0 && tc.t.Keys.Len() > 0 && tc.v.Len() > 0 {
			return fmt.Errorf("--%s %s: none of its %d %s ids is in the clicks %s (e.g. %q in the table, %q in the clicks): the wrong file or id column?",
				tc.flag, tc.path, tc.t.Keys.Len(), tc.what, in.clicks, tc.t.Keys.ID(0), tc.v.ID(0))
		}
		log.Info("table rows matched", "table", tc.path, "rows", tc.t.Keys.Len(), "clicks_"+tc.what+"s", tc.v.Len(), "matched", shared)
	}
	return nil
}
