package ralm

import (
	"context"
	"fmt"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/lookalike/coldstart"
)

// ColdStartConfig returns the cold-start network's configuration of a
// pipeline run: cfg.ColdStart with the look-alike stage's number of
// negatives (so that both logits live on one scale, see package coldstart)
// and, when unset, its seed.
func (cfg TrainConfig) ColdStartConfig() coldstart.Config {
	cs := cfg.ColdStart
	neg := cfg.LookAlike.Negatives
	if neg == 0 {
		neg = lookalike.DefaultConfig().Negatives
	}
	cs.Negatives = neg
	if cs.Seed == 0 {
		cs.Seed = cfg.LookAlike.Seed
	}
	return cs
}

// TrainColdStart trains the cold-start network on the items table's
// attributes of the clicked items, every clicker of an item with a row a
// positive (see coldstart.Train). The embeddings must hold every clicking
// user.
func TrainColdStart(ctx context.Context, items *data.Table, clicks *data.Clicks, emb *data.Embeddings, cfg coldstart.Config, opt coldstart.TrainOptions) (*coldstart.Model, *coldstart.TrainReport, error) {
	if items == nil {
		return nil, nil, fmt.Errorf("train cold-start model: no items table")
	}
	enc, err := coldstart.NewEncoder(items, cfg.Bins)
	if err != nil {
		return nil, nil, fmt.Errorf("train cold-start model (disable it with --cold-start=false): %w", err)
	}
	attrs, found, _, err := enc.ForItems(items, clicks.Items)
	if err != nil {
		return nil, nil, fmt.Errorf("train cold-start model: %w", err)
	}
	if found == 0 {
		return nil, nil, fmt.Errorf("train cold-start model: none of the %d clicked items has a row in the items table", clicks.Items.Len())
	}
	clickers, err := ItemClickers(clicks, emb.Users)
	if err != nil {
		return nil, nil, fmt.Errorf("train cold-start model: %w", err)
	}
	m, rep, err := coldstart.Train(ctx, emb.Vecs, emb.Dim, clickers, attrs, enc, cfg, opt)
	if err != nil {
		return nil, nil, err
	}
	return m, rep, nil
}
