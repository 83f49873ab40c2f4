package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/atomicfile"
	"github.com/ralmlab/ralm/internal/meter"
	"github.com/ralmlab/ralm/ralm/bundle"
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

// outputPolicy is the one output policy of every command, printed in the
// root command's help and in the help of each command with outputs (and in
// the README). checkOutputs enforces it.
const outputPolicy = `Outputs (every command): all output paths are checked before any input is
read or any training starts. An output file (--out FILE, --report, --plot,
--per-item, --scores, --log) is created or replaced, atomically (--log is
written as it goes, for tail -f); its folder must exist and be writable. An
output folder (--out DIR) is created if missing; an existing one must be empty
or hold only files that the same command writes (an earlier run's, which are
replaced): a folder with anything else in it is refused, so no command writes
among or over files of your own. A model folder is built beside itself and
swapped in whole, as are the folders of split and synth, so that an
interrupted run leaves the earlier folder or the new one, never a mix: the
folder holding it must be writable too. No output may lie inside an output
folder.`

// outputAnnotation marks a flag whose value is an output path: its value
// is outFile, or outDir followed by the names the command writes in the
// folder (a name ending in "*" stands for every name with that prefix).
const outputAnnotation = "ralm-output"

// Kinds of output path (the first value of outputAnnotation).
const (
	outFile = "file"
	outDir  = "dir"
	// outReplacedDir is an output folder built beside itself and swapped in
	// as a whole (a model folder, atomicfile.ReplaceDir): the folder that
	// holds it must be writable too.
	outReplacedDir = "replaced-dir"
)

// isDirKind reports whether kind (the first value of outputAnnotation) is
// an output folder.
func isDirKind(kind string) bool { return kind == outDir || kind == outReplacedDir }

// markOutputFile marks flag as an output file of cmd.
func markOutputFile(cmd *cobra.Command, flag string) {
	_ = cmd.Flags().SetAnnotation(flag, outputAnnotation, []string{outFile})
}

// markOutputDir marks flag as an output folder of cmd, in which the command
// writes only the given names.
func markOutputDir(cmd *cobra.Command, flag string, names ...string) {
	_ = cmd.Flags().SetAnnotation(flag, outputAnnotation, append([]string{outDir}, names...))
}

// checkOutputs applies the output policy to every output flag of cmd with a
// non-empty value, before the command does any work. The first violation is
// an error naming the flag and the path.
func checkOutputs(cmd *cobra.Command) error {
	var (
		err  error
		outs []*pflag.Flag
	)
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if len(f.Annotations[outputAnnotation]) > 0 && f.Value.String() != "" {
			outs = append(outs, f)
		}
	})
	// no two outputs at one path, none inside an output folder (a folder
	// replaced as a whole would lose it)
	for _, a := range outs {
		for _, b := range outs {
			pa, pb := filepath.Clean(a.Value.String()), filepath.Clean(b.Value.String())
			if a != b && pa == pb {
				return fmt.Errorf("--%s and --%s are the same path %s", a.Name, b.Name, pa)
			}
			if rel, err := filepath.Rel(pb, pa); isDirKind(b.Annotations[outputAnnotation][0]) && a != b && err == nil && !strings.HasPrefix(rel, "..") {
				return fmt.Errorf("--%s %s is inside the output folder --%s %s: give a path outside it", a.Name, pa, b.Name, pb)
			}
		}
	}
	for _, f := range outs {
		spec := f.Annotations[outputAnnotation]
		path := f.Value.String()
		if isDirKind(spec[0]) {
			err = checkOutDir(path, spec[1:], cmd.CommandPath(), spec[0] == outReplacedDir)
		} else {
			err = checkOutFile(path)
		}
		if err != nil {
			return fmt.Errorf("--%s %s: %w", f.Name, path, err)
		}
	}
	return nil
}

// checkOutFile: path is not a folder, and its folder exists and is
// writable.
func checkOutFile(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return errors.New("is a folder, not a file")
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s is not a folder", nearestFile(dir))
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("folder %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("folder %s: %w", dir, pathErr(err))
	case !st.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	return probeWritable(dir)
}

// checkOutDir: path is missing (its nearest existing parent is a writable
// folder), or a folder that is empty or holds only names the command
// writes (or temporaries an interrupted write of one of them left). A
// replaced folder (built beside itself and swapped in) also needs a
// writable parent when it exists.
func checkOutDir(path string, names []string, command string, replaced bool) error {
	st, err := os.Stat(path)
	if missing(err) {
		parent := filepath.Dir(filepath.Clean(path))
		for {
			pst, err := os.Stat(parent)
			if err == nil {
				if !pst.IsDir() {
					return fmt.Errorf("%s is not a folder", parent)
				}
				return probeWritable(parent)
			}
			if !missing(err) {
				return fmt.Errorf("%s: %w", parent, pathErr(err))
			}
			if up := filepath.Dir(parent); up != parent {
				parent = up
				continue
			}
			return fmt.Errorf("no existing parent folder")
		}
	}
	if err != nil {
		return pathErr(err)
	}
	if !st.IsDir() {
		return errors.New("exists and is not a folder")
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return pathErr(err)
	}
	for _, e := range ents {
		if !ownedName(e.Name(), names) {
			return fmt.Errorf("holds %s, which '%s' does not write: give a new or empty folder", e.Name(), command)
		}
	}
	if replaced {
		if err := probeWritable(filepath.Dir(filepath.Clean(path))); err != nil {
			return fmt.Errorf("%w (the new folder is written beside the old one and swapped in)", err)
		}
	}
	return probeWritable(path)
}

// ownedName reports whether name is one of names (a name ending in "*" is
// a prefix), or a temporary that an interrupted write of one left
// (atomicfile.TempOf).
func ownedName(name string, names []string) bool {
	for _, n := range names {
		if p, ok := strings.CutSuffix(n, "*"); ok && strings.HasPrefix(name, p) || name == n {
			return true
		}
		if base, ok := atomicfile.TempOf(name); ok && ownedName(base, []string{n}) {
			return true
		}
	}
	return false
}

// probeWritable creates and removes a file in dir: the one check of
// writability that also holds for root and read-only file systems.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".ralm-check-*")
	if err != nil {
		return fmt.Errorf("folder %s is not writable: %w", dir, pathErr(err))
	}
	name := f.Name()
	cerr := f.Close()
	if rerr := os.Remove(name); rerr != nil {
		return fmt.Errorf("folder %s: remove the write check %s: %w", dir, name, rerr)
	}
	if cerr != nil {
		return fmt.Errorf("folder %s: %w", dir, cerr)
	}
	return nil
}

// missing reports whether err says a path does not exist, also because a
// parent is a file (ENOTDIR).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// nearestFile returns the first parent of path (or path) that exists: the
// file that stops a path under it from existing.
func nearestFile(path string) string {
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || filepath.Dir(p) == p {
			return p
		}
	}
}

// pathErr drops the path from an *fs.PathError (the caller names it).
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// markModelOut marks flag as the model folder cmd writes.
func markModelOut(cmd *cobra.Command, flag string) {
	markReplacedDir(cmd, flag, bundle.FileNames()...)
}

// markReplacedDir marks flag as an output folder of cmd that holds only the
// given names and is written whole by writeFolder.
func markReplacedDir(cmd *cobra.Command, flag string, names ...string) {
	_ = cmd.Flags().SetAnnotation(flag, outputAnnotation, append([]string{outReplacedDir}, names...))
}

// writeFolder writes a command's output folder dir with build: in place
// when replace is false (a folder the command shares with its other steps,
// as quickstart's), else built beside it and swapped in whole
// (atomicfile.ReplaceDir), so that an interrupted or failed run leaves the
// earlier folder or the new one, never a mix of two runs (and the next run
// removes the temporary folder a killed one left, removeStale).
func writeFolder(ctx context.Context, cmd *cobra.Command, dir string, replace bool, build func(dir string) error) error {
	if !replace {
		return build(dir)
	}
	removeStale(cmd, dir)
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), atomicfile.DirMode); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	return atomicfile.ReplaceDir(ctx, dir, build)
}

// checkModelOut applies the output policy to a model folder that is not a
// flag of its own (quickstart's DIR/model).
func checkModelOut(dir string) error {
	if dir == "" {
		return errors.New("--out must not be empty")
	}
	if err := checkOutDir(dir, bundle.FileNames(), "ralm train", true); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// documentOutputs appends the output policy to the help of cmd and of every
// command under it that has an output flag.
func documentOutputs(cmd *cobra.Command) {
	has := false
	cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) { has = has || len(f.Annotations[outputAnnotation]) > 0 })
	if has || !cmd.HasParent() {
		cmd.Long = strings.TrimRight(cmd.Long, "\n") + "\n\n" + outputPolicy
	}
	for _, c := range cmd.Commands() {
		documentOutputs(c)
	}
}
