// Package atomicfile writes files and folders so that readers see either the
// old content or the complete new content, never a partial write.
//
// File mode policy (one for the whole module): files are created 0644 and
// folders 0755. Nothing ralm writes is a secret.
package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Modes of everything this package creates.
const (
	FileMode os.FileMode = 0o644
	DirMode  os.FileMode = 0o755
)

// TempPrefix returns the prefix of the temporary file or folder written next
// to path while path is being written: ".BASE.tmp-". A run that was killed
// leaves such an entry behind; Stale lists them.
func TempPrefix(path string) string {
	return "." + filepath.Base(path) + ".tmp-"
}

// Write creates or replaces path with what write puts into the file it is
// given. The data goes to a temporary file in the same folder, which is
// synced, given FileMode and renamed into place only when write returned
// nil and ctx is not done. On any error (or a panic in write) the temporary
// file is removed and path is left untouched.
func Write(ctx context.Context, path string, write func(f *os.File) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), TempPrefix(path)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("writer panic: %v", r)
			}
		}()
		err = write(tmp)
	}()
	if err != nil {
		return err
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), FileMode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteBytes is Write for a byte slice already in memory.
func WriteBytes(ctx context.Context, path string, b []byte) error {
	return Write(ctx, path, func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
}

// ErrExists is returned by WriteDir when the destination already exists.
var ErrExists = errors.New("already exists")

// WriteDir creates the folder path by letting build fill a temporary folder
// beside it (created with DirMode) and renaming that into place once build
// returned nil and ctx is not done. The files in it are synced by whoever
// wrote them (Write does); WriteDir syncs the folder itself. path must not
// exist. On any error the temporary folder is removed and path is not
// created.
func WriteDir(ctx context.Context, path string, build func(tmp string) error) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	return writeDir(ctx, path, build, false)
}

// ReplaceDir is WriteDir for a path that may already exist as a folder: the
// new folder is built beside it exactly as WriteDir builds it, then swapped
// in for the old one, and the old one is removed. Deciding whether the
// existing folder may be replaced is the caller's job.
//
// The swap is one atomic exchange of the two names where the system offers
// it (renameat2 RENAME_EXCHANGE on Linux), so readers and a crash at any
// moment see either the complete old folder or the complete new one at
// path; what a crash leaves beside it (the half-built new folder, or the old
// one not yet removed) is named with TempPrefix and listed by Stale. Where
// there is no exchange, the old folder is renamed aside (also under
// TempPrefix) and the new one renamed in: a crash between those two renames
// leaves no folder at path, and the old one is the Stale entry whose name
// starts with TempPrefix(path)+"old-".
func ReplaceDir(ctx context.Context, path string, build func(tmp string) error) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return writeDir(ctx, path, build, false)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s: exists and is not a folder", path)
	}
	return writeDir(ctx, path, build, true)
}

func writeDir(ctx context.Context, path string, build func(tmp string) error, replace bool) (err error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), TempPrefix(path)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err = os.Chmod(tmp, DirMode); err != nil {
		return err
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("folder writer panic: %v", r)
			}
		}()
		err = build(tmp)
	}()
	if err != nil {
		return err
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = syncDir(tmp); err != nil {
		return err
	}
	if replace {
		return swapDir(tmp, path, exchange)
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// swapDir puts the complete folder tmp at path in place of the folder there
// and removes the old one, using exch to swap the names when it can.
func swapDir(tmp, path string, exch func(a, b string) (bool, error)) error {
	parent := filepath.Dir(path)
	exchanged, err := exch(tmp, path)
	if err != nil {
		return err
	}
	old := tmp // after an exchange the old folder has tmp's name
	if !exchanged {
		o, err := os.MkdirTemp(parent, TempPrefix(path)+"old-*")
		if err != nil {
			return err
		}
		if err := os.Remove(o); err != nil { // only the unique name is wanted
			return err
		}
		if err := os.Rename(path, o); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			if rerr := os.Rename(o, path); rerr != nil {
				return fmt.Errorf("%w (and putting the old folder back failed: %v; it is at %s)", err, rerr, o)
			}
			return err
		}
		old = o
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("remove replaced folder %s: %w", old, err)
	}
	return nil
}

// TempOf reports whether name is the name of a temporary file or folder
// written beside a destination while it was being written, and returns the
// destination's base name: names made of TempPrefix, optionally "old-" (an
// old folder moved aside by ReplaceDir), and the random digits
// os.CreateTemp and os.MkdirTemp add, nothing else (so "m.tmp-x" is no
// temporary of "m").
func TempOf(name string) (base string, ok bool) {
	i := strings.LastIndex(name, ".tmp-")
	if !strings.HasPrefix(name, ".") || i < 1 {
		return "", false
	}
	rest := strings.TrimPrefix(name[i+len(".tmp-"):], "old-")
	if rest == "" || strings.Trim(rest, "0123456789") != "" {
		return "", false
	}
	return name[1:i], true
}

// Stale lists the temporary files and folders that interrupted writes of
// path left beside it: the entries whose TempOf is path's base name.
func Stale(path string) ([]string, error) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if base, ok := TempOf(e.Name()); ok && base == filepath.Base(path) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// RemoveStale removes what Stale lists for path and returns the names it
// removed. Call it only where no other write of path can be running (a
// command about to write path itself).
func RemoveStale(path string) ([]string, error) {
	stale, err := Stale(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // no parent folder: nothing to remove
		}
		return nil, fmt.Errorf("list stale temporary files of %s: %w", path, err)
	}
	var removed []string
	for _, p := range stale {
		if err := os.RemoveAll(p); err != nil {
			return removed, fmt.Errorf("remove stale temporary file %s: %w", p, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
