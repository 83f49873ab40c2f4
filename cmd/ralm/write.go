package main

import (
	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/atomicfile"
	"github.com/ralmlab/ralm/internal/meter"
)

// removeStale removes the temporary file or folder (".NAME.tmp-<digits>")
// that an earlier run, killed while writing path, left beside it, with a
// one-line note on stderr for each. A command calls it just before it
// writes path itself. A failure to remove is a note too, never an error:
// the stale entry does not stop the new write.
func removeStale(cmd *cobra.Command, path string) {
	removed, err := atomicfile.RemoveStale(path)
	for _, p := range removed {
		note(cmd, "removed "+p+", left by an interrupted earlier run")
	}
	if err != nil {
		note(cmd, oneLine(err.Error()))
	}
}

// note writes "ralm: msg" on a line of its own on the command's stderr
// (clearing a progress bar's line first on a terminal).
func note(cmd *cobra.Command, msg string) {
	w := cmd.ErrOrStderr()
	if t, ok := w.(*terminal); ok {
		t.message("ralm: " + msg)
		return
	}
	_, _ = w.Write([]byte("ralm: " + msg + "\n"))
}

// rowBar drives a progress bar from the Progress callbacks of data readers
// and writers of one or more files in a row: the bar counts the rows of all
// of them (its maximum, given to newProgress, is their sum; a file starts
// after the previous one reported all its rows), its description names the
// file at hand and that file's rate in rows/s. Calls are made on the
// goroutine doing the I/O, one file at a time.
type rowBar struct {
	p                       *progress
	offset, last, lastTotal int64
}

// rows returns the rowBar of the bar (which may be nil: silent).
func (p *progress) rows() *rowBar { return &rowBar{p: p} }

// report returns the Progress of one file described by desc; nil for a
// silent bar.
func (r *rowBar) report(desc string) data.Progress {
	if r.p == nil {
		return nil
	}
	return func(done, total int64, rate float64) {
		if r.lastTotal > 0 && r.last >= r.lastTotal { // the previous file is complete
			r.offset += r.lastTotal
		}
		r.last, r.lastTotal = done, total
		r.p.Set(r.offset + done)
		r.p.Describe(desc + " " + meter.HumanCount(rate) + " rows/s")
	}
}

// write is the write option reporting one file's write on the bar.
func (r *rowBar) write(desc string) data.WriteOption {
	return data.WithProgress(r.report(desc))
}
