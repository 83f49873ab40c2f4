package main

import (
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/buildinfo"
)

// TestStampedVersion builds ralm the two ways the README gives and checks
// that `ralm version`, `ralm --version` and the manifest of a model folder
// it trains carry the stamped version, not "(devel)":
//
//   - "go install": the README's line `go install
//     github.com/ralmlab/ralm/cmd/ralm@latest`, run against a file module
//     proxy (GOPROXY=file://...) that serves this commit under a made-up
//     version unique to the run, with no checksum database, so no network
//     is needed; the version is removed from the module cache afterwards.
//   - "go build in a git checkout": a clean clone of HEAD, built with
//     -buildvcs=true; the version is the pseudo-version of HEAD and the
//     revision HEAD's.
//
// Both build the committed HEAD, not uncommitted changes. GOFLAGS: this
// environment may set -buildvcs=false (go test and the README test then
// report "(devel)"); the checkout build passes -buildvcs=true on the
// command line, which overrides GOFLAGS, and builds in a clone because the
// go command stamps nothing in a git worktree (.git a file). It needs git;
// -short skips it (two builds, a minute or two).
func TestStampedVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ralm twice (a minute or two); skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := osexec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	rev, err := gitOut(root, "rev-parse", "HEAD")
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	mustRun(t, "synth", "--users", "200", "--items", "60", "--clicks-per-user", "10", "--communities", "3", "--out", data, "-q")

	t.Run("go install", func(t *testing.T) {
		version := fmt.Sprintf("v0.0.1-stamptest.%d", time.Now().UnixNano())
		proxy := filepath.Join(tmp, "proxy")
		writeModuleProxy(t, root, rev, proxy, version)
		modcache, err := goEnv("GOMODCACHE")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dropFromModCache(t, modcache, version) })
		gobin := filepath.Join(tmp, "gobin")
		install := osexec.Command("go", "install", buildinfo.ModulePath+"/cmd/ralm@latest")
		install.Dir = tmp // outside the module: the same as a user's shell
		install.Env = append(os.Environ(),
			// only the file proxy, then the module cache's downloads (the
			// dependencies), and no checksum database: never the network
			// (the dependencies in the cache were verified when downloaded)
			"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(filepath.Join(modcache, "cache", "download")),
			"GOSUMDB=off", "GOFLAGS=-modcacherw", "GOWORK=off", "GOBIN="+gobin)
		if out, err := install.CombinedOutput(); err != nil {
			t.Fatalf("go install ...@latest: %v\n%s", err, out)
		}
		in := checkBinaryVersion(t, filepath.Join(gobin, "ralm"), data)
		if in.Version != version {
			t.Errorf("installed ralm reports version %q, want %q", in.Version, version)
		}
	})

	t.Run("go build in a git checkout", func(t *testing.T) {
		clone := filepath.Join(tmp, "clone")
		if _, err := gitOut(tmp, "clone", "-q", "--shared", "--no-checkout", root, clone); err != nil {
			t.Fatal(err)
		}
		if _, err := gitOut(clone, "checkout", "-q", "--detach", rev); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(tmp, "built", "ralm")
		build := osexec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/ralm")
		build.Dir = clone
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
		}
		in := checkBinaryVersion(t, bin, data)
		tags, _ := gitOut(clone, "tag", "--points-at", rev)
		tagged := tags != "" && strings.Contains("\n"+tags+"\n", "\n"+in.Version+"\n")
		if !tagged && (!strings.HasPrefix(in.Version, "v") || !strings.HasSuffix(in.Version, "-"+rev[:12])) {
			t.Errorf("checkout build reports version %q, want the pseudo-version of %s (v...-%s)", in.Version, rev, rev[:12])
		}
		if in.Revision != rev || in.Modified {
			t.Errorf("checkout build reports revision %q (modified %v), want %s unmodified", in.Revision, in.Modified, rev)
		}
	})
}

// checkBinaryVersion runs bin's `version -o json`, `version` and
// `--version`, trains a tiny model on the synthetic data in data, and
// checks that all of them agree on a version that is not "(devel)". It
// returns what `version -o json` reported.
func checkBinaryVersion(t *testing.T, bin, data string) buildinfo.Info {
	t.Helper()
	ralm := func(args ...string) string {
		t.Helper()
		out, err := osexec.Command(bin, args...).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*osexec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("ralm %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return string(out)
	}
	var in buildinfo.Info
	if err := json.Unmarshal([]byte(ralm("version", "-o", "json")), &in); err != nil {
		t.Fatalf("version -o json: %v", err)
	}
	if in.Version == "" || in.Version == buildinfo.Devel || in.GoVersion == "" {
		t.Fatalf("version -o json = %+v, want a stamped module version", in)
	}
	line := ralm("version")
	if line != in.String()+"\n" || !strings.HasPrefix(line, "ralm "+in.Version+" (") {
		t.Errorf("ralm version = %q, want %q", line, in.String())
	}
	if v := ralm("--version"); v != line {
		t.Errorf("ralm --version = %q, want %q", v, line)
	}
	model := filepath.Join(filepath.Dir(bin), "model")
	ralm(append([]string{"train", "-q", "--clicks", filepath.Join(data, clicksFile), "--out", model}, tinyTrain...)...)
	if got := manifestVersion(t, model); got != in.Version {
		t.Errorf("manifest module_version %q, want %q (what ralm version reports)", got, in.Version)
	}
	return in
}

// writeModuleProxy lays out a file module proxy in dir serving the ralm
// module at commit rev as version (its only version, so @latest resolves
// to it): @v/list, .info, .mod and the module zip made by git archive.
func writeModuleProxy(t *testing.T, root, rev, dir, version string) {
	t.Helper()
	vdir := filepath.Join(dir, filepath.FromSlash(buildinfo.ModulePath), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	ct, err := gitOut(root, "log", "-1", "--format=%ct", rev)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		t.Fatalf("commit time %q: %v", ct, err)
	}
	info, _ := json.Marshal(struct{ Version, Time string }{version, time.Unix(sec, 0).UTC().Format(time.RFC3339)})
	gomod, err := gitOut(root, "show", rev+":go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"list": version + "\n", version + ".info": string(info), version + ".mod": gomod + "\n"} {
		if err := os.WriteFile(filepath.Join(vdir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	zip := filepath.Join(vdir, version+".zip")
	if _, err := gitOut(root, "archive", "--format=zip", "--prefix="+buildinfo.ModulePath+"@"+version+"/", "-o", zip, rev); err != nil {
		t.Fatal(err)
	}
}

// dropFromModCache removes version of the ralm module from the module
// cache: its extracted folder and its downloads (the version is unique to
// the run, so nothing else uses it).
func dropFromModCache(t *testing.T, modcache, version string) {
	if err := os.RemoveAll(filepath.Join(modcache, filepath.FromSlash(buildinfo.ModulePath)+"@"+version)); err != nil {
		t.Errorf("module cache: %v", err)
	}
	os.Remove(filepath.Join(modcache, filepath.Dir(filepath.FromSlash(buildinfo.ModulePath)))) // if it held only that
	dl := filepath.Join(modcache, "cache", "download", filepath.FromSlash(buildinfo.ModulePath), "@v")
	files, _ := filepath.Glob(filepath.Join(dl, version+".*"))
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Errorf("module cache: %v", err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dl, "list")); err == nil {
		var keep []string
		for _, v := range strings.Fields(string(b)) {
			if v != version {
				keep = append(keep, v)
			}
		}
		if len(keep) == 0 {
			os.Remove(filepath.Join(dl, "list"))
		} else {
			os.WriteFile(filepath.Join(dl, "list"), []byte(strings.Join(keep, "\n")+"\n"), 0o644)
		}
	}
	// the folders, if the test's version was all they held
	for d := dl; d != filepath.Join(modcache, "cache", "download"); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
}

// gitOut runs git in dir and returns its trimmed output.
func gitOut(dir string, args ...string) (string, error) {
	cmd := osexec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*osexec.ExitError); ok {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// goEnv returns `go env name`.
func goEnv(name string) (string, error) {
	out, err := osexec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}
