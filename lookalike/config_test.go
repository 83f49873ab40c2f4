package lookalike

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConfigSeedJSON: Seed is an int64 like the user model's; a config
// written when it was a uint64 (a negative seed stored as its uint64 bits)
// decodes to the same seed, and a JSON round trip keeps every value.
func TestConfigSeedJSON(t *testing.T) {
	for _, tc := range []struct {
		json    string
		want    int64
		wantErr string
	}{
		{`{"seed": 7}`, 7, ""},
		{`{"seed": -3}`, -3, ""},
		{`{"seed": 18446744073709551613}`, -3, ""}, // uint64(-3), older models
		{`{"seed": 9223372036854775808}`, -1 << 63, ""},
		{`{"seed": 1.5}`, 0, "not a 64-bit integer"},
		{`{"seed": 18446744073709551616}`, 0, "not a 64-bit integer"},
		{`{"seed": 1, "sed": 2}`, 0, `unknown field "sed"`},
	} {
		cfg := DefaultConfig()
		err := json.Unmarshal([]byte(tc.json), &cfg)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.json, err, tc.wantErr)
			}
			continue
		}
		if err != nil || cfg.Seed != tc.want || cfg.K != DefaultConfig().K {
			t.Errorf("%s: seed %d, K %d, err %v; want seed %d and the other defaults kept", tc.json, cfg.Seed, cfg.K, err, tc.want)
		}
	}
	cfg := DefaultConfig()
	cfg.Seed, cfg.K, cfg.Pooling = -3, 7, PoolingAvg
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if b2, _ := json.Marshal(back); string(b2) != string(b) || !strings.Contains(string(b), `"seed":-3`) {
		t.Errorf("round trip:\n%s\n%s", b, b2)
	}
}
