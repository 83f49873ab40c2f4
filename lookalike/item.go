package lookalike

// The one look-alike inference path every caller shares (the serving
// engine, offline score/expand and the evaluation): an item's scoring state
// built from its seeds in canonical order (NewItem), one user scored against
// many items (ScoreItems) and the audience scan of one item (Audience), for
// every kind of item: warm, cold (too few seeds) and features (scored from
// its attributes by another model on this model's scale).

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
	// ItemCold items have fewer seeds than the minimum (or were built with
	// ItemOptions.Cold): they are scored by the look-alike model over those
	// few seeds, exactly as a warm item of the same seeds; see Item.
	ItemCold
	// ItemFeatures items are scored by another model from the item's
	// attributes, put on this model's score scale: see NewFeatureItem.
	ItemFeatures
)

// itemStatusNames are the names of the statuses.
var itemStatusNames = []string{ItemWarm: "warm", ItemCold: "cold", ItemFeatures: "features"}

// String names the status ("warm", "cold" or "features").
func (s ItemStatus) String() string { return enum.Name("ItemStatus", s, itemStatusNames) }

// Item is an item's scoring state, built by Model.NewItem from its seeds
// (or by NewFeatureItem from another model's logit).
//
// One score scale for every status. A warm item and a cold one (fewer seeds
// than ItemOptions.MinSeeds) both hold the look-alike ItemState of their
// seeds, built by BuildItem, and both are scored by the look-alike model:
// a cold item's score is the score a warm item of the same seeds would get
// (bit for bit), so its logit a·score + c estimates the same click log-odds
// as a warm item's and the two sort together. Cold only says that the
// estimate rests on few seeds: with one seed the score is the similarity
// to that one user, noisier than a warm item's (the model was trained on
// items with many seeds). A features item's score is another model's click
// logit mapped by ScoreOfLogit onto the same scale.
//
// An Item is immutable and may be shared by any number of goroutines.
type Item struct {
	// Status tells whether the item is warm, cold or features.
	Status ItemStatus
	// Seeds holds the distinct seed rows in canonical order (Users.Compare);
	// the audience scan leaves them out. Do not modify it.
	Seeds []int32
	// State is the look-alike state of a warm or cold item (nil for a
	// features item).
	State *ItemState

	owner *Model
	logit func(user []float32) float32 // a features item's click logit
}

// ItemOptions tune NewItem.
type ItemOptions struct {
	// MinSeeds is the number of distinct seeds below which the item is cold;
	// 0 or 1 makes every item with a seed warm.
	MinSeeds int
	// Prev, a state built earlier for the same item by the same model,
	// warm-starts k-means (see BuildItem); nil clusters from scratch.
	Prev *ItemState
	// Cold marks the item cold whatever the number of seeds (a serving
	// engine's state of an item that awaits its first re-cluster); it is
	// scored as any other item of those seeds.
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
// duplicates allowed): the seeds are put in canonical order (CanonicalSeeds)
// and clustered by BuildItem, for a warm and a cold item alike (a cold item
// only differs by its Status). It fails with ErrNoSeeds for an empty seed list, and for seeds
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
	st, err := m.BuildItem(ctx, vecs, opt.Prev)
	if err != nil {
		return nil, fmt.Errorf("new item: %w", err)
	}
	it := &Item{Status: ItemWarm, Seeds: rows, State: st, owner: m.space()}
	if opt.Cold || len(rows) < opt.MinSeeds {
		it.Status = ItemCold
	}
	return it, nil
}

// NewFeatureItem returns an item with status ItemFeatures scored by another
// model's click logit of the raw user embedding, logit(user), trained at
// this model's negative-sampling ratio (the attribute cold start,
// lookalike/coldstart): its score is ScoreOfLogit(logit(user)), on this
// model's score scale, so that it sorts with warm and cold items by the
// same estimated click log-odds. seeds (rows in canonical order, nil for
// none) are left out of its audience. logit must be safe for concurrent use.
func (m *Model) NewFeatureItem(logit func(user []float32) float32, seeds []int32) *Item {
	return &Item{Status: ItemFeatures, Seeds: seeds, owner: m.space(), logit: logit}
}

// ScoreItems scores one raw user embedding against items of every status
// and writes out[i] for items[i]: a warm or cold item's score equals
// Score's of its State, a features item's is ScoreOfLogit of its logit. A
// nil item, an item built by another model,
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
// one item of any status.
func (m *Model) scoreItemWith(s *scratch, invU float32, user []float32, it *Item) float32 {
	switch {
	case it == nil || it.owner != m.space():
		return float32(math.NaN())
	case it.Status == ItemFeatures:
		return m.ScoreOfLogit(it.logit(user))
	}
	return m.scoreOne(it.State, nil, s, invU)
}

// RestoreItem rebuilds an Item from the parts a store kept of one built by
// NewItem of this model: its state's Centroids and Weights, through
// NewItemState, so its scores are bit-identical to the original's. The item
// is cold when its weights sum to fewer than minSeeds seeds, else warm.
// seeds are the rows an audience scan leaves out (nil for none). It fails
// for centroids NewItemState refuses (none, as a store of an older version
// kept for a cold item, included).
func (m *Model) RestoreItem(centroids, weights []float32, seeds []int32, minSeeds int) (*Item, error) {
	st, err := m.NewItemState(centroids, weights)
	if err != nil {
		return nil, fmt.Errorf("restore item: %w", err)
	}
	it := &Item{Status: ItemWarm, Seeds: seeds, State: st, owner: m.space()}
	if st.Seeds < minSeeds {
		it.Status = ItemCold
	}
	return it, nil
}
