package main

import (
	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/internal/atomicfile"
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
