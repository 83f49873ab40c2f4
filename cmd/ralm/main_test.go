package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
)

// exec runs the CLI in-process and returns its exit code, stdout and stderr.
func exec(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// mustRun runs the CLI and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := exec(t, args...)
	if code != 0 {
		t.Fatalf("ralm %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
	}
	return out
}

func TestHelpHasExamples(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"synth", "--help"}, {"split", "--help"}, {"quickstart", "--help"}} {
		code, out, errs := exec(t, args...)
		if code != 0 || errs != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "--quiet") {
			t.Fatalf("%v: help lacks an example or --quiet:\n%s", args, out)
		}
	}
	// Every command registered on the root has an example.
	for _, c := range newRootCmd().Commands() {
		if c.Example == "" && !c.Hidden && c.Name() != "help" {
			t.Errorf("command %s has no Example", c.Name())
		}
	}
}

// TestSynthThenSplit runs both commands and reads every output back with
// the data package, checking the documented schema.
func TestSynthThenSplit(t *testing.T) {
	for _, strIDs := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"synth", "--users", "600", "--items", "150", "--clicks-per-user", "15",
			"--communities", "4", "--seed", "3", "--out", dir}
		wantKind := data.IDInt64
		if strIDs {
			args = append(args, "--string-ids")
			wantKind = data.IDString
		}
		out := mustRun(t, args...)
		if !strings.Contains(out, "600 users") {
			t.Fatalf("synth summary: %q", out)
		}
		ctx := context.Background()
		clicks, err := data.ReadClicks(ctx, filepath.Join(dir, clicksFile), data.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if clicks.Users.Kind() != wantKind || clicks.Items.Kind() != wantKind || clicks.Users.Len() != 600 || clicks.Len() < 600 {
			t.Fatalf("clicks: kinds %v/%v, %d users, %d clicks", clicks.Users.Kind(), clicks.Items.Kind(), clicks.Users.Len(), clicks.Len())
		}
		checkTable(t, filepath.Join(dir, usersFile), data.ColUserID, 600, map[string]data.ColumnKind{
			"age": data.ColumnContinuous, "gender": data.ColumnCategorical,
			"region": data.ColumnCategorical, "interests": data.ColumnMulti,
		})
		checkTable(t, filepath.Join(dir, itemsFile), data.ColItemID, 150, map[string]data.ColumnKind{
			"category": data.ColumnCategorical, "tags": data.ColumnMulti,
		})

		sdir := filepath.Join(dir, "split")
		out = mustRun(t, "split", "--clicks", filepath.Join(dir, clicksFile), "--out", sdir, "--fresh", "0.2", "--seed", "5")
		if !strings.Contains(out, "fresh items") {
			t.Fatalf("split summary: %q", out)
		}
		total := 0
		for _, name := range []string{trainFile, heldoutFile, freshSeedsFile, freshHeldoutFile} {
			c, err := data.ReadClicks(ctx, filepath.Join(sdir, name), data.ReadOptions{AllowEmpty: true})
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() == 0 {
				t.Fatalf("%s is empty", name)
			}
			if c.Users.Kind() != wantKind {
				t.Fatalf("%s: user id kind %v", name, c.Users.Kind())
			}
			total += c.Len()
		}
		if dups := clicks.Len() - total; dups < 0 || dups > clicks.Len()/20 {
			t.Fatalf("split outputs hold %d of %d clicks", total, clicks.Len())
		}
		// --fresh 0: empty but readable fresh files.
		sdir0 := filepath.Join(dir, "split0")
		mustRun(t, "split", "--clicks", filepath.Join(dir, clicksFile), "--out", sdir0, "--fresh", "0", "-q")
		for _, name := range []string{freshSeedsFile, freshHeldoutFile} {
			c, err := data.ReadClicks(ctx, filepath.Join(sdir0, name), data.ReadOptions{AllowEmpty: true})
			if err != nil || c.Len() != 0 {
				t.Fatalf("%s with --fresh 0: %v", name, err)
			}
		}
		// Same seed, same files.
		sdir2 := filepath.Join(dir, "split2")
		mustRun(t, "split", "--clicks", filepath.Join(dir, clicksFile), "--out", sdir2, "--fresh", "0.2", "--seed", "5", "-q")
		for _, name := range []string{trainFile, freshSeedsFile} {
			a, _ := os.ReadFile(filepath.Join(sdir, name))
			b, _ := os.ReadFile(filepath.Join(sdir2, name))
			if !bytes.Equal(a, b) {
				t.Fatalf("%s differs between two runs with the same seed", name)
			}
		}
	}
}

func checkTable(t *testing.T, path, key string, rows int, want map[string]data.ColumnKind) {
	t.Helper()
	tab, err := data.ReadTable(context.Background(), path, key, data.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows() != rows {
		t.Fatalf("%s: %d rows, want %d", path, tab.Rows(), rows)
	}
	got := map[string]data.ColumnKind{}
	for _, c := range tab.Columns {
		got[c.Name] = c.Kind
	}
	if len(got) != len(want) {
		t.Fatalf("%s: columns %v, want %v", path, got, want)
	}
	for name, k := range want {
		if got[name] != k {
			t.Fatalf("%s: column %s is %v, want %v", path, name, got[name], k)
		}
	}
}

func TestVerboseLogs(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := exec(t, "synth", "--users", "50", "--items", "20", "--communities", "2", "--clicks-per-user", "3", "--out", dir, "-v")
	if code != 0 || !strings.Contains(errs, "level=INFO") || !strings.Contains(errs, "msg=generated") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// TestBadInput: every failure exits 1 with exactly one line "ralm: ..." on
// stderr that says what is wrong.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notParquet := filepath.Join(dir, "notes.parquet")
	if err := os.WriteFile(notParquet, []byte("user_id,item_id,ts\n1,2,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(dir, "file")
	if err := os.WriteFile(aFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.parquet")
	out := filepath.Join(dir, "out") // dir holds files split does not write
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"synthesize"}, `unknown command "synthesize"`},
		{"unknown flag", []string{"synth", "--userz", "3", "--out", dir}, "unknown flag: --userz"},
		{"bad flag value", []string{"synth", "--users", "many", "--out", dir}, `invalid argument "many" for "--users"`},
		{"missing out", []string{"synth"}, `required flag(s) "out" not set`},
		{"negative users", []string{"synth", "--users", "-5", "--out", dir}, "--users must be positive, got -5"},
		{"noise", []string{"synth", "--noise", "2", "--out", dir}, "--noise must be in [0,1], got 2"},
		{"communities", []string{"synth", "--users", "5", "--communities", "9", "--out", dir}, "--communities (9) must not exceed --users (5)"},
		{"out is under a file", []string{"synth", "--out", filepath.Join(aFile, "sub")}, aFile + " is not a folder"},
		{"out is a file", []string{"synth", "--out", aFile}, "--out " + aFile + ": exists and is not a folder"},
		{"out holds other files", []string{"split", "--clicks", notParquet, "--out", dir}, "--out " + dir + ": holds file, which 'ralm split' does not write"},
		{"extra argument", []string{"split", "extra", "--clicks", missing, "--out", dir}, `unknown command "extra"`},
		{"missing clicks flag", []string{"split", "--out", dir}, `required flag(s) "clicks" not set`},
		{"missing file", []string{"split", "--clicks", missing, "--out", out}, "read clicks " + missing},
		{"not parquet", []string{"split", "--clicks", notParquet, "--out", out}, "read clicks " + notParquet},
		{"fresh out of range", []string{"split", "--clicks", missing, "--out", out, "--fresh", "1.5"}, "--fresh must be in [0,1], got 1.5"},
		{"quiet and verbose", []string{"synth", "--out", dir, "-q", "-v"}, "none of the others can be"},
		{"quickstart out is a file", []string{"quickstart", "--out", aFile}, "exists and is not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := exec(t, tt.args...)
			if code == 0 {
				t.Fatal("exit 0, want failure")
			}
			lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "ralm: ") {
				t.Fatalf("stderr is not one 'ralm: ' line: %q", errs)
			}
			if !strings.Contains(lines[0], tt.want) {
				t.Fatalf("stderr %q, want it to contain %q", lines[0], tt.want)
			}
		})
	}
	// Nothing half-written: a failed split leaves no output files.
	if _, err := os.Stat(out); err == nil {
		entries, _ := os.ReadDir(out)
		if len(entries) > 0 {
			t.Fatalf("failed commands left %v behind", entries)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".parquet") && !slices.Contains([]string{"notes.parquet"}, n) {
			t.Fatalf("failed commands left %s behind", n)
		}
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"synth", "--users", "100000", "--out", t.TempDir()}, &out, &errb)
	// Ctrl-C: the shell's exit code for SIGINT and one clean line.
	if code != 130 || errb.String() != "ralm: interrupted\n" {
		t.Fatalf("exit %d, stderr %q; want 130 and \"ralm: interrupted\"", code, errb.String())
	}
	// SIGTERM: 128 + 15.
	tctx, tcancel := context.WithCancelCause(context.Background())
	tcancel(errSignal{syscall.SIGTERM})
	errb.Reset()
	if code := run(tctx, []string{"synth", "--users", "100000", "--out", t.TempDir()}, &out, &errb); code != 143 || errb.String() != "ralm: interrupted by terminated\n" {
		t.Fatalf("SIGTERM: exit %d, stderr %q", code, errb.String())
	}
}

func TestProgressBar(t *testing.T) {
	buf := &syncWriter{}
	p := startProgress(context.Background(), buf, 10, "working", 0)
	p.Add(3)
	time.Sleep(250 * time.Millisecond)
	p.Set(7)
	p.Describe("still working")
	time.Sleep(250 * time.Millisecond)
	p.Finish()
	p.Finish() // idempotent
	s := buf.String()
	if !strings.Contains(s, "working") || !strings.Contains(s, "/10") {
		t.Fatalf("bar output %q", s)
	}

	// Delayed: short work draws nothing.
	buf = &syncWriter{}
	p = startProgress(context.Background(), buf, 10, "short", time.Hour)
	p.Add(10)
	p.Finish()
	if buf.String() != "" {
		t.Fatalf("short work drew %q", buf.String())
	}

	// A nil bar (quiet, not a terminal) is safe to use.
	var nilBar *progress
	nilBar.Add(1)
	nilBar.Set(2)
	nilBar.Describe("x")
	nilBar.Finish()

	// Commands given a non-terminal stderr are silent.
	cmd := newRootCmd()
	cmd.SetErr(buf)
	if newProgress(context.Background(), cmd, 1, "x") != nil {
		t.Fatal("progress bar on a non-terminal writer")
	}
}

// syncWriter serialises writes from the bar's goroutines and reads by the
// test.
type syncWriter struct {
	mu sync.Mutex
	w  bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
