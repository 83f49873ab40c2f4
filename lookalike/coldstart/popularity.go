package coldstart

import "fmt"

// Popularity is the per-attribute popularity baseline for items without
// seeds: a user's score for an item is, summed over the attribute fields,
// the mean over the item's values of the number of training items with that
// value the user clicked. It needs no user embedding and no training, only
// the clicks of items with attributes.
type Popularity struct {
	counts [][]map[int32]int32 // [field][code] → user → clicked items with the value
}

// NewPopularity counts, from the items' clickers (clickers[i] lists item
// i's user rows) and attributes (attrs[i], nil for an item without a row),
// how many items with each attribute value every user clicked. Items are
// counted once per user.
func NewPopularity(enc *Encoder, clickers [][]int32, attrs []Attrs) (*Popularity, error) {
	if len(attrs) != len(clickers) {
		return nil, fmt.Errorf("popularity baseline: %d attribute rows for %d items", len(attrs), len(clickers))
	}
	p := &Popularity{counts: make([][]map[int32]int32, len(enc.Fields))}
	for f := range enc.Fields {
		p.counts[f] = make([]map[int32]int32, enc.Fields[f].Size())
	}
	for i, a := range attrs {
		if a == nil {
			continue
		}
		if err := enc.check(a); err != nil {
			return nil, fmt.Errorf("popularity baseline: item %d: %w", i, err)
		}
		seen := make(map[int32]bool, len(clickers[i]))
		for _, u := range clickers[i] {
			if seen[u] {
				continue
			}
			seen[u] = true
			for f, codes := range a {
				for _, c := range codes {
					m := p.counts[f][c]
					if m == nil {
						m = make(map[int32]int32)
						p.counts[f][c] = m
					}
					m[u]++
				}
			}
		}
	}
	return p, nil
}

// Scores writes the baseline score of each user row of users for an item
// with attributes a to out (len(users)). Attributes from another encoder
// than the baseline's are an error.
func (p *Popularity) Scores(a Attrs, users []int32, out []float32) error {
	if len(a) != len(p.counts) || len(out) != len(users) {
		return fmt.Errorf("popularity baseline: %d fields (want %d), %d outputs for %d users", len(a), len(p.counts), len(out), len(users))
	}
	clear(out)
	for f, codes := range a {
		if len(codes) == 0 {
			continue
		}
		inv := 1 / float32(len(codes))
		for _, c := range codes {
			if int(c) >= len(p.counts[f]) || c < 0 {
				return fmt.Errorf("popularity baseline: field %d code %d out of range", f, c)
			}
			m := p.counts[f][c]
			if m == nil {
				continue
			}
			for i, u := range users {
				out[i] += inv * float32(m[u])
			}
		}
	}
	return nil
}
