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
