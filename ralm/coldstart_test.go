package ralm

import (
	"context"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/lookalike/coldstart"
)

func TestColdStartConfig(t *testing.T) {
	for _, tc := range []struct {
		name           string
		laNeg          int
		laSeed, csSeed int64
		wantNeg        int
		wantSeed       int64
	}{
		{"look-alike defaults", 0, 5, 0, lookalike.DefaultConfig().Negatives, 5},
		{"negatives follow the look-alike stage", 9, 5, 0, 9, 5},
		{"own seed kept", 4, 5, 11, 4, 11},
	} {
		cfg := DefaultTrainConfig()
		cfg.LookAlike.Negatives, cfg.LookAlike.Seed, cfg.ColdStart.Seed = tc.laNeg, tc.laSeed, tc.csSeed
		cfg.ColdStart.Negatives = 77 // overridden: one scale needs the look-alike ratio
		got := cfg.ColdStartConfig()
		if got.Negatives != tc.wantNeg || got.Seed != tc.wantSeed {
			t.Errorf("%s: negatives %d seed %d, want %d and %d", tc.name, got.Negatives, got.Seed, tc.wantNeg, tc.wantSeed)
		}
	}
}

// TestSetSeed: SetSeed seeds every stage, the cold-start network too, even
// when it had a seed of its own.
func TestSetSeed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		csSeed int64 // the cold-start seed before SetSeed
		seed   int64
	}{
		{"defaults", 0, -3},
		{"own cold-start seed replaced", 11, -3},
		{"zero", 11, 0},
	} {
		cfg := DefaultTrainConfig()
		cfg.ColdStart.Seed = tc.csSeed
		cfg.SetSeed(tc.seed)
		if cfg.UserRep.Seed != tc.seed || cfg.LookAlike.Seed != tc.seed || cfg.ColdStartConfig().Seed != tc.seed {
			t.Errorf("%s: SetSeed(%d) gives seeds %d, %d, %d (user model, look-alike, cold start), want %d for all", tc.name, tc.seed,
				cfg.UserRep.Seed, cfg.LookAlike.Seed, cfg.ColdStartConfig().Seed, tc.seed)
		}
	}
}

func TestTrainColdStartErrors(t *testing.T) {
	clicks := &data.Clicks{Users: data.NewVocab(data.IDString), Items: data.NewVocab(data.IDString)}
	clicks.User = append(clicks.User, clicks.Users.MustAdd("u"))
	clicks.Item = append(clicks.Item, clicks.Items.MustAdd("x"))
	clicks.TS = append(clicks.TS, 0)
	emb := &data.Embeddings{Users: clicks.Users, Dim: 2, Vecs: []float32{1, 0}}
	keys := data.NewVocab(data.IDString)
	keys.Add("other")
	col := data.Column{Name: "genre", Kind: data.ColumnCategorical, Values: data.NewVocab(data.IDString), Offsets: []int32{0, 1}}
	col.Codes = []int32{col.Values.MustAdd("drama")}
	for _, tc := range []struct {
		name  string
		items *data.Table
		want  string
	}{
		{"no table", nil, "no items table"},
		{"no feature columns", &data.Table{Keys: keys}, "no feature columns"},
		{"no clicked item in the table", &data.Table{Keys: keys, Columns: []data.Column{col}}, "none of the 1 clicked items"},
	} {
		_, _, err := TrainColdStart(context.Background(), tc.items, clicks, emb, DefaultTrainConfig().ColdStartConfig(), coldstartOpts())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func coldstartOpts() (o coldstart.TrainOptions) { return }
