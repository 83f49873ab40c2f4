package eval

import (
	"context"
	"fmt"

	"github.com/ralmlab/ralm/lookalike"
)

// LookAlike scores candidates with a trained look-alike model: each item's
// state is built from its seeds' embeddings (transform and k-means, as the
// serving engine does), then every candidate is scored against it.
type LookAlike struct {
	ModelName string           // "ralm", "ralm-avg" or "ralm-paper"
	Model     *lookalike.Model // the trained model
	Emb       []float32        // raw user embeddings, row-major by user index
}

// Name implements Scorer.
func (m LookAlike) Name() string { return m.ModelName }

// Scores implements Scorer.
func (LookAlike) Scores(*Case) bool { return true }

// Score implements Scorer.
func (m LookAlike) Score(ctx context.Context, c *Case, candidates []int32, out []float32) error {
	d := m.Model.Dim()
	seeds := make([]float32, 0, len(c.Seeds)*d)
	for _, s := range c.Seeds {
		seeds = append(seeds, m.Emb[int(s)*d:(int(s)+1)*d]...)
	}
	st, err := m.Model.BuildItem(ctx, seeds, nil)
	if err != nil {
		return fmt.Errorf("build item %s: %w", c.Item, err)
	}
	users := make([]float32, 0, len(candidates)*d)
	for _, u := range candidates {
		users = append(users, m.Emb[int(u)*d:(int(u)+1)*d]...)
	}
	m.Model.ScoreUsers(users, st, out)
	return nil
}
