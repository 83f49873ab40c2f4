package serve

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ralmlab/ralm/data"
	synthdata "github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// TestUpsertUserFromRawFeatures trains both stages on synthetic data, then
// upserts a copy of a training user from its raw users-table values and
// clicked items: the engine must embed it exactly as the user model embedded
// the original.
func TestUpsertUserFromRawFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a user model")
	}
	sc := synthdata.DefaultConfig()
	sc.Users, sc.Items, sc.ClicksPerUser, sc.Communities, sc.Seed = 300, 60, 12, 4, 5
	ds, err := synthdata.Generate(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ralm.DefaultTrainConfig()
	cfg.UserRep.Epochs, cfg.UserRep.Dim, cfg.UserRep.Hidden = 1, 8, []int{16, 8}
	cfg.LookAlike.Epochs, cfg.LookAlike.K = 1, 4
	tr, err := ralm.Train(context.Background(), ralm.TrainData{Clicks: ds.Clicks, Users: ds.Users, Items: ds.Items}, cfg, ralm.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := bundle.Write(dir, tr.Bundle()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := Open(ctx, dir, Options{DataDir: t.TempDir(), MinSeeds: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	const orig = int32(7) // users-table row
	origID := ds.Users.Keys.ID(orig)
	features := map[string]any{}
	for _, col := range ds.Users.Columns {
		switch col.Kind {
		case data.ColumnContinuous:
			features[col.Name] = col.Floats[orig]
		case data.ColumnCategorical, data.ColumnMulti:
			var vals []any
			for _, code := range col.Codes[col.Offsets[orig]:col.Offsets[orig+1]] {
				vals = append(vals, rawValue(col.Values, code))
			}
			if col.Kind == data.ColumnCategorical {
				if len(vals) > 0 {
					features[col.Name] = vals[0]
				}
			} else {
				features[col.Name] = vals
			}
		}
	}
	var clicked []string
	for i := range ds.Clicks.Len() {
		if ds.Clicks.Users.ID(ds.Clicks.User[i]) == origID {
			clicked = append(clicked, ds.Clicks.Items.ID(ds.Clicks.Item[i]))
		}
	}
	if err := e.UpsertUser(ctx, "999999", UserInput{Features: features, Clicked: clicked}); err != nil {
		t.Fatal(err)
	}
	items := []string{ds.Clicks.Items.ID(0), ds.Clicks.Items.ID(1), ds.Clicks.Items.ID(2)}
	a, err := e.Score(ctx, origID, items)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Score(ctx, "999999", items)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i].Score-b[i].Score)) > 1e-5 {
			t.Errorf("item %s: original user scores %v, the same user from raw features %v", items[i], a[i].Score, b[i].Score)
		}
	}
	err = e.UpsertUser(ctx, "999998", UserInput{Features: map[string]any{"no_such_column": 1}})
	if err == nil {
		t.Fatal("unknown feature column accepted")
	}
}

// rawValue is the raw value of a categorical code, typed as in the file.
func rawValue(v *data.Vocab, code int32) any {
	s := v.ID(code)
	if v.Kind() == data.IDInt64 {
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	return s
}
