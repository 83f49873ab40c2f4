package testworld

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/lookalike/coldstart"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// ItemsTable is the items table of s: one categorical column "community"
// ("c0", "c1", …), the community whose users click the item.
func ItemsTable(s *Synth) *data.Table {
	col := data.Column{Name: "community", Kind: data.ColumnCategorical, Values: data.NewVocab(data.IDString), Offsets: []int32{0}}
	for c := range s.NComm {
		col.Values.Add("c" + strconv.Itoa(c))
	}
	for i := 0; i < s.Clicks.Items.Len(); i++ {
		col.Codes = append(col.Codes, int32(i%s.NComm))
		col.Offsets = append(col.Offsets, int32(len(col.Codes)))
	}
	return &data.Table{Keys: s.Clicks.Items.Clone(), Columns: []data.Column{col}}
}

// TrainColdStart trains a small cold-start model on s and its items table,
// with the look-alike model m's negatives (one logit scale).
func TrainColdStart(s *Synth, m *lookalike.Model) (*coldstart.Model, error) {
	t := ItemsTable(s)
	enc, err := coldstart.NewEncoder(t, 0)
	if err != nil {
		return nil, err
	}
	attrs, _, _, err := enc.ForItems(t, s.Clicks.Items)
	if err != nil {
		return nil, err
	}
	clickers := make([][]int32, s.Clicks.Items.Len())
	for i := range s.Clicks.User {
		clickers[s.Clicks.Item[i]] = append(clickers[s.Clicks.Item[i]], s.Clicks.User[i])
	}
	cfg := coldstart.Config{Epochs: 40, Hidden: 16, Dim: 4, Batch: 64, Negatives: m.Config().Negatives, Seed: 1}
	cs, _, err := coldstart.Train(context.Background(), s.Emb.Vecs, s.Emb.Dim, clickers, attrs, enc, cfg, coldstart.TrainOptions{})
	if err != nil {
		return nil, fmt.Errorf("train cold-start: %w", err)
	}
	return cs, nil
}

var smallColdStart = sync.OnceValues(func() (*coldstart.Model, error) {
	f, err := smallFixture()
	if err != nil {
		return nil, err
	}
	return TrainColdStart(f.s, f.m)
})

// SmallColdStart returns the shared cold-start model of the Small world.
func SmallColdStart(tb testing.TB) *coldstart.Model {
	tb.Helper()
	cs, err := smallColdStart()
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// BundleWithColdStart is Bundle with the cold-start model.
func BundleWithColdStart(s *Synth, m *lookalike.Model, cs *coldstart.Model) *bundle.Bundle {
	b := Bundle(s, m)
	b.ColdStart = cs
	return b
}
