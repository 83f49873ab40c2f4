package eval

import (
	"errors"
	"fmt"

	"github.com/ralmlab/ralm/data"
)

// Protocol holds what the protocol evaluates, built from a split: the user
// universe, the warm and fresh cases and each user's training click count.
// All indices refer to the split's shared user and item vocabularies.
type Protocol struct {
	Universe    Universe
	Cases       []Case
	TrainClicks []int32 // training clicks per user index (the activity baseline)
	Warm, Fresh int     // number of warm and fresh cases
}

// BuildProtocol applies protocol steps 4–6 to the parts of a split that share
// one user and one item vocabulary: warm items are the given item indices
// (split.Result.WarmItems, or split.WarmItems for files read back), their
// seeds the training clickers and their positives the held-out clickers; a
// fresh item's seeds and positives are its clickers in freshSeeds and
// freshHeldout. Positives and seeds that are not known users (no training
// click, so no embedding) are dropped.
func BuildProtocol(train, heldout, freshSeeds, freshHeldout *data.Clicks, warm []int32) (*Protocol, error) {
	for _, c := range []*data.Clicks{heldout, freshSeeds, freshHeldout} {
		if c.Users != train.Users || c.Items != train.Items {
			return nil, errors.New("build protocol: split parts must share the training user and item vocabularies")
		}
	}
	nUsers := train.Users.Len()
	p := &Protocol{TrainClicks: make([]int32, nUsers)}
	type pair struct{ u, i int32 }
	// seen maps a (user, item) pair to the place of the user in the
	// item's clickers (-1 for an item that is not warm)
	seen := make(map[pair]int32, train.Len())
	trainClickers := make(map[int32]*clickers)
	isWarm := make(map[int32]bool, len(warm))
	for _, it := range warm {
		isWarm[it] = true
	}
	for k := range train.User {
		pr := pair{train.User[k], train.Item[k]}
		if at, dup := seen[pr]; dup {
			if at >= 0 { // a repeated click: the pair's time is its earliest
				cl := trainClickers[pr.i]
				cl.ts[at] = min(cl.ts[at], clickTime(train, k))
			}
			continue
		}
		seen[pr] = -1
		p.TrainClicks[pr.u]++
		if isWarm[pr.i] {
			cl := trainClickers[pr.i]
			if cl == nil {
				cl = &clickers{}
				trainClickers[pr.i] = cl
			}
			seen[pr] = int32(len(cl.users))
			cl.add(pr.u, clickTime(train, k))
		}
	}
	rank, err := train.Users.Ranks()
	if err != nil {
		return nil, fmt.Errorf("build protocol: user ids: %w", err)
	}
	p.Universe.TieRank = rank
	for u := int32(0); u < int32(nUsers); u++ {
		if p.TrainClicks[u] > 0 {
			p.Universe.Known = append(p.Universe.Known, u)
		}
	}
	// known keeps the known users of cl, each once (its earliest time);
	// the times are dropped when ts is false
	known := func(cl *clickers, ts bool) (users []int32, times []int64) {
		if cl == nil {
			return nil, nil
		}
		at := map[int32]int{}
		for j, u := range cl.users {
			if p.TrainClicks[u] == 0 {
				continue
			}
			if i, dup := at[u]; dup {
				if ts {
					times[i] = min(times[i], cl.ts[j])
				}
				continue
			}
			at[u] = len(users)
			users = append(users, u)
			if ts {
				times = append(times, cl.ts[j])
			}
		}
		return users, times
	}
	byItem := func(c *data.Clicks) map[int32]*clickers {
		m := map[int32]*clickers{}
		for k := range c.Item {
			cl := m[c.Item[k]]
			if cl == nil {
				cl = &clickers{}
				m[c.Item[k]] = cl
			}
			cl.add(c.User[k], clickTime(c, k))
		}
		return m
	}
	held := byItem(heldout)
	for _, it := range warm {
		cl := trainClickers[it]
		if cl == nil {
			return nil, fmt.Errorf("build protocol: warm item %s has no training clickers", train.Items.ID(it))
		}
		pos, _ := known(held[it], false)
		p.Cases = append(p.Cases, Case{Item: train.Items.ID(it), ItemIndex: it, Seeds: cl.users, SeedTS: cl.ts, Positives: pos})
		p.Warm++
	}
	fs, fh := byItem(freshSeeds), byItem(freshHeldout)
	var fresh []int32
	for k := range freshSeeds.Item { // items in the order the split lists them
		if it := freshSeeds.Item[k]; len(fresh) == 0 || fresh[len(fresh)-1] != it {
			fresh = append(fresh, it)
		}
	}
	for _, it := range fresh {
		seeds, ts := known(fs[it], true)
		if len(seeds) == 0 {
			continue
		}
		pos, _ := known(fh[it], false)
		p.Cases = append(p.Cases, Case{Item: train.Items.ID(it), ItemIndex: -1, Fresh: true, Seeds: seeds, SeedTS: ts, Positives: pos})
		p.Fresh++
	}
	return p, nil
}

// clickers are an item's clicking users in click-log order, with the time of
// each click.
type clickers struct {
	users []int32
	ts    []int64
}

func (c *clickers) add(u int32, ts int64) {
	c.users = append(c.users, u)
	c.ts = append(c.ts, ts)
}

// clickTime is click k's time, 0 when the log has no times.
func clickTime(c *data.Clicks, k int) int64 {
	if k < len(c.TS) {
		return c.TS[k]
	}
	return 0
}
