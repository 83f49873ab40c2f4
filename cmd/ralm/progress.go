package main

import (
	"context"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// progressDelay is how long work runs before its bar appears: short work
// shows nothing.
const progressDelay = 2 * time.Second

// progress is a progress bar on stderr. A nil *progress is silent, and all
// methods are safe to call on it and from several goroutines.
type progress struct {
	bar     *progressbar.ProgressBar
	stop    chan struct{}
	once    sync.Once
	maxDesc int // longest description that keeps the bar on one line; 0: any
}

// newProgress returns a bar for max units of work described by desc, drawn
// on the command's stderr once the work has run for a couple of seconds. It
// is silent (nil) with --quiet or when stderr is not a terminal. The bar
// stops drawing when ctx is done; call Finish when the work ends.
func newProgress(ctx context.Context, cmd *cobra.Command, total int64, desc string) *progress {
	w := cmd.ErrOrStderr()
	if quiet(cmd) || !isTerminal(w) {
		return nil
	}
	p := startProgress(ctx, w, total, desc, progressDelay)
	if cols := terminalWidth(w); cols > 0 {
		// a line longer than the terminal wraps, and the bar's carriage
		// returns then redraw only its last part
		p.maxDesc = max(12, cols-barWidth)
	}
	return p
}

// barWidth is about how wide the bar is without its description:
// " 42% |████████████████████| (1234/5678) [1m2s:3m4s]" (the last part is
// the elapsed time and the time left).
const barWidth = 52

// terminalWidth returns the width of the terminal behind w (0 if unknown).
func terminalWidth(w io.Writer) int {
	if t, ok := w.(*terminal); ok {
		w = t.w
	}
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			return cols
		}
	}
	return 0
}

// isTerminal reports whether w is a terminal (or the terminal writer of a
// terminal).
func isTerminal(w io.Writer) bool {
	switch w := w.(type) {
	case *terminal:
		return w.tty
	case *os.File:
		return term.IsTerminal(int(w.Fd()))
	}
	return false
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// terminal is the one writer of a run's stderr: progress bars, log records
// and the final error line all go through it, one whole write at a time. On a
// terminal every log record and message first erases the current line (a
// bar's), so it starts at the left margin; the bar is drawn again below it
// on its next refresh (at most 200ms later).
type terminal struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
}

// newTerminal wraps stderr (a *terminal is returned as is).
func newTerminal(w io.Writer) *terminal {
	if t, ok := w.(*terminal); ok {
		return t
	}
	return &terminal{w: w, tty: isTerminal(w)}
}

// Write writes b whole.
func (t *terminal) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w.Write(b)
}

// writeLine writes b, which ends with a newline, on a line of its own.
func (t *terminal) writeLine(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tty {
		if _, err := io.WriteString(t.w, clearLine); err != nil {
			return 0, err
		}
	}
	return t.w.Write(b)
}

// message writes one line, msg, on a line of its own.
func (t *terminal) message(msg string) { _, _ = t.writeLine([]byte(msg + "\n")) }

// logWriter returns the writer for log records on w: each record on a line
// of its own when w is a run's terminal, w itself otherwise.
func logWriter(w io.Writer) io.Writer {
	if t, ok := w.(*terminal); ok {
		return lineWriter{t}
	}
	return w
}

// lineWriter writes every Write (a slog record) on a line of its own.
type lineWriter struct{ t *terminal }

func (l lineWriter) Write(b []byte) (int, error) { return l.t.writeLine(b) }

// startProgress draws a bar on w after delay, refreshing it (elapsed time)
// every 200ms even when no work is reported.
func startProgress(ctx context.Context, w io.Writer, max int64, desc string, delay time.Duration) *progress {
	p := &progress{stop: make(chan struct{})}
	p.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(&delayedWriter{w: w, after: time.Now().Add(delay)}),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		// Predicting the time left only makes sense for many small units,
		// not for a few stages of different lengths.
		progressbar.OptionSetPredictTime(max > 10),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = p.bar.Add64(0)
			case <-ctx.Done():
				_ = p.bar.Exit()
				return
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// Add reports n more units done.
func (p *progress) Add(n int64) {
	if p != nil {
		_ = p.bar.Add64(n)
	}
}

// Set reports n units done in all.
func (p *progress) Set(n int64) {
	if p != nil {
		_ = p.bar.Set64(n)
	}
}

// Describe changes the text before the bar.
func (p *progress) Describe(desc string) {
	if p != nil {
		if p.maxDesc > 0 && len([]rune(desc)) > p.maxDesc {
			desc = string([]rune(desc)[:p.maxDesc-1]) + "…"
		}
		p.bar.Describe(desc)
	}
}

// Finish completes and clears the bar.
func (p *progress) Finish() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		_ = p.bar.Finish()
	})
}

// delayedWriter drops writes until a moment has passed.
type delayedWriter struct {
	w     io.Writer
	after time.Time
}

func (d *delayedWriter) Write(b []byte) (int, error) {
	if time.Now().Before(d.after) {
		return len(b), nil
	}
	return d.w.Write(b)
}
