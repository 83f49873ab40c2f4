package eval

import (
	"context"
	"fmt"
	"slices"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike/coldstart"
)

// BucketZeroSeed is the report bucket of fresh items scored from their
// attributes alone (no seeds); it appears only when an items table is given.
const BucketZeroSeed = "zero-seed"

// seedFree is implemented by the scorers that score an item without seeds
// (a zero-seed case): activity, popularity and the cold-start model.
type seedFree interface{ SeedFree() bool }

// SeedFree implements seedFree: activity ignores the item.
func (Activity) SeedFree() bool { return true }

func scoresZeroSeed(m Scorer) bool {
	s, ok := m.(seedFree)
	return ok && s.SeedFree()
}

// ZeroSeedCases returns one zero-seed case per fresh item of p that has a
// row in the items table: no seeds, its attributes under enc, and as
// positives all its clickers (seed and held-out parts) that are known users;
// the candidates are then every known user. The clicks share the training
// vocabularies (as in BuildProtocol).
func ZeroSeedCases(p *Protocol, train, freshSeeds, freshHeldout *data.Clicks, enc *coldstart.Encoder, items *data.Table) ([]Case, error) {
	if freshSeeds.Items != train.Items || freshHeldout.Items != train.Items {
		return nil, fmt.Errorf("zero-seed cases: split parts must share the training item vocabulary")
	}
	clickers := map[int32][]int32{}
	for _, c := range []*data.Clicks{freshSeeds, freshHeldout} {
		for k, it := range c.Item {
			if u := c.User[k]; p.TrainClicks[u] > 0 && !slices.Contains(clickers[it], u) {
				clickers[it] = append(clickers[it], u)
			}
		}
	}
	var out []Case
	for _, c := range p.Cases {
		if !c.Fresh || c.ZeroSeed {
			continue
		}
		it, ok := train.Items.Index(c.Item)
		if !ok {
			return nil, fmt.Errorf("zero-seed cases: fresh item %s not in the item vocabulary", c.Item)
		}
		r, ok := items.Keys.Index(c.Item)
		if !ok {
			continue
		}
		a, _, err := enc.Row(items, int(r))
		if err != nil {
			return nil, fmt.Errorf("zero-seed cases: item %s: %w", c.Item, err)
		}
		out = append(out, Case{Item: c.Item, ItemIndex: -1, Fresh: true, ZeroSeed: true, Attrs: a, Positives: clickers[it]})
	}
	return out, nil
}

// Popularity is the per-attribute popularity baseline of the zero-seed
// bucket (coldstart.Popularity over the training clicks).
type Popularity struct{ Baseline *coldstart.Popularity }

// NewPopularity counts the training clicks (user indices of the training
// vocabulary) per attribute value of the items table's training items.
func NewPopularity(train *data.Clicks, enc *coldstart.Encoder, items *data.Table) (*Popularity, error) {
	attrs, _, _, err := enc.ForItems(items, train.Items)
	if err != nil {
		return nil, fmt.Errorf("popularity baseline: %w", err)
	}
	clickers := make([][]int32, train.Items.Len())
	for k, it := range train.Item {
		clickers[it] = append(clickers[it], train.User[k])
	}
	b, err := coldstart.NewPopularity(enc, clickers, attrs)
	if err != nil {
		return nil, err
	}
	return &Popularity{Baseline: b}, nil
}

// Name implements Scorer.
func (*Popularity) Name() string { return "popularity" }

// Scores implements Scorer: zero-seed cases only.
func (*Popularity) Scores(c *Case) bool { return c.ZeroSeed }

// SeedFree implements seedFree.
func (*Popularity) SeedFree() bool { return true }

// Score implements Scorer.
func (m *Popularity) Score(_ context.Context, c *Case, candidates []int32, out []float32) error {
	return m.Baseline.Scores(c.Attrs, candidates, out)
}

// ColdStart scores a zero-seed case with the attribute cold-start model:
// the candidates' raw user embeddings against the item's attributes.
type ColdStart struct {
	Model *coldstart.Model
	Emb   []float32 // raw user embeddings, row-major by user index
}

// Name implements Scorer.
func (ColdStart) Name() string { return "ralm-features" }

// Scores implements Scorer: zero-seed cases only.
func (ColdStart) Scores(c *Case) bool { return c.ZeroSeed }

// SeedFree implements seedFree.
func (ColdStart) SeedFree() bool { return true }

// Score implements Scorer.
func (m ColdStart) Score(_ context.Context, c *Case, candidates []int32, out []float32) error {
	it, err := m.Model.Item(c.Attrs)
	if err != nil {
		return fmt.Errorf("item %s: %w", c.Item, err)
	}
	d := m.Model.Dim()
	vecs := make([]float32, 0, len(candidates)*d)
	for _, u := range candidates {
		vecs = append(vecs, m.Emb[int(u)*d:(int(u)+1)*d]...)
	}
	return m.Model.Logits(vecs, it, out)
}
