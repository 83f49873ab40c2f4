package serve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/lookalike/coldstart"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// The attribute cold start: an item with attributes (SetItemAttributes,
// POST /v1/items) and fewer than MinSeeds seeds, or none yet, is scored by
// the model folder's cold-start network with status features instead of
// cold or unknown_item. Its score is put on the look-alike score scale
// (coldstart.Model.LookAlikeItem: lookalike.Model.ScoreOfLogit of the
// network's logit) and scored by the one scorer of every status
// (lookalike.Model.ScoreItems and Audience), so that for one user a
// features score and an ok or cold score compare as click log-odds under
// the same training: a features item never outranks an ok item only
// because it is scored by another model. Offline scoring
// (ralm/offline) builds the same item from an items table.

// ErrNoColdStart is returned (as an *InputError) when attributes are given
// but the model folder has no cold-start model.
var ErrNoColdStart = errors.New("the model folder has no cold-start model (train with an items table and --cold-start)")

// ErrNoAttrStore is returned when the engine's store does not implement
// AttrStore, so attributes could not be kept across restarts.
var ErrNoAttrStore = errors.New("the engine's store does not persist item attributes")

// attrEntry is one item's registered attributes (immutable) and their
// encoding for the model of the world it was last scored in.
type attrEntry struct {
	values map[string][]string
	prep   atomic.Pointer[attrPrep]
}

// attrPrep is an attrEntry prepared for one world's cold-start model.
type attrPrep struct {
	w    *world
	item *lookalike.Item // status features; nil when the attributes do not fit the model
}

// SetItemAttributes registers (or replaces) an item's attributes: field name
// → values as the model folder's items table had them (strings of a
// categorical or multi-valued column, one decimal number of a continuous
// one). The item is then scorable with status features until it has
// MinSeeds seeds, even before its first click. The attributes are written
// to the store (which must implement AttrStore) before the call returns.
// It returns the number of values the cold-start model has never seen (left
// out of the item's encoding). Attributes that do not fit the model (an
// unknown field, several values of a single-valued one, a bad number) are an
// *InputError naming the field; so is a model folder without a cold-start
// model (ErrNoColdStart).
func (e *Engine) SetItemAttributes(ctx context.Context, itemID string, values map[string][]string) (unknown int, err error) {
	w := e.world.Load()
	if err := checkID(w.itemKind, "item", itemID); err != nil {
		return 0, err
	}
	cs := w.bundle.ColdStart
	if cs == nil {
		return 0, badInput(ErrNoColdStart)
	}
	a, unknown, err := cs.Encoder().Encode(values)
	if err != nil {
		return 0, badInput(fmt.Errorf("item %q: %w", itemID, err))
	}
	it, err := cs.Item(a)
	if err != nil {
		return 0, badInput(fmt.Errorf("item %q: %w", itemID, err))
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := e.Ready(); err != nil {
		return 0, err
	}
	as, ok := e.store.(AttrStore)
	if !ok {
		return 0, fmt.Errorf("set item attributes: %w (%T)", ErrNoAttrStore, e.store)
	}
	ent := &attrEntry{values: cloneValues(values)}
	ent.prep.Store(&attrPrep{w: w, item: cs.LookAlikeItem(w.model, it, nil)})
	e.diskMu.Lock()
	err = as.PutItemAttrs(itemID, ent.values)
	if err == nil {
		e.itemAttrs.Store(itemID, ent)
	}
	e.diskMu.Unlock()
	if err != nil {
		e.fail(err)
		return 0, fmt.Errorf("set item attributes: %w", err)
	}
	return unknown, nil
}

func cloneValues(v map[string][]string) map[string][]string {
	out := maps.Clone(v)
	for k, vs := range out {
		out[k] = slices.Clone(vs)
	}
	return out
}

// deleteItemAttrs forgets an item's attributes, in the store and in memory
// (Delete).
func (e *Engine) deleteItemAttrs(itemID string) error {
	if _, ok := e.itemAttrs.Load(itemID); !ok {
		return nil
	}
	as, ok := e.store.(AttrStore)
	if !ok {
		return nil // nothing can have been registered
	}
	e.diskMu.Lock()
	err := as.DeleteItemAttrs(itemID)
	if err == nil {
		e.itemAttrs.Delete(itemID)
	}
	e.diskMu.Unlock()
	if err != nil {
		e.fail(err)
		return fmt.Errorf("delete item attributes: %w", err)
	}
	return nil
}

// loadItemAttrs restores the persisted attributes (Open).
func (e *Engine) loadItemAttrs() error {
	as, ok := e.store.(AttrStore)
	if !ok {
		return nil
	}
	return as.LoadItemAttrs(func(id string, values map[string][]string) error {
		e.itemAttrs.Store(id, &attrEntry{values: values})
		return nil
	})
}

// HasAttributes reports whether the item has registered attributes.
func (e *Engine) HasAttributes(itemID string) bool {
	_, ok := e.itemAttrs.Load(itemID)
	return ok
}

// featureItem returns the item's cold-start state for world w (a
// look-alike item with status features and no seeds), or nil when the item
// has no attributes, w's folder has no cold-start model, or the attributes
// do not fit it (logged once per world).
func (e *Engine) featureItem(w *world, itemID string) *lookalike.Item {
	cs := w.bundle.ColdStart
	if cs == nil {
		return nil
	}
	v, ok := e.itemAttrs.Load(itemID)
	if !ok {
		return nil
	}
	ent := v.(*attrEntry)
	if p := ent.prep.Load(); p != nil && p.w == w {
		return p.item
	}
	p := &attrPrep{w: w}
	a, _, err := cs.Encoder().Encode(ent.values)
	var ci *coldstart.Item
	if err == nil {
		ci, err = cs.Item(a)
	}
	if err == nil {
		p.item = cs.LookAlikeItem(w.model, ci, nil)
	} else {
		e.log.Warn("item attributes do not fit the served cold-start model; the item is scored without them", "item", itemID, "err", err)
	}
	ent.prep.Store(p)
	return p.item
}

// featureStatus is the status of an item for scoring: features for an item
// with usable attributes and fewer than MinSeeds seeds (nseeds), else
// status unchanged.
func (e *Engine) featureStatus(w *world, itemID string, nseeds int, status bundle.Status) bundle.Status {
	if nseeds < e.opts.MinSeeds && e.featureItem(w, itemID) != nil {
		return bundle.StatusFeatures
	}
	return status
}

// featureAudience is Audience for an item with status features: the users
// the cold-start model scores highest (on the look-alike score scale),
// ranked by lookalike.Model.Audience (the project's one scan and tie
// rule), its current seeds left out. done is false when the item does not have status
// features (it is nil for an item without seeds).
func (e *Engine) featureAudience(ctx context.Context, w *world, itemID string, it *item, n int) (a *Audience, done bool, err error) {
	var seeds []int32
	if it != nil {
		if int(it.nseeds.Load()) >= e.opts.MinSeeds {
			return nil, false, nil
		}
		it.mu.Lock()
		seeds = it.seeds()
		it.mu.Unlock()
	}
	fi := e.featureItem(w, itemID)
	if fi == nil {
		return nil, false, nil
	}
	snap := w.users.load()
	excl := make([]uint64, (snap.n+63)/64)
	for _, u := range seeds {
		if int(u) < snap.n {
			excl[u/64] |= 1 << (u % 64)
		}
	}
	top, err := w.model.Audience(ctx, w.usersOf(snap), fi, n, lookalike.AudienceOptions{
		Skip: func(u int32) bool { return excl[u/64]&(1<<(u%64)) != 0 },
	})
	if err != nil {
		return nil, true, fmt.Errorf("audience %q: %w", itemID, err)
	}
	a = &Audience{ItemID: itemID, Status: bundle.StatusFeatures, Seeds: len(seeds), Users: make([]bundle.ScoredUser, len(top))}
	for i, x := range top {
		a.Users[i] = bundle.ScoredUser{UserID: snap.id(x.User), Score: x.Score}
	}
	return a, true, nil
}
