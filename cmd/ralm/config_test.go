package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// TestTrainConfig: --print-config writes every flag of ralm train under its
// name; --config reads such a file back; flags override it.
func TestTrainConfig(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, "train", "--print-config")
	var defaults map[string]any
	if err := yaml.Unmarshal([]byte(out), &defaults); err != nil {
		t.Fatalf("--print-config is not YAML: %v\n%s", err, out)
	}
	for _, name := range []string{"clicks", "out", "epochs-user", "epochs-la", "hidden", "merge", "pooling", "k", "valid-la", "log", "seed"} {
		if _, ok := defaults[name]; !ok {
			t.Errorf("--print-config lacks %s", name)
		}
	}
	if _, ok := defaults["config"]; ok {
		t.Error("--print-config holds --config")
	}
	if defaults["merge"] != "gated" {
		t.Errorf("merge default %v", defaults["merge"])
	}

	cfg := filepath.Join(dir, "train.yaml")
	os.WriteFile(cfg, []byte("epochs-user: 3\nhidden: [32, 16]\nmerge: concat\nclicks: data/train.parquet\nvalid-la: 0.1\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want map[string]any
	}{
		{"file", []string{"--config", cfg}, map[string]any{"epochs-user": 3, "hidden": []any{32, 16}, "merge": "concat", "clicks": "data/train.parquet", "valid-la": 0.1, "epochs-la": 40}},
		{"flags override", []string{"--config", cfg, "--epochs-user", "5", "--hidden", "8"}, map[string]any{"epochs-user": 5, "hidden": []any{8}, "merge": "concat"}},
		{"round trip", []string{"--config", cfg, "--seed", "9"}, map[string]any{"seed": 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			if err := yaml.Unmarshal([]byte(mustRun(t, append([]string{"train", "--print-config"}, tc.args...)...)), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if g, w := yamlText(t, got[k]), yamlText(t, v); g != w {
					t.Errorf("%s = %s, want %s", k, g, w)
				}
			}
		})
	}

	for _, tc := range []struct{ name, file, want string }{
		{"unknown key", "epochs-usr: 3\n", `unknown setting "epochs-usr"`},
		{"bad value", "k: many\n", "k: invalid argument"},
		{"not a mapping", "- 1\n- 2\n", "not a YAML mapping"},
		{"key twice", "epochs-user: 3\nk: 4\nepochs-user: 5\n", "epochs-user is set twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			os.WriteFile(p, []byte(tc.file), 0o644)
			code, _, errs := exec(t, "train", "--config", p, "--out", filepath.Join(dir, "m"))
			if code != 1 || !strings.Contains(errs, p) || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want one line naming %s with %q", code, errs, p, tc.want)
			}
		})
	}
}

func yamlText(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestTrainConfigExclusive: flags that exclude each other on the command
// line also do when one or both come from --config; the error says where
// each was set.
func TestTrainConfigExclusive(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	both := write("both.yaml", "epochs: 3\nepochs-la: 4\n")
	one := write("one.yaml", "epochs: 3\n")
	quiet := write("quiet.yaml", "quiet: true\n")
	base := []string{"train", "--clicks", filepath.Join(dir, "missing.parquet"), "--out", filepath.Join(dir, "m")}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"both in the file", []string{"--config", both}, "--epochs (in --config " + both + ") and --epochs-la (in --config " + both + ") cannot be used together"},
		{"file and command line", []string{"--config", one, "--epochs-user", "2"}, "--epochs (in --config " + one + ") and --epochs-user (on the command line) cannot be used together"},
		{"global flags", []string{"--config", quiet, "-v"}, "--quiet (in --config " + quiet + ") and --verbose (on the command line)"},
		{"command line", []string{"--epochs", "3", "--epochs-la", "2"}, "[epochs epochs-la] were all set"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectFailure(t, append(append([]string{}, base...), tc.args...), tc.want) })
	}
	// the same flag in the file and on the command line is no conflict:
	// the command line wins
	out := mustRun(t, "train", "--config", one, "--epochs", "2", "--print-config")
	if !strings.Contains(out, "\nepochs: 2\n") {
		t.Errorf("--epochs 2 over the file's 3:\n%s", out)
	}
}
