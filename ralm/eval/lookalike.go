package eval

import (
	"cmp"
	"context"
	"fmt"

	"github.com/ralmlab/ralm/lookalike"
)

// LookAlike scores candidates with a trained look-alike model through the
// look-alike inference path the serving engine and offline scoring share:
// each item's state is built by lookalike.Model.NewItem from its seeds in
// canonical (user id) order, then every candidate is scored against it. The
// model always scores (the protocol's seeds are at least 10, so no cold
// fallback applies).
type LookAlike struct {
	ModelName string           // "ralm", "ralm-avg" or "ralm-paper"
	Model     *lookalike.Model // the trained model
	Emb       []float32        // raw user embeddings, row-major by user index
	// TieRank gives each user index its position in user id order (as
	// Universe.TieRank); nil means the indices are in id order.
	TieRank []int32
	// Builder, when set, builds the item states Model scores: the model a
	// Paper view was taken of, whose states the view scores as they are
	// (the same transformed space), so that within one Evaluate the two
	// cluster each item's seeds once. nil means Model.
	Builder *lookalike.Model
}

// itemMemoKey is the context key of the look-alike items built for the case
// being scored (an itemMemo).
type itemMemoKey struct{}

// itemMemo holds the look-alike items built for one case, by the model
// that built them; one goroutine scores a case, so it needs no lock.
type itemMemo map[*lookalike.Model]*lookalike.Item

// withItemMemo returns ctx with an empty itemMemo for one case.
func withItemMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, itemMemoKey{}, itemMemo{})
}

// Name implements Scorer.
func (m LookAlike) Name() string { return m.ModelName }

// Scores implements Scorer.
func (LookAlike) Scores(*Case) bool { return true }

// Score implements Scorer.
func (m LookAlike) Score(ctx context.Context, c *Case, candidates []int32, out []float32) error {
	d := m.Model.Dim()
	users := lookalike.UserRows{Vecs: m.Emb, Dim: d}
	if m.TieRank != nil {
		users.Order = func(a, b int32) int { return cmp.Compare(m.TieRank[a], m.TieRank[b]) }
	}
	builder := cmp.Or(m.Builder, m.Model)
	memo, _ := ctx.Value(itemMemoKey{}).(itemMemo)
	it := memo[builder]
	if it == nil {
		var err error
		if it, err = builder.NewItem(ctx, users, c.Seeds, lookalike.ItemOptions{}); err != nil {
			return fmt.Errorf("build item %s: %w", c.Item, err)
		}
		if memo != nil {
			memo[builder] = it
		}
	}
	vecs := make([]float32, 0, len(candidates)*d)
	for _, u := range candidates {
		vecs = append(vecs, users.Vec(u)...)
	}
	m.Model.ScoreUsers(vecs, it.State, out)
	return nil
}
