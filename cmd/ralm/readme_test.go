package main

import (
	"context"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/redistest"
)

// readmeScale rewrites the README's commands for a test run: the same
// commands on small data. Each pair is a regular expression and its
// replacement, applied in order to every command line.
var readmeScale = []struct{ re, with string }{
	// a smaller synthetic data set (the README's ids are chosen to work at
	// both sizes)
	{`--users 10000 --items 2500`, `--users 2000 --items 500`},
	// fewer epochs
	{`--epochs-user 5 --epochs-la 5`, `--epochs-user 2 --epochs-la 2`},
	{`\bralm quickstart\b`, `ralm quickstart --users 500 --epochs-user 2 --epochs-la 2`},
	{`\bralm eval --clicks\b`, `ralm eval --epochs-user 2 --epochs-la 2 --clicks`},
	// the binary built by the test instead of go run
	{`\bgo run \./cmd/ralm\b`, `ralm`},
}

// readmeSkip are command lines the test does not run, with the reason.
var readmeSkip = []struct{ prefix, why string }{
	{"go test", "the test suite itself: it would run this test again"},
	{"go install", "needs the network and the published module"},
	{"go run ./examples/", "examples run for minutes; each has its own test or is run by hand"},
}

// TestREADMECommands extracts every ```sh block of README.md and runs it
// with bash (set -euo pipefail, in the module root, /tmp/ replaced by a
// temporary folder), with the substitutions of readmeScale, so that the
// README's commands cannot drift from the CLI. It takes about a minute;
// -short skips it.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every README command (about a minute); skipped with -short")
	}
	if _, err := osexec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shBlocks(string(readme))
	if len(blocks) < 3 {
		t.Fatalf("README.md has %d sh blocks", len(blocks))
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	build := osexec.Command("go", "build", "-o", filepath.Join(bin, "ralm"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := filepath.Join(tmp, "tmp") + "/"
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, block := range blocks {
		script := readmeScript(block, work)
		if strings.Contains(script, "redis-server") {
			t.Run(fmt.Sprintf("block%d-redis", i+1), func(t *testing.T) { runRedisBlock(t, i+1, script, root, bin, work) })
			continue
		}
		cmd := osexec.Command("bash", "-c", "set -euo pipefail\n"+script)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README sh block %d failed: %v\nscript:\n%s\noutput:\n%s", i+1, err, script, out)
		}
		if strings.Contains(script, "ralm score") && strings.Contains(string(out), "unknown_item") {
			t.Errorf("README sh block %d scores an item the model does not know (pick another id):\n%s", i+1, out)
		}
		t.Logf("block %d (%.1fs):\n%s", i+1, time.Since(start).Seconds(), out)
	}
}

// redisBlockTimeout bounds a README block that runs redis-server and
// replicas (its wait loops would otherwise hang on a failure).
const redisBlockTimeout = 3 * time.Minute

// runRedisBlock runs a README block that starts redis-server and `ralm
// serve` replicas: skipped without redis-server (failing when CI=true),
// its fixed ports (Redis 6379, replicas 8081 and 8082) moved to free ones,
// bounded by redisBlockTimeout, and every process it started killed
// afterwards (the replicas by process group, the daemonized redis-server
// by its pidfile). The other replica must report the new item ok and
// /metrics the Redis figures.
func runRedisBlock(t *testing.T, n int, script, root, bin, work string) {
	redistest.Binary(t)
	for _, port := range []string{"6379", "8081", "8082"} {
		script = regexp.MustCompile(`\b`+port+`\b`).ReplaceAllString(script, strconv.Itoa(freePort(t)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisBlockTimeout)
	defer cancel()
	cmd := osexec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // replicas left by a failed block
		}
		pidfiles, _ := filepath.Glob(filepath.Join(work, "*", "redis.pid"))
		for _, f := range pidfiles {
			if b, err := os.ReadFile(f); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README sh block %d failed after %.1fs: %v\nscript:\n%s\noutput:\n%s", n, time.Since(start).Seconds(), err, script, out)
	}
	for _, want := range []string{`"item_id":9001`, `"status":"ok"`, "ralm_redis_stream_lag 0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("README sh block %d: the output has no %s:\n%s", n, want, out)
		}
	}
	if strings.Contains(string(out), "unknown_item") {
		t.Errorf("README sh block %d: an item is unknown on the other replica:\n%s", n, out)
	}
	t.Logf("block %d (%.1fs):\n%s", n, time.Since(start).Seconds(), out)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// shBlocks returns the bodies of the ```sh fenced blocks of a Markdown text.
func shBlocks(md string) []string {
	var blocks []string
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```").FindAllStringSubmatch(md, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// readmeScript turns a README block into the script the test runs:
// continuation lines joined, skipped lines commented out, readmeScale
// applied and /tmp/ moved to tmp.
func readmeScript(block, tmp string) string {
	block = strings.ReplaceAll(block, "\\\n", " ")
	var lines []string
	for _, line := range strings.Split(block, "\n") {
		trimmed := strings.TrimSpace(line)
		for _, s := range readmeSkip {
			if strings.HasPrefix(trimmed, s.prefix) {
				line = "# skipped (" + s.why + "): " + trimmed
			}
		}
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			for _, s := range readmeScale {
				line = regexp.MustCompile(s.re).ReplaceAllString(line, s.with)
			}
			line = strings.ReplaceAll(line, "/tmp/", tmp)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func TestReadmeScript(t *testing.T) {
	got := readmeScript("go run ./cmd/ralm synth --users 10000 --items 2500 \\\n    --out /tmp/d  # data\ngo test ./...\n", "/x/")
	want := "ralm synth --users 2000 --items 500      --out /x/d  # data\n# skipped (the test suite itself: it would run this test again): go test ./...\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}
