package userrep

import (
	"math"
	"math/rand"
	"sort"
	"strconv"

	"github.com/ralmlab/ralm/data"
)

// plantedSpec describes a synthetic click log with planted communities:
// every user belongs to one community and clicks mostly its items.
type plantedSpec struct {
	users, items, communities int
	clicksPerUser             int     // mean distinct clicks per user
	inCommunity               float64 // share of clicks drawn from the user's community
	seed                      int64
}

// planted is a generated data set plus a feature builder with MovieLens-like
// fields: items, items.genre, users.age (continuous), users.gender,
// users.occupation (noisy community), users.zip (noise).
type planted struct {
	clicks    *data.Clicks
	fb        *plantedBuilder
	community []int // per user
}

// plantedBuilder is a FeatureBuilder over per-user and per-item attributes.
type plantedBuilder struct {
	users      *data.Vocab
	fields     []data.Field
	itemGenres [][]int32
	age        []float32
	gender     []int32
	occupation []int32
	zip        []int32
}

func (b *plantedBuilder) Fields() []data.Field { return b.fields }

func (b *plantedBuilder) Build(userID string, clicked []int32, dst *data.Features) {
	if cap(dst.Bags) < 6 {
		dst.Bags = make([][]int32, 6)
		dst.Values = make([]float32, 6)
	}
	dst.Bags, dst.Values = dst.Bags[:6], dst.Values[:6]
	for i := range dst.Bags {
		dst.Bags[i] = dst.Bags[i][:0]
	}
	clear(dst.Values)
	dst.Bags[0] = append(dst.Bags[0], clicked...)
	for _, it := range clicked {
		dst.Bags[1] = append(dst.Bags[1], b.itemGenres[it]...)
	}
	u, ok := b.users.Index(userID)
	if !ok {
		dst.Values[2] = 0.5
		return
	}
	dst.Values[2] = b.age[u]
	dst.Bags[3] = append(dst.Bags[3], b.gender[u])
	dst.Bags[4] = append(dst.Bags[4], b.occupation[u])
	dst.Bags[5] = append(dst.Bags[5], b.zip[u])
}

// genPlanted draws the data set.
func genPlanted(s plantedSpec) *planted {
	rng := rand.New(rand.NewSource(s.seed))
	const genres, occupations, zips = 19, 21, 10
	C := s.communities
	// items: community i%C, Zipf popularity within the community
	itemComm := make([]int, s.items)
	commItems := make([][]int32, C)
	perm := rng.Perm(s.items)
	for k, i := range perm {
		c := k % C
		itemComm[i] = c
		commItems[c] = append(commItems[c], int32(i))
	}
	weight := make([]float64, s.items)
	for _, its := range commItems {
		for r, it := range its {
			weight[it] = 1 / math.Pow(float64(r+1), 0.8)
		}
	}
	cum := func(its []int32) []float64 {
		c := make([]float64, len(its))
		acc := 0.0
		for k, it := range its {
			acc += weight[it]
			c[k] = acc
		}
		return c
	}
	commCum := make([][]float64, C)
	for c := range commCum {
		commCum[c] = cum(commItems[c])
	}
	all := make([]int32, s.items)
	for i := range all {
		all[i] = int32(i)
	}
	allCum := cum(all)
	pick := func(its []int32, cu []float64) int32 {
		x := rng.Float64() * cu[len(cu)-1]
		return its[sort.SearchFloat64s(cu, x)]
	}

	itemGenres := make([][]int32, s.items)
	for i := range itemGenres {
		itemGenres[i] = []int32{int32(itemComm[i] % genres)}
		if rng.Float64() < 0.5 {
			itemGenres[i] = append(itemGenres[i], int32(rng.Intn(genres)))
		}
	}

	users, items := data.NewVocab(data.IDInt64), data.NewVocab(data.IDInt64)
	for i := 0; i < s.items; i++ {
		items.MustAdd(strconv.Itoa(1000 + i))
	}
	p := &planted{community: make([]int, s.users)}
	fb := &plantedBuilder{users: users,
		itemGenres: itemGenres,
		age:        make([]float32, s.users),
		gender:     make([]int32, s.users),
		occupation: make([]int32, s.users),
		zip:        make([]int32, s.users),
	}
	clicks := &data.Clicks{Users: users, Items: items}
	for u := 0; u < s.users; u++ {
		users.MustAdd(strconv.Itoa(u + 1))
		c := rng.Intn(C)
		p.community[u] = c
		fb.age[u] = float32(math.Min(1, math.Max(0, float64(c)/float64(C)+0.1*rng.NormFloat64())))
		fb.gender[u] = int32(rng.Intn(2))
		fb.occupation[u] = int32(c % occupations)
		if rng.Float64() < 0.3 {
			fb.occupation[u] = int32(rng.Intn(occupations))
		}
		fb.zip[u] = int32(rng.Intn(zips))
		n := 1 + rng.Intn(2*s.clicksPerUser-1)
		seen := map[int32]bool{}
		ts := int64(1_600_000_000) * 1e9
		for tries := 0; len(seen) < n && tries < 20*n; tries++ {
			var it int32
			if rng.Float64() < s.inCommunity {
				it = pick(commItems[c], commCum[c])
			} else {
				it = pick(all, allCum)
			}
			if seen[it] {
				continue
			}
			seen[it] = true
			ts += int64(1+rng.Intn(1000)) * 1e9
			clicks.User = append(clicks.User, int32(u))
			clicks.Item = append(clicks.Item, it)
			clicks.TS = append(clicks.TS, ts)
		}
	}
	fb.fields = []data.Field{
		{Name: "items", Kind: data.FieldBag, Size: s.items},
		{Name: "items.genre", Kind: data.FieldBag, Size: genres},
		{Name: "users.age", Kind: data.FieldContinuous},
		{Name: "users.gender", Kind: data.FieldBag, Size: 2},
		{Name: "users.occupation", Kind: data.FieldBag, Size: occupations},
		{Name: "users.zip", Kind: data.FieldBag, Size: zips},
	}
	p.clicks, p.fb = clicks, fb
	return p
}
