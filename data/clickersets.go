package data

import (
	"fmt"
	"slices"
)

// ClickerSets returns each item's distinct clickers in ascending order and
// the users (of nUsers) who clicked at least once, ascending; a clicker
// outside [0, nUsers) is an error naming the item.
func ClickerSets(clickers [][]int32, nUsers int) (sets [][]int32, known []int32, err error) {
	isKnown := make([]bool, nUsers)
	sets = make([][]int32, len(clickers))
	for i, cl := range clickers {
		s := slices.Clone(cl)
		slices.Sort(s)
		s = slices.Compact(s)
		for _, u := range s {
			if u < 0 || int(u) >= nUsers {
				return nil, nil, fmt.Errorf("item %d: clicker %d out of range [0, %d)", i, u, nUsers)
			}
			isKnown[u] = true
		}
		sets[i] = s
	}
	for u, k := range isKnown {
		if k {
			known = append(known, int32(u))
		}
	}
	return sets, known, nil
}
