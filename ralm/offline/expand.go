// Package offline is the offline use of a model folder, without an Engine or
// a seed store: scoring one user against items (ScoreItems) and audience
// expansion (Expand, ExpandItem), the classic look-alike batch job. Item seeds
// come from the folder's training clicks (or, for Expand, from the caller).
//
// Statuses, as the serving engine (ralm/serve) gives them for the same
// folder, bit for bit: ok (at least MinSeeds seeds: the look-alike model),
// features (fewer seeds, or none, and a row in Options.Attributes: the
// folder's cold-start model), cold (fewer seeds, no attributes: the
// look-alike model over those few seeds) and unknown_item. Every score is
// on the look-alike model's score scale, whatever the status: for one user,
// ok, cold and features scores sort together (see lookalike.Item).
package offline

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// Options tune ScoreItems, Expand and ExpandItem. The zero value
// selects every default.
type Options struct {
	// MinSeeds is the number of seeds (with an embedding) below which an
	// item is features (with attributes) or cold (without): see the package
	// documentation. 0 means DefaultMinSeeds.
	MinSeeds int
	// Attributes is an items table (item_id and attribute columns, as given
	// to 'ralm train --items'); nil for none. An item of ScoreItems or
	// ExpandItem with fewer than MinSeeds seeds and a row in it is scored
	// by the folder's cold-start model (status features), before its first
	// click too, exactly as the engine scores an item whose attributes were
	// registered (Engine.SetItemAttributes). It is ignored when the folder
	// has no cold-start model.
	Attributes *data.Table
	// Workers is the number of goroutines an expansion scans users with;
	// 0 means GOMAXPROCS. The result does not depend on it.
	Workers int
}

func (o Options) minSeeds() int {
	if o.MinSeeds <= 0 {
		return bundle.DefaultMinSeeds
	}
	return o.MinSeeds
}

// Expansion is the result of an audience expansion: the users who look most
// like a seed set.
type Expansion struct {
	// Status tells how the scores were computed: StatusOK (look-alike
	// model), StatusCold (the look-alike model over fewer than MinSeeds
	// seeds) or StatusFeatures (the cold-start model, ExpandItem only).
	Status bundle.Status
	// Seeds is the number of distinct seeds with an embedding: they scored
	// the users and are excluded from Users.
	Seeds int
	// UnknownSeeds is the number of distinct seed ids without an embedding
	// in the model folder; they were ignored.
	UnknownSeeds int
	// UserIDKind is the kind of the model's user ids (how Write stores them).
	UserIDKind data.IDKind
	// Users are the top users, best first: by score, descending, then by
	// user id, ascending (int64 ids as numbers, string ids byte-wise).
	Users []bundle.ScoredUser
}

// ItemSeeds returns the distinct users who clicked itemID in the model
// folder's training clicks (its seeds), in order of first click. ok is false
// if the item has no click there.
func ItemSeeds(b *bundle.Bundle, itemID string) (seeds []string, ok bool) {
	it, ok := b.Seeds.Items.Index(itemID)
	if !ok {
		return nil, false
	}
	seen := make(map[int32]bool)
	for k, i := range b.Seeds.Item {
		if u := b.Seeds.User[k]; i == it && !seen[u] {
			seen[u] = true
			seeds = append(seeds, b.Seeds.Users.ID(u))
		}
	}
	return seeds, len(seeds) > 0
}

// ExpandItem returns the n users who look most like the seeds of itemID
// (its clickers in the model folder's training clicks), excluding the seeds
// themselves; see Expand. An item with fewer than opt.MinSeeds seeds and a
// row in opt.Attributes gets the top users of the folder's cold-start model
// instead (Status StatusFeatures), its seeds left out, as the engine's
// Audience. An item without clicks or attributes fails with an *IDError
// matching ErrUnknownItem.
func ExpandItem(ctx context.Context, b *bundle.Bundle, itemID string, n int, opt Options) (*Expansion, error) {
	if err := checkOffline(b); err != nil {
		return nil, fmt.Errorf("expand item %q: %w", itemID, err)
	}
	rows := itemSeedRows(b, []string{itemID})[itemID]
	if len(rows) < opt.minSeeds() {
		fi, err := featureItem(b, opt.Attributes, itemID, rows)
		if err != nil {
			return nil, fmt.Errorf("expand item %q: %w", itemID, err)
		}
		if fi != nil {
			e, err := audience(ctx, b, fi, bundle.StatusFeatures, 0, n, opt)
			if err != nil {
				return nil, fmt.Errorf("expand item %q: %w", itemID, err)
			}
			return e, nil
		}
	}
	seeds, ok := ItemSeeds(b, itemID)
	if !ok {
		return nil, &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
	}
	e, err := Expand(ctx, b, seeds, n, opt)
	if err != nil {
		return nil, fmt.Errorf("expand item %q: %w", itemID, err)
	}
	return e, nil
}

// Expand returns the n users of the model folder who look most like the
// seed users (external ids), excluding the seeds themselves, with their
// scores, best first (score descending, then user id ascending). It scans
// every embedded user in parallel. Seeds without an embedding are counted
// in UnknownSeeds and ignored; at least one seed must have one. With fewer
// than opt.MinSeeds known seeds the item is cold (Status StatusCold): the
// scores are still the look-alike model's, over those few seeds.
// opt.Attributes is not used (a seed set has no item). Fewer than n users
// are returned when fewer remain.
// The result is deterministic for a folder, seed set and n.
func Expand(ctx context.Context, b *bundle.Bundle, seeds []string, n int, opt Options) (*Expansion, error) {
	if err := checkOffline(b); err != nil {
		return nil, fmt.Errorf("expand: %w", err)
	}
	if n < 1 {
		return nil, fmt.Errorf("expand: n = %d, want at least 1", n)
	}
	emb := b.Embeddings
	rows, unknown := seedRows(emb.Users, seeds)
	if len(rows) == 0 {
		return nil, fmt.Errorf("expand: none of the %d seeds has an embedding in the model", len(seeds))
	}
	it, status, err := newItem(ctx, b, rows, opt.minSeeds())
	if err != nil {
		return nil, fmt.Errorf("expand: %w", err)
	}
	e, err := audience(ctx, b, it, status, unknown, n, opt)
	if err != nil {
		return nil, fmt.Errorf("expand: %w", err)
	}
	return e, nil
}

// audience scans the folder's users for item it with the one audience scan
// (lookalike.Model.Audience), the item's seeds left out.
func audience(ctx context.Context, b *bundle.Bundle, it *lookalike.Item, status bundle.Status, unknown, n int, opt Options) (*Expansion, error) {
	emb := b.Embeddings
	top, err := b.LookAlike.Audience(ctx, folderUsers(b), it, n, lookalike.AudienceOptions{Workers: opt.Workers})
	if err != nil {
		return nil, err
	}
	out := &Expansion{Status: status, Seeds: len(it.Seeds), UnknownSeeds: unknown, UserIDKind: emb.Users.Kind(),
		Users: make([]bundle.ScoredUser, len(top))}
	for i, t := range top {
		out.Users[i] = bundle.ScoredUser{UserID: emb.Users.ID(t.User), Score: t.Score}
	}
	return out, nil
}

// ScoreItems scores one user of the model folder against items, with the
// items' seeds taken from the folder's training clicks: StatusOK items (at
// least opt.MinSeeds seeds with an embedding) by the look-alike model;
// items with fewer seeds StatusFeatures (a row in opt.Attributes: the
// cold-start model) or StatusCold (the look-alike model over those seeds);
// items without a click or attributes StatusUnknownItem with score 0. Every
// score is on the look-alike scale (see the package documentation). A user
// without an embedding fails with an *IDError matching ErrUnknownUser.
// Results follow itemIDs' order.
func ScoreItems(ctx context.Context, b *bundle.Bundle, userID string, itemIDs []string, opt Options) ([]bundle.ItemScore, error) {
	if err := checkOffline(b); err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	emb := b.Embeddings
	u, ok := emb.Users.Index(userID)
	if !ok {
		return nil, &bundle.IDError{What: "user", ID: userID, Err: bundle.ErrUnknownUser}
	}
	uv := emb.Vec(u)
	rowsOf := itemSeedRows(b, itemIDs)
	res := make([]bundle.ItemScore, len(itemIDs))
	items := make([]*lookalike.Item, 0, len(itemIDs))
	pos := make([]int, 0, len(itemIDs))
	for i, id := range itemIDs {
		res[i].ItemID = id
		rows := rowsOf[id]
		var it *lookalike.Item
		var err error
		if len(rows) < opt.minSeeds() {
			if it, err = featureItem(b, opt.Attributes, id, nil); err != nil {
				return nil, fmt.Errorf("score item %q: %w", id, err)
			}
		}
		switch {
		case it != nil:
			res[i].Status = bundle.StatusFeatures
		case len(rows) == 0:
			res[i].Status = bundle.StatusUnknownItem
			continue
		default:
			if it, res[i].Status, err = newItem(ctx, b, rows, opt.minSeeds()); err != nil {
				return nil, fmt.Errorf("score item %q: %w", id, err)
			}
		}
		items, pos = append(items, it), append(pos, i)
	}
	out := make([]float32, len(items))
	b.LookAlike.ScoreItems(uv, items, out)
	for k, i := range pos {
		res[i].Score = out[k]
	}
	return res, nil
}

// Write writes the expansion as a table with columns user_id (int64 or
// string, the model's kind), score (float32) and rank (int32, 1 = best), one
// row per user, best first: Parquet, or Arrow IPC for a .arrow, .ipc or
// .feather name. The file is written to a temporary file and renamed into
// place.
//
// Write is WriteContext without cancellation or options.
func (e *Expansion) Write(path string) error {
	return e.WriteContext(context.Background(), path)
}

// WriteContext is Write that stops with ctx's error (removing the temporary
// file) soon after ctx is cancelled; opts (e.g. data.WithProgress) apply to
// the data writer.
func (e *Expansion) WriteContext(ctx context.Context, path string, opts ...data.WriteOption) error {
	kind := e.UserIDKind
	if kind != data.IDInt64 && kind != data.IDString {
		return fmt.Errorf("write expansion %s: unknown user id kind %d", path, kind)
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: data.ColUserID, Type: data.IDType(kind)},
		{Name: "score", Type: arrow.PrimitiveTypes.Float32},
		{Name: "rank", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	return data.WriteRecords(ctx, path, sc, len(e.Users), func(mem memory.Allocator, lo, hi int) (arrow.Record, error) {
		ub := array.NewBuilder(mem, data.IDType(kind))
		defer ub.Release()
		for i, u := range e.Users[lo:hi] {
			if err := data.AppendID(ub, kind, u.UserID); err != nil {
				return nil, fmt.Errorf("write expansion %s: row %d: user %w", path, lo+i, err)
			}
		}
		ua := ub.NewArray()
		defer ua.Release()
		sb := array.NewFloat32Builder(mem)
		defer sb.Release()
		rb := array.NewInt32Builder(mem)
		defer rb.Release()
		for i, u := range e.Users[lo:hi] {
			sb.Append(u.Score)
			rb.Append(int32(lo + i + 1))
		}
		sa, ra := sb.NewArray(), rb.NewArray()
		defer sa.Release()
		defer ra.Release()
		return array.NewRecord(sc, []arrow.Array{ua, sa, ra}, int64(hi-lo)), nil
	}, opts...)
}

// checkOffline validates the parts of a bundle offline scoring reads.
func checkOffline(b *bundle.Bundle) error {
	switch {
	case b == nil:
		return errors.New("no model")
	case b.LookAlike == nil:
		return errors.New("the model has no look-alike model")
	case b.Embeddings == nil || b.Embeddings.Users == nil:
		return errors.New("the model has no user embeddings")
	case b.Seeds == nil || b.Seeds.Users == nil || b.Seeds.Items == nil:
		return errors.New("the model has no seeds")
	case b.Embeddings.Dim != b.LookAlike.Dim() || len(b.Embeddings.Vecs) != b.Embeddings.Users.Len()*b.Embeddings.Dim:
		return fmt.Errorf("the embeddings (dim %d, %d values for %d users) do not fit the look-alike model (dim %d)",
			b.Embeddings.Dim, len(b.Embeddings.Vecs), b.Embeddings.Users.Len(), b.LookAlike.Dim())
	}
	return nil
}

// seedRows maps seed ids to distinct embedding rows, sorted ascending, and
// counts the distinct ids without an embedding.
func seedRows(users *data.Vocab, seeds []string) (rows []int32, unknown int) {
	seen := make(map[string]bool, len(seeds))
	for _, id := range seeds {
		if seen[id] {
			continue
		}
		seen[id] = true
		if r, ok := users.Index(id); ok {
			rows = append(rows, r)
		} else {
			unknown++
		}
	}
	slices.Sort(rows)
	return rows, unknown
}

// itemSeedRows returns, for each of the given item ids that has clicks in
// the folder's seeds, the distinct embedding rows of its clickers, sorted
// ascending; clickers without an embedding are left out.
func itemSeedRows(b *bundle.Bundle, itemIDs []string) map[string][]int32 {
	c := b.Seeds
	want := make(map[int32]string, len(itemIDs))
	for _, id := range itemIDs {
		if i, ok := c.Items.Index(id); ok {
			want[i] = id
		}
	}
	out := make(map[string][]int32, len(want))
	if len(want) == 0 {
		return out
	}
	row := make(map[int32]int32) // seeds user index → embedding row (-1: none)
	seen := make(map[[2]int32]bool)
	for k, i := range c.Item {
		id, ok := want[i]
		if !ok {
			continue
		}
		u := c.User[k]
		r, ok := row[u]
		if !ok {
			if r, ok = b.Embeddings.Users.Index(c.Users.ID(u)); !ok {
				r = -1
			}
			row[u] = r
		}
		if r < 0 || seen[[2]int32{i, r}] {
			continue
		}
		seen[[2]int32{i, r}] = true
		out[id] = append(out[id], r)
	}
	for _, rows := range out {
		slices.Sort(rows)
	}
	return out
}

// folderUsers is the folder's embeddings as the inference path reads them.
func folderUsers(b *bundle.Bundle) lookalike.UserRows {
	emb := b.Embeddings
	return lookalike.UserRows{Vecs: emb.Vecs, Dim: emb.Dim, Order: emb.Users.Compare}
}

// newItem builds the item state of a seed set over the folder's
// embeddings with the one inference path (lookalike.Model.NewItem): seeds in
// user id order, cold below minSeeds. It returns the item and its status.
func newItem(ctx context.Context, b *bundle.Bundle, rows []int32, minSeeds int) (*lookalike.Item, bundle.Status, error) {
	it, err := b.LookAlike.NewItem(ctx, folderUsers(b), rows, lookalike.ItemOptions{MinSeeds: minSeeds})
	if err != nil {
		return nil, "", err
	}
	if it.Status == lookalike.ItemCold {
		return it, bundle.StatusCold, nil
	}
	return it, bundle.StatusOK, nil
}

// featureItem returns the look-alike item with status features of itemID
// (coldstart.Model.LookAlikeItem, as the engine builds it), its seed rows
// left out of an audience, or nil when the folder has no cold-start model
// or attrs (nil for none) has no row of the item. An items table whose
// columns do not fit the cold-start model is an error naming the column.
func featureItem(b *bundle.Bundle, attrs *data.Table, itemID string, seeds []int32) (*lookalike.Item, error) {
	cs := b.ColdStart
	if cs == nil || attrs == nil {
		return nil, nil
	}
	r, ok := attrs.Keys.Index(itemID)
	if !ok {
		return nil, nil
	}
	a, _, err := cs.Encoder().Row(attrs, int(r))
	if err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	ci, err := cs.Item(a)
	if err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	if len(seeds) > 0 {
		if seeds, err = lookalike.CanonicalSeeds(folderUsers(b), seeds); err != nil {
			return nil, err
		}
	}
	return cs.LookAlikeItem(b.LookAlike, ci, seeds), nil
}
