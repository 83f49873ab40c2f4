package lookalike

// The one look-alike inference path every caller shares (the serving
// engine, offline score/expand and the evaluation): an item's scoring state
// built from its seeds in canonical order (NewItem), one user scored against
// many items (ScoreItems), the audience scan of one item (Audience), and the
// cold fallback for items with too few seeds.

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/ralmlab/ralm/internal/enum"
)

// Users gives the inference path read access to a table of user embeddings
// indexed by row 0..Len()-1 and to the external id order of the rows.
// Implementations must be safe for concurrent reads.
type Users interface {
	// Len is the number of rows.
	Len() int
	// Vec returns row u's embedding (Dim values); callers do not modify it.
	Vec(u int32) []float32
	// Compare orders two rows by their external ids (int64 ids as numbers,
	// string ids byte-wise; see data.Vocab.Compare): negative if a comes
	// first. It is the canonical seed order and the audience tie order.
	Compare(a, b int32) int
}

// UserRows is a Users over a row-major matrix of embeddings.
type UserRows struct {
	// Vecs holds the embeddings, row-major (n×Dim).
	Vecs []float32
	// Dim is the width of a row.
	Dim int
	// Order compares two rows by external id; nil means row order (for rows
	// already numbered in id order).
	Order func(a, b int32) int
}

// Len implements Users.
func (r UserRows) Len() int {
	if r.Dim <= 0 {
		return 0
	}
	return len(r.Vecs) / r.Dim
}

// Vec implements Users.
func (r UserRows) Vec(u int32) []float32 {
	return r.Vecs[int(u)*r.Dim : (int(u)+1)*r.Dim : (int(u)+1)*r.Dim]
}

// Compare implements Users.
func (r UserRows) Compare(a, b int32) int {
	if r.Order != nil {
		return r.Order(a, b)
	}
	return int(a) - int(b)
}

// ItemStatus says how an Item scores users.
type ItemStatus uint8

// Item statuses.
const (
	// ItemWarm items are scored by the look-alike model.
	ItemWarm ItemStatus = iota + 1
	// ItemCold items have fewer seeds than the minimum and are scored by the
	// cold fallback: see Item.
	ItemCold
)

// itemStatusNames are the names of the statuses.
var itemStatusNames = []string{ItemWarm: "warm", ItemCold: "cold"}

// String names the status ("warm" or "cold").
func (s ItemStatus) String() string { return enum.Name("ItemStatus", s, itemStatusNames) }

// Item is an item's scoring state, built by Model.NewItem from its seeds.
//
// A warm item holds the look-alike ItemState of its seeds. A cold item (fewer
// seeds than ItemOptions.MinSeeds) is scored by the cold fallback, the one
// definition of it in the project: the cosine between the raw user embedding
// and the mean of the seeds' raw embeddings, computed in float64 (0 for a
// zero user or a zero mean) and rounded to float32.
//
// An Item is immutable and may be shared by any number of goroutines.
type Item struct {
	// Status tells whether the item is warm or cold.
	Status ItemStatus
	// Seeds holds the distinct seed rows in canonical order (Users.Compare);
	// the audience scan leaves them out. Do not modify it.
	Seeds []int32
	// State is the look-alike state of a warm item (nil for a cold one).
	State *ItemState

	owner *Model
	mean  []float32 // unit-length mean raw seed embedding (cold items)
}

// ItemOptions tune NewItem.
type ItemOptions struct {
	// MinSeeds is the number of distinct seeds below which the item is cold;
	// 0 or 1 makes every item with a seed warm.
	MinSeeds int
	// Prev, a state built earlier for the same item by the same model,
	// warm-starts k-means (see BuildItem); nil clusters from scratch.
	Prev *ItemState
	// Cold forces the cold fallback whatever the number of seeds (a serving
	// engine scores a new item this way until its first re-cluster).
	Cold bool
}

// CanonicalSeeds returns the distinct rows of seeds sorted by external id
// (users.Compare): the canonical order NewItem clusters seeds in, so that the
// same seed set gives the same centroids wherever it comes from. It fails
// for a row out of range.
func CanonicalSeeds(users Users, seeds []int32) ([]int32, error) {
	n := users.Len()
	out := slices.Clone(seeds)
	for i, u := range out {
		if u < 0 || int(u) >= n {
			return nil, fmt.Errorf("seed %d: user row %d out of range [0,%d)", i, u, n)
		}
	}
	slices.SortFunc(out, func(a, b int32) int {
		if a == b {
			return 0
		}
		return users.Compare(a, b)
	})
	return slices.Compact(out), nil
}

// NewItem builds an item's scoring state from its seed rows (in any order,
// duplicates allowed): the seeds are put in canonical order (CanonicalSeeds),
// then a warm item is clustered by BuildItem and a cold one gets the mean of
// its seeds. It fails with ErrNoSeeds for an empty seed list, and for seeds
// out of range or with embeddings of the wrong width.
func (m *Model) NewItem(ctx context.Context, users Users, seeds []int32, opt ItemOptions) (*Item, error) {
	rows, err := CanonicalSeeds(users, seeds)
	if err != nil {
		return nil, fmt.Errorf("new item: %w", err)
	}
	if len(rows) == 0 {
		return nil, ErrNoSeeds
	}
	vecs := make([]float32, 0, len(rows)*m.d)
	for _, u := range rows {
		v := users.Vec(u)
		if len(v) != m.d {
			return nil, fmt.Errorf("new item: user row %d has %d values, the model's embeddings have %d", u, len(v), m.d)
		}
		vecs = append(vecs, v...)
	}
	it := &Item{Seeds: rows, owner: m.space()}
	if opt.Cold || len(rows) < opt.MinSeeds {
		it.Status = ItemCold
		it.mean = unitMean(vecs, m.d)
		return it, nil
	}
	st, err := m.BuildItem(ctx, vecs, opt.Prev)
	if err != nil {
		return nil, fmt.Errorf("new item: %w", err)
	}
	it.Status, it.State = ItemWarm, st
	return it, nil
}

// unitMean returns the unit-length mean of the rows of vecs (n×d), all
// zeros if the mean is zero.
func unitMean(vecs []float32, d int) []float32 {
	acc := make([]float64, d)
	for i := 0; i+d <= len(vecs); i += d {
		for j, x := range vecs[i : i+d] {
			acc[j] += float64(x)
		}
	}
	var nn float64
	for _, x := range acc {
		nn += x * x
	}
	out := make([]float32, d)
	if nn == 0 {
		return out
	}
	inv := 1 / math.Sqrt(nn)
	for j, x := range acc {
		out[j] = float32(x * inv)
	}
	return out
}

// coldScore is the cold fallback: cos(user, mean) for a unit-length mean;
// NaN for a user with non-finite values, 0 for a zero user.
func coldScore(user, mean []float32) float32 {
	var dot, nn float64
	for j, x := range user {
		if !finite32(x) {
			return float32(math.NaN())
		}
		dot += float64(x) * float64(mean[j])
		nn += float64(x) * float64(x)
	}
	if nn == 0 {
		return 0
	}
	return float32(dot / math.Sqrt(nn))
}

// ScoreItems scores one raw user embedding against items, warm and cold,
// and writes out[i] for items[i]: a warm item's score equals Score's, a cold
// item's is the cold fallback. A nil item, an item built by another model,
// or a user of the wrong length or with non-finite values scores NaN. Only
// min(len(items), len(out)) scores are written. Safe for concurrent use.
func (m *Model) ScoreItems(user []float32, items []*Item, out []float32) {
	scoreAll(m, user, items, out, itemK, scoreItemAt)
}

func itemK(it *Item) int {
	if it == nil || it.State == nil {
		return 0
	}
	return it.State.K
}

func scoreItemAt(m *Model, s *scratch, invU float32, user []float32, items []*Item, i int) float32 {
	return m.scoreItemWith(s, invU, user, items[i])
}

// scoreItemWith scores the user prepared in s (raw embedding user) against
// one item, warm or cold.
func (m *Model) scoreItemWith(s *scratch, invU float32, user []float32, it *Item) float32 {
	switch {
	case it == nil || it.owner != m.space():
		return float32(math.NaN())
	case it.Status == ItemCold:
		return coldScore(user, it.mean)
	}
	return m.scoreOne(it.State, nil, s, invU)
}

// Mean returns a cold item's unit-length mean raw seed embedding, the state
// of the cold fallback (nil for a warm item). Do not modify it.
func (it *Item) Mean() []float32 { return it.mean }

// RestoreItem rebuilds an Item from the parts a store kept of one built by
// NewItem of this model: a warm item from its state's Centroids and Weights
// (through NewItemState, so its scores are bit-identical to the original's),
// a cold one (no centroids) from its Mean. seeds are the rows an audience
// scan leaves out (nil for none). It fails for a mean of the wrong width or
// centroids NewItemState refuses.
func (m *Model) RestoreItem(centroids, weights, mean []float32, seeds []int32) (*Item, error) {
	it := &Item{Seeds: seeds, owner: m.space()}
	if len(centroids) == 0 {
		if len(mean) != m.d {
			return nil, fmt.Errorf("restore item: mean has %d values, the model's embeddings have %d", len(mean), m.d)
		}
		it.Status, it.mean = ItemCold, mean
		return it, nil
	}
	st, err := m.NewItemState(centroids, weights)
	if err != nil {
		return nil, fmt.Errorf("restore item: %w", err)
	}
	it.Status, it.State = ItemWarm, st
	return it, nil
}
