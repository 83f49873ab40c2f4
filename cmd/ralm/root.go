// Command ralm is the command-line interface of ralm, the Real-time
// Attention-based Look-alike Model: synthetic data, the evaluation split,
// training, embedding, scoring, audience expansion and serving.
//
// Run `ralm --help` for the commands and `ralm quickstart` for a first run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the CLI with args and returns the process exit code. Errors
// are printed as one line, "ralm: <error>", on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "ralm: %s\n", oneLine(err.Error()))
		return 1
	}
	return 0
}

// newRootCmd builds the command tree. Add a command by writing a
// newXxxCmd() *cobra.Command in its own file and listing it here.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ralm",
		Short: "Real-time Attention-based Look-alike Model",
		Long: `ralm finds look-alike audiences: given the users who clicked an item (the seeds),
it scores every other user by how much they resemble them (Liu et al., KDD 2019).

Input data are Parquet or Arrow IPC files: a click log (user_id, item_id, ts) and
optional users and items tables. See the README for the columns.`,
		Example: `  # Generate a small data set, train on it, score and expand:
  ralm quickstart

  # The same by hand:
  ralm synth --users 10000 --items 2000 --out data
  ralm split --clicks data/clicks.parquet --out data/split
  ralm train --clicks data/split/train.parquet --users data/users.parquet \
      --items data/items.parquet --out model
  ralm score --model model --user 42 --items 7,19,1003
  ralm expand --model model --item 7 --n 1000 --out audience.parquet`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// No Args: cobra then rejects an unknown subcommand with a suggestion.
	}
	root.CompletionOptions.DisableDefaultCmd = true
	addGlobalFlags(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(
		newSynthCmd(),
		newSplitCmd(),
		newQuickstartCmd(),
		newTrainCmd(), // with the subcommands userrep and lookalike
		newEmbedCmd(),
		newScoreCmd(),
		newExpandCmd(),
		newEvalCmd(),
		newServeCmd(),
	)
	return root
}

// oneLine folds a multi-line message (cobra's suggestions, wrapped errors)
// into one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}
