// Command ralm is the command-line interface of ralm, the Real-time
// Attention-based Look-alike Model: synthetic data, the evaluation split,
// training, embedding, scoring, audience expansion and serving.
//
// Run `ralm --help` for the commands and `ralm quickstart` for a first run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/internal/buildinfo"
)

func main() {
	ctx, stop := signalContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes of run.
const (
	exitOK    = 0
	exitError = 1
	// exitInterrupted is the shell's code for a process ended by SIGINT
	// (128 + 2): Ctrl-C.
	exitInterrupted = 128 + int(syscall.SIGINT)
)

// errSignal is the cancellation cause of the context of a run stopped by a
// signal.
type errSignal struct{ sig os.Signal }

func (e errSignal) Error() string { return "interrupted by " + e.sig.String() }

// signalContext returns a context cancelled, with an errSignal cause, by the
// first SIGINT or SIGTERM. A second signal gets the default handling (the
// process ends at once).
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(errSignal{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// run executes the CLI with args and returns the process exit code. Errors
// are printed as one line, "ralm: <error>", on stderr, on a line of their
// own (a progress bar is cleared first). A run whose context was cancelled
// (Ctrl-C) prints "ralm: interrupted" and returns 130 (SIGTERM: 143).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	term := newTerminal(stderr)
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(term)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil:
		msg, code := "interrupted", exitInterrupted
		var sig errSignal
		if errors.As(context.Cause(ctx), &sig) && sig.sig != os.Interrupt {
			msg = sig.Error()
			if n, ok := sig.sig.(syscall.Signal); ok {
				code = 128 + int(n) // the shell's convention: 143 for SIGTERM
			}
		}
		term.message("ralm: " + msg)
		return code
	default:
		term.message("ralm: " + oneLine(err.Error()))
		return exitError
	}
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
  ralm split --clicks data/clicks.parquet --out split
  ralm train --clicks split/train.parquet --users data/users.parquet \
      --items data/items.parquet --out model
  ralm score --model model --user 42 --items 3,19,42
  ralm expand --model model --item 19 --n 1000 --out audience.parquet

  # Shell completion (bash; also zsh, fish, powershell):
  source <(ralm completion bash)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// No Args: cobra then rejects an unknown subcommand with a suggestion.
	}
	// cobra's "completion bash|zsh|fish|powershell" command
	root.CompletionOptions.HiddenDefaultCmd = false
	root.Version = buildinfo.Read().String()
	root.SetVersionTemplate("{{.Version}}\n")
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
		newPublishCmd(),
		newPlotCmd(),
		newVersionCmd(),
	)
	documentOutputs(root)
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
