package userrep

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/shard"
)

// Model is a trained user model. Inference is plain Go (no graph); every
// method is safe for concurrent use.
type Model struct {
	lay   *layout
	p     *params[float32]
	fb    FeatureBuilder
	items *data.Vocab
	nets  sync.Pool // *net[float32] at capacity embedChunk
}

// embedChunk is the number of users embedded per forward pass.
const embedChunk = 64

// newModel wraps trained float32 parameters. The item vocabulary is the
// feature builder's (if it has an Items method) or else items.
func newModel(p *params[float32], fb FeatureBuilder, items *data.Vocab) (*Model, error) {
	if iv, ok := fb.(interface{ Items() *data.Vocab }); ok && iv.Items() != nil {
		items = iv.Items()
	}
	if items == nil || items.Len() != p.lay.nItems {
		n := -1
		if items != nil {
			n = items.Len()
		}
		return nil, fmt.Errorf("userrep: item vocabulary has %d ids, model has %d item vectors", n, p.lay.nItems)
	}
	m := &Model{lay: p.lay, p: p, fb: fb, items: items}
	m.nets.New = func() any { return newNet[float32](m.lay, embedChunk) }
	return m, nil
}

// Config returns the configuration the model was trained with.
func (m *Model) Config() Config {
	c := m.lay.cfg
	c.Hidden = append([]int(nil), c.Hidden...)
	return c
}

// Fields returns the input fields the model expects (a copy).
func (m *Model) Fields() []data.Field { return append([]data.Field(nil), m.lay.fields...) }

// Features returns the feature builder the model was trained with (after
// Load: the decoded *data.FeatureSet, or nil if the model was saved with a
// builder that cannot be serialised).
func (m *Model) Features() FeatureBuilder { return m.fb }

// Dim is the dimension of the user embeddings and item vectors.
func (m *Model) Dim() int { return m.lay.d }

// Items is the item vocabulary: row i of ItemVectors is item Items().ID(i).
// Do not modify it.
func (m *Model) Items() *data.Vocab { return m.items }

// ItemVectors returns the output item vectors, Items().Len() rows of Dim()
// values, row-major. A user's score for item i is the dot product of the
// user embedding with row i. The slice is shared: do not modify it.
func (m *Model) ItemVectors() []float32 { return m.p.out }

// ItemBias returns the fixed per-item score offset (Items().Len() values):
// a user's score for item i, an estimate of log p(i | user) up to a
// constant, is user·item_vector_i + ItemBias()[i]. It is log q(i), the
// log-uniform sampling probability of the item's training frequency rank,
// for a model trained without the LogQ correction (whose logits estimate
// log p − log q), and zero otherwise. It does not change how one item ranks
// users. The slice is shared: do not modify it.
func (m *Model) ItemBias() []float32 { return m.p.bias }

// Embed returns the embedding (Dim() values) of one user's features. Bag ids
// outside a field's vocabulary are an error.
func (m *Model) Embed(ft *data.Features) ([]float32, error) {
	if ft == nil {
		return nil, errors.New("userrep: nil features")
	}
	out := make([]float32, m.lay.d)
	if err := m.embedChunk([]data.Features{*ft}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// FieldAttention returns the attention weights over the fields (in Fields()
// order) that the merge layer gives one user's features: Heads() blocks of
// len(Fields()) weights summing to 1 each. It returns nil for the concat
// merge, which has no attention.
func (m *Model) FieldAttention(ft *data.Features) ([]float32, error) {
	l := m.lay
	if ft == nil {
		return nil, errors.New("userrep: nil features")
	}
	if !l.attW1.valid() {
		return nil, nil
	}
	nt := m.nets.Get().(*net[float32])
	defer m.nets.Put(nt)
	nt.use(1)
	if err := m.p.pool(ft, nt.in, l.m); err != nil {
		return nil, err
	}
	nt.forward(m.p, nt.in)
	out := make([]float32, l.heads*l.F)
	for f := 0; f < l.F; f++ {
		for h := 0; h < l.heads; h++ {
			out[h*l.F+f] = nt.a[f*l.heads+h]
		}
	}
	return out, nil
}

// embedChunk embeds len(fts) ≤ embedChunk users into dst (len(fts)·Dim()).
func (m *Model) embedChunk(fts []data.Features, dst []float32) error {
	l := m.lay
	nt := m.nets.Get().(*net[float32])
	defer m.nets.Put(nt)
	n := len(fts)
	nt.use(n)
	x := nt.in
	for b := range fts {
		if err := m.p.pool(&fts[b], x[b*l.m:], n*l.m); err != nil {
			return err
		}
	}
	copy(dst, nt.forward(m.p, x))
	return nil
}

// EmbedBatch embeds every entry of fts into dst (len(fts)·Dim() values,
// row-major) using up to GOMAXPROCS goroutines. The result is the same for
// any number of goroutines.
func (m *Model) EmbedBatch(ctx context.Context, fts []data.Features, dst []float32) error {
	d := m.lay.d
	if len(dst) != len(fts)*d {
		return fmt.Errorf("userrep: embed batch: dst has %d values, want %d", len(dst), len(fts)*d)
	}
	return shard.Chunks(ctx, "userrep: embed batch", len(fts), embedChunk, func() func(lo, hi int) error {
		return func(lo, hi int) error {
			if err := m.embedChunk(fts[lo:hi], dst[lo*d:hi*d]); err != nil {
				return fmt.Errorf("userrep: embed user %d..%d: %w", lo, hi-1, err)
			}
			return nil
		}
	})
}

// EmbedUsers embeds every user of clicks with at least one click, from all
// of the user's clicks, with the model's feature builder. Clicks on items
// the model does not know are ignored (a user with only such clicks is
// embedded from the user features alone); item ids are matched by external
// id when clicks uses another item vocabulary than Items(). The result has
// one row per such user, in clicks.Users index order, under a new user
// vocabulary.
func (m *Model) EmbedUsers(ctx context.Context, clicks *data.Clicks) (*data.Embeddings, error) {
	if m.fb == nil {
		return nil, errors.New("userrep: model has no feature builder")
	}
	return m.EmbedUsersWith(ctx, m.fb, clicks)
}

// EmbedUsersWith is EmbedUsers with another feature builder (e.g. the
// model's feature set with a different users table); it must have the
// model's fields.
func (m *Model) EmbedUsersWith(ctx context.Context, fb FeatureBuilder, clicks *data.Clicks) (*data.Embeddings, error) {
	if fb == nil {
		return nil, errors.New("userrep: nil feature builder")
	}
	if err := sameFields(m.lay.fields, fb.Fields()); err != nil {
		return nil, err
	}
	if clicks == nil || clicks.Users == nil || clicks.Items == nil {
		return nil, errors.New("userrep: nil clicks")
	}
	nu := clicks.Users.Len()
	active := make([]bool, nu)
	for k, u := range clicks.User {
		if u < 0 || int(u) >= nu {
			return nil, fmt.Errorf("userrep: click %d: user index %d out of range [0,%d)", k, u, nu)
		}
		active[u] = true
	}
	mapped, err := m.mapItems(clicks)
	if err != nil {
		return nil, err
	}
	users, err := prepareClicks(mapped, 0)
	if err != nil {
		return nil, err
	}
	out := &data.Embeddings{Users: data.NewVocab(clicks.Users.Kind()), Dim: m.lay.d}
	var idx []int32
	for u := range users {
		if active[u] {
			idx = append(idx, int32(u))
			if _, err := out.Users.Add(clicks.Users.ID(int32(u))); err != nil {
				return nil, fmt.Errorf("userrep: embed users: %w", err)
			}
		}
	}
	out.Vecs = make([]float32, len(idx)*m.lay.d)
	if err := m.buildAndEmbed(ctx, fb, clicks.Users, users, idx, out.Vecs); err != nil {
		return nil, err
	}
	return out, nil
}

// buildAndEmbed builds the features of users idx and embeds them into dst,
// one chunk of embedChunk users at a time on each of up to GOMAXPROCS
// goroutines (feature building included, so fb must be safe for concurrent
// use, as *data.FeatureSet is). Every row depends on its user alone, so the
// result does not depend on the number of goroutines.
func (m *Model) buildAndEmbed(ctx context.Context, fb FeatureBuilder, vocab *data.Vocab, users []userClicks, idx []int32, dst []float32) error {
	d := m.lay.d
	return shard.Chunks(ctx, "userrep: embed users", len(idx), embedChunk, func() func(lo, hi int) error {
		fts := make([]data.Features, embedChunk)
		return func(lo, hi int) error {
			for i, u := range idx[lo:hi] {
				fb.Build(vocab.ID(u), users[u].train, &fts[i])
			}
			if err := m.embedChunk(fts[:hi-lo], dst[lo*d:hi*d]); err != nil {
				return fmt.Errorf("userrep: embed user %d..%d: %w", lo, hi-1, err)
			}
			return nil
		}
	})
}

// mapItems returns clicks with item indices of the model's vocabulary,
// dropping clicks on unknown items.
func (m *Model) mapItems(c *data.Clicks) (*data.Clicks, error) {
	if c.Items == m.items {
		return c, nil
	}
	remap := make([]int32, c.Items.Len())
	for i := range remap {
		remap[i] = -1
		if j, ok := m.items.Index(c.Items.ID(int32(i))); ok {
			remap[i] = j
		}
	}
	out := &data.Clicks{Users: c.Users, Items: m.items}
	for k, it := range c.Item {
		if it < 0 || int(it) >= len(remap) {
			return nil, fmt.Errorf("userrep: click %d: item index %d out of range", k, it)
		}
		if j := remap[it]; j >= 0 {
			out.User = append(out.User, c.User[k])
			out.Item = append(out.Item, j)
			if c.TS != nil {
				out.TS = append(out.TS, c.TS[k])
			}
		}
	}
	return out, nil
}

// sameFields reports an error if two field lists differ.
func sameFields(want, got []data.Field) error {
	if len(want) != len(got) {
		return fmt.Errorf("userrep: feature builder has %d fields, model has %d", len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Errorf("userrep: field %d: feature builder has %+v, model has %+v", i, got[i], want[i])
		}
	}
	return nil
}
