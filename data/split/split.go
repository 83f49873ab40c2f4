// Package split builds the held-out split of the look-alike evaluation
// protocol (shared EVAL_PROTOCOL.md, version 1, steps 1–5) from a click log.
//
// The steps, exactly:
//
//  0. Duplicate (user, item) pairs keep the earliest ts.
//  1. Fresh items: among items with at least MinFreshClickers (20) distinct
//     clickers, round(FreshFraction·n) are drawn uniformly at random (seeded by
//     Options.Seed); all their clicks leave the training data.
//  2. Warm held-out clicks: each user with at least MinUserClicks (5)
//     remaining clicks, sorted by (ts, item_id), holds out the last (n+4) div 5.
//  3. Training set: what remains.
//  4. Warm items: items with at least MinWarmTrainClickers (10) training
//     clickers and at least MinWarmHeldoutClickers (3) held-out clickers.
//  5. Fresh items: each fresh item's n clickers sorted by (ts, user_id); the
//     first max(MinFreshSeeds, n div 2) are seeds, the rest positives.
//
// Id order: wherever the protocol sorts or breaks ties by item_id or user_id,
// it means the external id, not the dense index: numeric order for int64 ids
// and byte-wise lexicographic order for string ids ("u10" < "u9"). The draw of
// fresh items is made over the eligible items in that order, so the split
// depends only on the click log's content and the seed, never on row order.
package split

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ralmlab/ralm/data"
)

// Protocol thresholds (EVAL_PROTOCOL.md version 1).
const (
	MinFreshClickers       = 20 // distinct clickers for an item to be eligible as fresh
	MinUserClicks          = 5  // remaining clicks for a user to hold any out
	MinWarmTrainClickers   = 10 // training clickers of a warm item
	MinWarmHeldoutClickers = 3  // held-out clickers of a warm item
	MinFreshSeeds          = 10 // least number of seeds of a fresh item
)

// DefaultFreshFraction is the protocol's default share of eligible items
// made fresh.
const DefaultFreshFraction = 0.10

// Options controls a split.
type Options struct {
	// FreshFraction in [0,1] is the share of eligible items made fresh; 0
	// makes none. Use DefaultOptions for the protocol default (0.10).
	FreshFraction float64
	// Seed drives the only random choice: which items are fresh.
	Seed int64
}

// DefaultOptions returns the protocol defaults: FreshFraction 0.10, Seed 1.
func DefaultOptions() Options { return Options{FreshFraction: DefaultFreshFraction, Seed: 1} }

// Result is a split. All click logs share the input's Users and Items
// vocabularies, so indices mean the same in all of them.
type Result struct {
	// Train is the training set (step 3), grouped by user index and ordered
	// by (ts, item_id) within a user.
	Train *data.Clicks
	// Heldout holds all warm held-out clicks of step 2 (on any item, warm
	// or not), in the same order as Train. The positives of warm item i are
	// the users of its clicks here.
	Heldout *data.Clicks
	// FreshSeeds and FreshHeldout hold the clicks on fresh items: seeds and
	// positives of step 5, grouped by item in FreshItems order and ordered by
	// (ts, user_id) within an item.
	FreshSeeds   *data.Clicks
	FreshHeldout *data.Clicks
	// WarmItems are the item indices of step 4, in item_id order.
	WarmItems []int32
	// FreshItems are the item indices drawn in step 1, in item_id order.
	FreshItems []int32
	// Eligible is the number of items that could have been drawn as fresh.
	Eligible int
	// Duplicates is the number of repeated (user, item) clicks dropped.
	Duplicates int
}

// Split applies the protocol to c. It does not modify c.
func Split(c *data.Clicks, opt Options) (*Result, error) {
	if err := check(c); err != nil {
		return nil, err
	}
	if !(opt.FreshFraction >= 0 && opt.FreshFraction <= 1) {
		return nil, fmt.Errorf("split: fresh fraction must be in [0,1], got %g", opt.FreshFraction)
	}
	userRank, err := c.Users.Ranks()
	if err != nil {
		return nil, fmt.Errorf("split: user ids: %w", err)
	}
	itemRank, err := c.Items.Ranks()
	if err != nil {
		return nil, fmt.Errorf("split: item ids: %w", err)
	}
	nu, ni := c.Users.Len(), c.Items.Len()

	// Step 0: group by user (counting sort), order by (ts, item_id) and drop
	// repeated items, keeping the first = earliest.
	start := make([]int, nu+1)
	for _, u := range c.User {
		start[u+1]++
	}
	for u := range nu {
		start[u+1] += start[u]
	}
	pos := slices.Clone(start[:nu])
	item := make([]int32, c.Len())
	ts := make([]int64, c.Len())
	for i, u := range c.User {
		p := pos[u]
		pos[u]++
		item[p], ts[p] = c.Item[i], c.TS[i]
	}
	seen := make([]int32, ni) // seen[item] == u+1: user u already has it
	out := 0
	for u := range nu {
		lo, hi := start[u], start[u+1]
		sortClicks(item[lo:hi], ts[lo:hi], itemRank)
		start[u] = out
		for p := lo; p < hi; p++ {
			if seen[item[p]] == int32(u)+1 {
				continue
			}
			seen[item[p]] = int32(u) + 1
			item[out], ts[out] = item[p], ts[p]
			out++
		}
	}
	start[nu] = out
	res := &Result{Duplicates: c.Len() - out}
	item, ts = item[:out], ts[:out]

	// Step 1: draw fresh items among the eligible, in item_id order.
	clickers := make([]int32, ni)
	for _, it := range item {
		clickers[it]++
	}
	var eligible []int32
	for it, n := range clickers {
		if n >= MinFreshClickers {
			eligible = append(eligible, int32(it))
		}
	}
	byRank := func(a, b int32) int { return cmp.Compare(itemRank[a], itemRank[b]) }
	slices.SortFunc(eligible, byRank)
	res.Eligible = len(eligible)
	k := int(math.Round(opt.FreshFraction * float64(len(eligible))))
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0x5eed_f2e5))
	for i := 0; i < k; i++ {
		j := i + rng.IntN(len(eligible)-i)
		eligible[i], eligible[j] = eligible[j], eligible[i]
	}
	res.FreshItems = slices.Clone(eligible[:k])
	slices.SortFunc(res.FreshItems, byRank)
	freshSlot := make([]int32, ni) // 1 + position in FreshItems; 0 = not fresh
	for s, it := range res.FreshItems {
		freshSlot[it] = int32(s) + 1
	}

	// Steps 2–3: per user, hold out the last (n+4) div 5 remaining clicks.
	// A first pass sizes the outputs exactly.
	nTrain, nHeld := 0, 0
	for u := range nu {
		n := 0
		for p := start[u]; p < start[u+1]; p++ {
			if freshSlot[item[p]] == 0 {
				n++
			}
		}
		h := holdCount(n)
		nTrain += n - h
		nHeld += h
	}
	res.Train = newClicks(c, nTrain)
	res.Heldout = newClicks(c, nHeld)
	trainClickers := make([]int32, ni)
	heldClickers := make([]int32, ni)
	type fclick struct {
		user int32
		ts   int64
	}
	fresh := make([][]fclick, k)
	rem := make([]int, 0, 64)
	for u := range nu {
		rem = rem[:0]
		for p := start[u]; p < start[u+1]; p++ {
			if s := freshSlot[item[p]]; s > 0 {
				fresh[s-1] = append(fresh[s-1], fclick{int32(u), ts[p]})
				continue
			}
			rem = append(rem, p)
		}
		n := len(rem)
		held := holdCount(n)
		for j, p := range rem {
			dst, cnt := res.Train, trainClickers
			if j >= n-held {
				dst, cnt = res.Heldout, heldClickers
			}
			appendClick(dst, int32(u), item[p], ts[p])
			cnt[item[p]]++
		}
	}

	// Step 4: warm items.
	for it := range ni {
		if trainClickers[it] >= MinWarmTrainClickers && heldClickers[it] >= MinWarmHeldoutClickers {
			res.WarmItems = append(res.WarmItems, int32(it))
		}
	}
	slices.SortFunc(res.WarmItems, byRank)

	// Step 5: fresh seeds and positives.
	nSeeds, nFresh := 0, 0
	for _, fc := range fresh {
		nSeeds += freshSeedCount(len(fc))
		nFresh += len(fc)
	}
	res.FreshSeeds = newClicks(c, nSeeds)
	res.FreshHeldout = newClicks(c, nFresh-nSeeds)
	for s, it := range res.FreshItems {
		fc := fresh[s]
		slices.SortFunc(fc, func(a, b fclick) int {
			if a.ts != b.ts {
				return cmp.Compare(a.ts, b.ts)
			}
			return cmp.Compare(userRank[a.user], userRank[b.user])
		})
		seeds := freshSeedCount(len(fc))
		for j, f := range fc {
			dst := res.FreshSeeds
			if j >= seeds {
				dst = res.FreshHeldout
			}
			appendClick(dst, f.user, it, f.ts)
		}
	}
	return res, nil
}

// holdCount is the number of clicks held out of a user's n remaining ones:
// (n+4) div 5 = ceil(n/5) when n >= MinUserClicks, else none.
func holdCount(n int) int {
	if n < MinUserClicks {
		return 0
	}
	return (n + 4) / 5
}

// newClicks returns an empty click log with c's vocabularies and room for n
// clicks.
func newClicks(c *data.Clicks, n int) *data.Clicks {
	return &data.Clicks{
		Users: c.Users, Items: c.Items,
		User: make([]int32, 0, n), Item: make([]int32, 0, n), TS: make([]int64, 0, n),
	}
}

// freshSeedCount is the number of seeds of a fresh item with n clickers:
// max(MinFreshSeeds, n div 2), never more than n.
func freshSeedCount(n int) int {
	return min(n, max(MinFreshSeeds, n/2))
}

func appendClick(c *data.Clicks, u, it int32, ts int64) {
	c.User = append(c.User, u)
	c.Item = append(c.Item, it)
	c.TS = append(c.TS, ts)
}

// sortClicks sorts one user's clicks by (ts, item_id).
func sortClicks(item []int32, ts []int64, itemRank []int32) {
	less := func(i, j int) bool {
		return ts[i] < ts[j] || (ts[i] == ts[j] && itemRank[item[i]] < itemRank[item[j]])
	}
	if len(item) <= 32 {
		for i := 1; i < len(item); i++ {
			for j := i; j > 0 && less(j, j-1); j-- {
				item[j], item[j-1] = item[j-1], item[j]
				ts[j], ts[j-1] = ts[j-1], ts[j]
			}
		}
		return
	}
	type click struct {
		rank, item int32
		ts         int64
	}
	cs := make([]click, len(item))
	for i := range cs {
		cs[i] = click{itemRank[item[i]], item[i], ts[i]}
	}
	slices.SortFunc(cs, func(a, b click) int {
		if a.ts != b.ts {
			return cmp.Compare(a.ts, b.ts)
		}
		return cmp.Compare(a.rank, b.rank)
	})
	for i, c := range cs {
		item[i], ts[i] = c.item, c.ts
	}
}

// WarmItems applies step 4 to a training set and held-out clicks that share
// one item vocabulary (for example a Result read back from files with the
// same vocabularies): the items with at least MinWarmTrainClickers distinct
// training clickers and MinWarmHeldoutClickers distinct held-out clickers,
// in item_id order.
func WarmItems(train, heldout *data.Clicks) ([]int32, error) {
	if err := check(train); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := check(heldout); err != nil && !errors.Is(err, errEmpty) {
		return nil, fmt.Errorf("heldout: %w", err)
	}
	if train.Items != heldout.Items || train.Users != heldout.Users {
		return nil, errors.New("split: train and heldout must share their user and item vocabularies")
	}
	rank, err := train.Items.Ranks()
	if err != nil {
		return nil, fmt.Errorf("split: item ids: %w", err)
	}
	count := func(c *data.Clicks) []int32 {
		type pair struct{ u, i int32 }
		seen := make(map[pair]bool, c.Len())
		n := make([]int32, c.Items.Len())
		for k := range c.User {
			p := pair{c.User[k], c.Item[k]}
			if !seen[p] {
				seen[p] = true
				n[p.i]++
			}
		}
		return n
	}
	tc, hc := count(train), count(heldout)
	var warm []int32
	for it := range tc {
		if tc[it] >= MinWarmTrainClickers && hc[it] >= MinWarmHeldoutClickers {
			warm = append(warm, int32(it))
		}
	}
	slices.SortFunc(warm, func(a, b int32) int { return cmp.Compare(rank[a], rank[b]) })
	return warm, nil
}

var errEmpty = errors.New("split: no clicks")

// check validates a click log's shape so that bad input gives an error, not a
// panic.
func check(c *data.Clicks) error {
	switch {
	case c == nil:
		return errors.New("split: nil click log")
	case c.Users == nil || c.Items == nil:
		return errors.New("split: click log without user or item vocabulary")
	case len(c.Item) != len(c.User) || len(c.TS) != len(c.User):
		return fmt.Errorf("split: click columns differ in length (user %d, item %d, ts %d)", len(c.User), len(c.Item), len(c.TS))
	case c.Len() == 0:
		return errEmpty
	}
	nu, ni := int32(c.Users.Len()), int32(c.Items.Len())
	for i := range c.User {
		if c.User[i] < 0 || c.User[i] >= nu {
			return fmt.Errorf("split: click %d: user index %d out of range [0,%d)", i, c.User[i], nu)
		}
		if c.Item[i] < 0 || c.Item[i] >= ni {
			return fmt.Errorf("split: click %d: item index %d out of range [0,%d)", i, c.Item[i], ni)
		}
	}
	return nil
}
