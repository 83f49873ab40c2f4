package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ralmlab/ralm/ralm/bundle"
)

// TestSeedBothStages: one --seed value (negative ones too) seeds both
// stages, is recorded as the same number in both configs of the manifest,
// and gives byte-identical model folders, from the flag or from --config.
func TestSeedBothStages(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "synth", "--users", "200", "--items", "60", "--clicks-per-user", "10", "--communities", "3", "--out", dir, "-q")
	cfg := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(cfg, []byte("seed: -3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	train := func(out string, extra ...string) string {
		m := filepath.Join(dir, out)
		args := []string{"train", "-q", "--clicks", filepath.Join(dir, clicksFile), "--out", m}
		for i := 0; i < len(tinyTrain); i += 2 {
			if tinyTrain[i] != "--seed" {
				args = append(args, tinyTrain[i], tinyTrain[i+1])
			}
		}
		mustRun(t, append(args, extra...)...)
		return m
	}
	ref := train("flag", "--seed", "-3")
	for _, tc := range []struct {
		name  string
		extra []string
		same  bool
	}{
		{"again", []string{"--seed", "-3"}, true},
		{"config file", []string{"--config", cfg}, true},
		{"other seed", []string{"--seed", "4"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := train(tc.name, tc.extra...)
			same := true
			for _, f := range []string{bundle.ManifestFile, "userrep.model", "lookalike.model", "embeddings.parquet", "seeds.parquet"} {
				a, err1 := os.ReadFile(filepath.Join(ref, f))
				b, err2 := os.ReadFile(filepath.Join(m, f))
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				same = same && bytes.Equal(a, b)
			}
			if same != tc.same {
				t.Errorf("model folder byte-identical to --seed -3: %v, want %v", same, tc.same)
			}
		})
	}
	var man struct {
		UserRep   struct{ Seed *int64 } `json:"userrep_config"`
		LookAlike struct{ Seed *int64 } `json:"lookalike_config"`
	}
	b, err := os.ReadFile(filepath.Join(ref, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	if man.UserRep.Seed == nil || man.LookAlike.Seed == nil || *man.UserRep.Seed != -3 || *man.LookAlike.Seed != -3 {
		t.Errorf("manifest seeds %v and %v, want -3 for both stages", man.UserRep.Seed, man.LookAlike.Seed)
	}
}
