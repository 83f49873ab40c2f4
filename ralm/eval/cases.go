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
	seen := make(map[pair]bool, train.Len())
	trainClickers := make(map[int32][]int32)
	isWarm := make(map[int32]bool, len(warm))
	for _, it := range warm {
		isWarm[it] = true
	}
	for k := range train.User {
		pr := pair{train.User[k], train.Item[k]}
		if seen[pr] {
			continue
		}
		seen[pr] = true
		p.TrainClicks[pr.u]++
		if isWarm[pr.i] {
			trainClickers[pr.i] = append(trainClickers[pr.i], pr.u)
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
	known := func(users []int32) []int32 {
		out := users[:0:0]
		dup := map[int32]bool{}
		for _, u := range users {
			if p.TrainClicks[u] > 0 && !dup[u] {
				dup[u] = true
				out = append(out, u)
			}
		}
		return out
	}
	byItem := func(c *data.Clicks) map[int32][]int32 {
		m := map[int32][]int32{}
		for k := range c.Item {
			m[c.Item[k]] = append(m[c.Item[k]], c.User[k])
		}
		return m
	}
	held := byItem(heldout)
	for _, it := range warm {
		seeds := trainClickers[it]
		if len(seeds) == 0 {
			return nil, fmt.Errorf("build protocol: warm item %s has no training clickers", train.Items.ID(it))
		}
		p.Cases = append(p.Cases, Case{Item: train.Items.ID(it), ItemIndex: it, Seeds: seeds, Positives: known(held[it])})
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
		seeds := known(fs[it])
		if len(seeds) == 0 {
			continue
		}
		p.Cases = append(p.Cases, Case{Item: train.Items.ID(it), ItemIndex: -1, Fresh: true, Seeds: seeds, Positives: known(fh[it])})
		p.Fresh++
	}
	return p, nil
}
