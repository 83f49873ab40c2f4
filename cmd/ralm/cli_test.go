package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/buildinfo"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// TestTerminalOneWriter: with a bar drawing, every log record and the final
// error line start on a line of their own (the bar's line is erased first),
// and no bar text lands inside them.
func TestTerminalOneWriter(t *testing.T) {
	buf := &syncWriter{}
	term := &terminal{w: buf, tty: true}
	bar := startProgress(context.Background(), term, 100, "training", 0)
	log := slog.New(slog.NewTextHandler(logWriter(term), nil))
	for i := range 20 {
		bar.Add(1)
		log.Info("epoch done", "epoch", i)
		time.Sleep(5 * time.Millisecond)
	}
	bar.Finish()
	term.message("ralm: interrupted")
	var records int
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if !strings.HasSuffix(line, "\n") {
			continue // the bar's last (cleared) line
		}
		// What a terminal shows: the text after the last carriage return,
		// with the erase-line sequence removed.
		visible := line[strings.LastIndex(line, "\r")+1:]
		visible = strings.TrimPrefix(visible, "\x1b[K")
		switch {
		case strings.Contains(visible, "msg="):
			records++
			if !strings.HasPrefix(visible, "time=") || strings.Contains(visible, "training") || !strings.Contains(line, clearLine) {
				t.Errorf("log record garbled on the terminal: %q", line)
			}
		case strings.HasPrefix(visible, "ralm: "):
			if visible != "ralm: interrupted\n" {
				t.Errorf("error line %q", visible)
			}
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if records != 20 {
		t.Fatalf("%d log records shown, want 20:\n%q", records, buf.String())
	}
}

func TestVersion(t *testing.T) {
	want := buildinfo.Read().String()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if out := mustRun(t, args...); out != want+"\n" {
			t.Errorf("ralm %v = %q, want %q", args, out, want)
		}
	}
	var in buildinfo.Info
	if err := json.Unmarshal([]byte(mustRun(t, "version", "-o", "json")), &in); err != nil || in.GoVersion == "" || in.Version == "" {
		t.Fatalf("version -o json: %+v, %v", in, err)
	}
}

func TestCompletion(t *testing.T) {
	for _, tc := range []struct{ shell, want string }{
		{"bash", "bash completion V2 for ralm"},
		{"zsh", "#compdef ralm"},
		{"fish", "fish completion for ralm"},
	} {
		if out := mustRun(t, "completion", tc.shell); !strings.Contains(out, tc.want) {
			t.Errorf("completion %s lacks %q", tc.shell, tc.want)
		}
	}
}

func TestOutputFlagValidated(t *testing.T) {
	code, _, errs := exec(t, "version", "-o", "yaml")
	if code != 1 || !strings.Contains(errs, `must be text or json, got "yaml"`) || strings.Count(errs, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// TestJSONLogAsItGoes: each record is in the file as soon as it is written
// (tail -f), with its time and elapsed seconds; close adds nothing.
func TestJSONLogAsItGoes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "train.jsonl")
	l, err := newJSONLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	l.start, l.now = t0, func() time.Time { return t0.Add(1500 * time.Millisecond) }
	l.write(logStage{Type: "stage", Stage: "userrep"})
	b, err := os.ReadFile(path)
	want := `{"type":"stage","stage":"userrep","time":"2026-12-01T22:00:01.5Z","elapsed_s":1.500}` + "\n"
	if err != nil || string(b) != want {
		t.Fatalf("log before close = %q, %v; want %q", b, err, want)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != want {
		t.Fatalf("log after close = %q", b)
	}
}

// TestManifestVersion: a model folder records the version ralm version
// prints.
func TestManifestVersion(t *testing.T) {
	w := newTrainedWorld(t)
	if got, want := manifestVersion(t, w.model), buildinfo.Read().ModuleVersion(); got != want {
		t.Fatalf("manifest module_version %q, want %q", got, want)
	}
}

// TestCtrlC sends a real SIGINT to a running ralm: exit code 130 and one
// clean line on stderr.
func TestCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ralm")
	if out, err := osexec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := osexec.Command(bin, "synth", "--users", "1000000", "--out", filepath.Join(dir, "data"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the signal handler is installed first thing in main
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *osexec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || stderr.String() != "ralm: interrupted\n" {
		t.Fatalf("after SIGINT: %v, stderr %q; want exit 130 and \"ralm: interrupted\"", err, stderr.String())
	}
}

// manifestVersion returns the module version the manifest of model folder
// dir records.
func manifestVersion(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ModuleVersion string `json:"module_version"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.ModuleVersion
}
