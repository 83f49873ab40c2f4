// Package synth generates synthetic click logs with planted structure, for
// tests, examples and the quickstart.
//
// The generative story:
//
//   - There are Communities latent interest communities of uneven size.
//   - Every user belongs to one primary community (the planted truth) and has
//     one secondary community. Demographics follow the primary community: an
//     "age" (float, community mean ± noise), a "gender" (string, community
//     share), a "region" (int64 categorical, community home region) and a list
//     of "interests" (list<string>, mostly the community's own topic tags).
//   - Every item belongs to one community, has a power-law popularity
//     (weight ∝ (rank+1)^-1 within its community: a few head items and a fat
//     long tail) and a release time: most of the catalogue exists from the
//     start, the rest appears uniformly over the time span. Items have a
//     "category" (string, usually the community's) and "tags" (list<string>,
//     mostly the community's topic tags, shared with users' interests).
//   - Users' activity is log-normal with mean ClicksPerUser (sigma 0.8, or
//     ActivitySkew for a heavier tail). Each click picks,
//     with probability Noise, an item by global popularity; otherwise an item of
//     the primary (80%) or secondary (20%) community by popularity within it.
//     A user rarely clicks the same item twice (a few re-clicks remain, as in
//     real logs). The click time is uniform between the item's release and the
//     end of the span, in whole seconds, so no click precedes its item.
//
// Generation is deterministic for a Config (Seed included) and independent of
// GOMAXPROCS: users are generated in fixed-size chunks, each with its own
// random stream derived from Seed and the chunk number.
package synth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ralmlab/ralm/data"
)

// Config sets the size and shape of a synthetic data set. Use DefaultConfig
// and change what you need; Validate reports bad values.
type Config struct {
	Users         int     // number of users (> 0)
	Items         int     // number of items (> 0)
	ClicksPerUser float64 // mean clicks per user (> 0); each user has at least one
	Communities   int     // latent communities (1 ≤ Communities ≤ min(Users, Items))
	Days          int     // time span of the log in days (> 0)
	// Noise in [0,1] is the share of clicks drawn by global popularity rather
	// than by interest, and also blurs the demographics and tags.
	Noise float64
	// NewItems in [0,1) is the share of items released during the span rather
	// than at its start.
	NewItems float64
	// ActivitySkew, when positive, is the log-normal sigma of clicks per
	// user (mean still ClicksPerUser, capped at 50 times it): 2 gives a
	// heavy tail where the top tenth of users make most clicks, as in real
	// feeds. Zero keeps the default sigma of 0.8.
	ActivitySkew float64
	// Start is the start of the span; the zero value means 2024-01-01 UTC.
	Start time.Time
	// StringIDs makes user and item ids strings ("u17", "i42") instead of
	// int64 (17, 42). Ids are 1-based: user index i has id i+1.
	StringIDs bool
	Seed      int64 // random seed; equal configs give equal data sets
	// Progress, if set, is called from the calling goroutine with the number
	// of users generated so far and the total.
	Progress func(done, total int)
}

// DefaultConfig returns a small configuration (10,000 users, 2,000 items,
// 20 clicks per user, 10 communities over 30 days, 10% noise).
func DefaultConfig() Config {
	return Config{
		Users:         10000,
		Items:         2000,
		ClicksPerUser: 20,
		Communities:   10,
		Days:          30,
		Noise:         0.1,
		NewItems:      0.3,
		Seed:          1,
	}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	switch {
	case c.Users <= 0:
		return fmt.Errorf("synth: Users must be positive, got %d", c.Users)
	case c.Users > math.MaxInt32-1:
		return fmt.Errorf("synth: Users must be below 2^31-1, got %d", c.Users)
	case c.Items <= 0:
		return fmt.Errorf("synth: Items must be positive, got %d", c.Items)
	case c.Items > math.MaxInt32-1:
		return fmt.Errorf("synth: Items must be below 2^31-1, got %d", c.Items)
	case !(c.ClicksPerUser > 0) || math.IsInf(c.ClicksPerUser, 0):
		return fmt.Errorf("synth: ClicksPerUser must be positive and finite, got %g", c.ClicksPerUser)
	case c.ClicksPerUser > float64(c.Items):
		return fmt.Errorf("synth: ClicksPerUser (%g) must not exceed Items (%d)", c.ClicksPerUser, c.Items)
	case float64(c.Users)*c.ClicksPerUser > 1.5e9:
		return fmt.Errorf("synth: Users×ClicksPerUser (%g) is too large (max 1.5e9)", float64(c.Users)*c.ClicksPerUser)
	case c.Communities <= 0:
		return fmt.Errorf("synth: Communities must be positive, got %d", c.Communities)
	case c.Communities > c.Users || c.Communities > c.Items:
		return fmt.Errorf("synth: Communities (%d) must not exceed Users (%d) or Items (%d)", c.Communities, c.Users, c.Items)
	case c.Days <= 0:
		return fmt.Errorf("synth: Days must be positive, got %d", c.Days)
	case c.Days > 36500:
		return fmt.Errorf("synth: Days must be at most 36500, got %d", c.Days)
	case !(c.ActivitySkew >= 0 && c.ActivitySkew <= 5):
		return fmt.Errorf("synth: ActivitySkew must be in [0,5], got %g", c.ActivitySkew)
	case !(c.Noise >= 0 && c.Noise <= 1):
		return fmt.Errorf("synth: Noise must be in [0,1], got %g", c.Noise)
	case !(c.NewItems >= 0 && c.NewItems < 1):
		return fmt.Errorf("synth: NewItems must be in [0,1), got %g", c.NewItems)
	}
	return nil
}

// Dataset is a generated data set and its planted truth.
type Dataset struct {
	// Clicks is the click log, grouped by user in user index order and in
	// time order within a user. Clicks.Users holds every user (index i has
	// id i+1) and Clicks.Items every item, clicked or not.
	Clicks *data.Clicks
	// Users is the users table (user_id, age, gender, region, interests);
	// row i is user index i and Users.Keys is the same Vocab as Clicks.Users.
	Users *data.Table
	// Items is the items table (item_id, category, tags); row i is item
	// index i and Items.Keys is the same Vocab as Clicks.Items.
	Items *data.Table
	// UserCommunity is each user's primary community, by user index.
	UserCommunity []int32
	// ItemCommunity is each item's community, by item index.
	ItemCommunity []int32
	// ItemRelease is each item's release time (Unix nanoseconds), by item
	// index; no click on an item is earlier.
	ItemRelease []int64
	// Config is the configuration the data set was generated from (with
	// Start filled in and Progress cleared).
	Config Config
}

// Column names of the generated tables.
const (
	ColAge       = "age"       // users: float64, continuous
	ColGender    = "gender"    // users: string, categorical
	ColRegion    = "region"    // users: int64, categorical
	ColInterests = "interests" // users: list<string>
	ColCategory  = "category"  // items: string, categorical
	ColTags      = "tags"      // items: list<string>
)

// Fixed shape parameters of the generative story.
const (
	popularityExponent = 1.0  // item weight ∝ (rank+1)^-popularityExponent
	primaryShare       = 0.8  // share of interest clicks in the primary community
	activitySigma      = 0.8  // log-normal sigma of clicks per user
	tagsPerCommunity   = 4    // topic tags owned by each community
	numRegions         = 20   // distinct regions
	regionLoyalty      = 0.6  // chance a user lives in the community's home region
	categoryLoyalty    = 0.85 // chance an item's category is its community's
	chunkUsers         = 8192 // users per generation chunk (fixes the random streams)
	maxRetries         = 8    // draws tried to avoid a re-click
)

var topicWords = []string{
	"music", "sports", "cooking", "travel", "gaming", "fashion", "finance", "science",
	"movies", "books", "fitness", "cars", "pets", "gardening", "photography", "art",
	"history", "politics", "tech", "comedy", "health", "parenting", "crafts", "design",
	"anime", "hiking", "cycling", "coffee", "wine", "poetry", "jazz", "chess",
	"football", "tennis", "yoga", "diy", "startups", "space", "nature", "theatre",
}

func tagName(t int) string {
	w := topicWords[t%len(topicWords)]
	if r := t / len(topicWords); r > 0 {
		return w + "-" + strconv.Itoa(r+1)
	}
	return w
}

// world is the community-level structure shared by all chunks (read-only
// once built).
type world struct {
	cfg        Config
	commWeight []float64 // community size weights (cumulative)
	ageMean    []float64
	femaleP    []float64
	homeRegion []int32
	// items of each community sorted by descending popularity, with
	// cumulative weights for sampling.
	commItems [][]int32
	commDraw  []aliasTable
	allDraw   aliasTable
	release   []int64 // seconds after start
	spanSec   int64
	startNS   int64
}

// Generate builds a data set. It honours ctx cancellation between chunks.
func Generate(ctx context.Context, cfg Config) (*Dataset, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	w := newWorld(cfg)
	ds := &Dataset{Config: cfg}
	ds.Config.Progress = nil
	ds.ItemCommunity, ds.Items = w.items()
	ds.ItemRelease = make([]int64, cfg.Items)
	for i, r := range w.release {
		ds.ItemRelease[i] = w.startNS + r*int64(time.Second)
	}

	// The user vocabulary does not depend on the clicks: build it while the
	// chunks are generated.
	userKind, prefix := data.IDInt64, ""
	if cfg.StringIDs {
		userKind, prefix = data.IDString, "u"
	}
	users := data.NewVocab(userKind)
	vocabDone := make(chan struct{})
	go func() {
		defer close(vocabDone)
		for i := 0; i < cfg.Users; i++ {
			users.MustAdd(prefix + strconv.Itoa(i+1))
		}
	}()
	nChunks := (cfg.Users + chunkUsers - 1) / chunkUsers
	chunks := make([]*chunk, nChunks)
	err := w.runChunks(ctx, chunks)
	<-vocabDone
	if err != nil {
		return nil, err
	}

	// Assemble in chunk order.
	total := 0
	for _, ch := range chunks {
		total += len(ch.item)
	}
	clicks := &data.Clicks{
		Users: users,
		Items: ds.Items.Keys,
		User:  make([]int32, 0, total),
		Item:  make([]int32, 0, total),
		TS:    make([]int64, 0, total),
	}
	ds.UserCommunity = make([]int32, 0, cfg.Users)
	age := make([]float64, 0, cfg.Users)
	gender := codedColumn(ColGender, data.ColumnCategorical, data.IDString, cfg.Users, cfg.Users)
	for _, g := range []string{"female", "male"} {
		gender.Values.MustAdd(g)
	}
	region := codedColumn(ColRegion, data.ColumnCategorical, data.IDInt64, cfg.Users, cfg.Users)
	for r := 0; r < numRegions; r++ {
		region.Values.MustAdd(strconv.Itoa(r + 1))
	}
	interests := codedColumn(ColInterests, data.ColumnMulti, data.IDString, cfg.Users, cfg.Users*3)
	for t := 0; t < cfg.Communities*tagsPerCommunity; t++ {
		interests.Values.MustAdd(tagName(t))
	}
	for _, ch := range chunks {
		clicks.User = append(clicks.User, ch.user...)
		clicks.Item = append(clicks.Item, ch.item...)
		clicks.TS = append(clicks.TS, ch.ts...)
		ds.UserCommunity = append(ds.UserCommunity, ch.community...)
		age = append(age, ch.age...)
		for k := range ch.gender {
			gender.Codes = append(gender.Codes, ch.gender[k])
			gender.Offsets = append(gender.Offsets, int32(len(gender.Codes)))
			region.Codes = append(region.Codes, ch.region[k])
			region.Offsets = append(region.Offsets, int32(len(region.Codes)))
		}
		base := int32(len(interests.Codes))
		interests.Codes = append(interests.Codes, ch.interests...)
		for _, off := range ch.interestOff[1:] {
			interests.Offsets = append(interests.Offsets, base+off)
		}
	}
	ds.Clicks = clicks
	ds.Users = &data.Table{
		Keys: users,
		Columns: []data.Column{
			{Name: ColAge, Kind: data.ColumnContinuous, Floats: age},
			gender, region, interests,
		},
	}
	return ds, nil
}

func codedColumn(name string, kind data.ColumnKind, valueKind data.IDKind, rows, codes int) data.Column {
	off := make([]int32, 1, rows+1)
	return data.Column{Name: name, Kind: kind, Values: data.NewVocab(valueKind), Offsets: off, Codes: make([]int32, 0, codes)}
}

// seedStream derives an independent PCG stream for a purpose and an index.
func seedStream(seed int64, purpose, index uint64) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(uint64(seed)^splitmix(purpose)), splitmix(index+0x9e3779b97f4a7c15*purpose)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

const (
	streamWorld = 1
	streamChunk = 2
)

func newWorld(cfg Config) *world {
	rng := seedStream(cfg.Seed, streamWorld, 0)
	C := cfg.Communities
	w := &world{cfg: cfg, spanSec: int64(cfg.Days) * 86400, startNS: cfg.Start.UnixNano()}
	// Community sizes: mildly uneven, weight ∝ (k+1)^-0.5, in random order.
	perm := rng.Perm(C)
	w.commWeight = make([]float64, C)
	acc := 0.0
	for k := 0; k < C; k++ {
		acc += math.Pow(float64(perm[k]+1), -0.5)
		w.commWeight[k] = acc
	}
	w.ageMean = make([]float64, C)
	w.femaleP = make([]float64, C)
	w.homeRegion = make([]int32, C)
	agePerm := rng.Perm(C)
	for k := 0; k < C; k++ {
		// Community mean ages evenly spaced over [20, 62], in random order.
		w.ageMean[k] = 20 + 42*(float64(agePerm[k])+0.5)/float64(C)
		w.femaleP[k] = 0.15 + 0.7*rng.Float64()
		w.homeRegion[k] = int32(rng.IntN(numRegions))
	}
	return w
}

// items draws item communities, popularity and release times and builds
// the items table.
func (w *world) items() ([]int32, *data.Table) {
	cfg := w.cfg
	rng := seedStream(cfg.Seed, streamWorld, 1)
	C := cfg.Communities
	comm := make([]int32, cfg.Items)
	// Every community gets at least one item; the rest by community weight.
	for i := range comm {
		if i < C {
			comm[i] = int32(i)
		} else {
			comm[i] = int32(pick(w.commWeight, rng.Float64()*w.commWeight[C-1]))
		}
	}
	rng.Shuffle(len(comm), func(a, b int) { comm[a], comm[b] = comm[b], comm[a] })

	// Popularity: a random rank within the community.
	w.commItems = make([][]int32, C)
	for i, k := range comm {
		w.commItems[k] = append(w.commItems[k], int32(i))
	}
	weight := make([]float64, cfg.Items)
	commSum := make([]float64, C)
	w.commDraw = make([]aliasTable, C)
	for k, its := range w.commItems {
		rng.Shuffle(len(its), func(a, b int) { its[a], its[b] = its[b], its[a] })
		ws := make([]float64, len(its))
		for r, it := range its {
			ws[r] = math.Pow(float64(r+1), -popularityExponent)
			weight[it] = ws[r]
			commSum[k] += ws[r]
		}
		w.commDraw[k] = newAliasTable(ws)
	}
	// Global popularity: community weight × within-community share, so the
	// noise clicks follow the same head and tail.
	global := make([]float64, cfg.Items)
	for i := range global {
		k := comm[i]
		cw := w.commWeight[k]
		if k > 0 {
			cw -= w.commWeight[k-1]
		}
		global[i] = cw * weight[i] / commSum[k]
	}
	w.allDraw = newAliasTable(global)

	// Release times: a share of the catalogue appears during the span, never
	// in its last tenth, so new items still collect clicks.
	w.release = make([]int64, cfg.Items)
	for i := range w.release {
		if rng.Float64() < cfg.NewItems {
			w.release[i] = 1 + rng.Int64N(w.spanSec*9/10)
		}
	}

	kind, prefix := data.IDInt64, ""
	if cfg.StringIDs {
		kind, prefix = data.IDString, "i"
	}
	keys := data.NewVocab(kind)
	category := codedColumn(ColCategory, data.ColumnCategorical, data.IDString, cfg.Items, cfg.Items)
	for k := 0; k < C; k++ {
		category.Values.MustAdd(fmt.Sprintf("cat%02d", k+1))
	}
	tags := codedColumn(ColTags, data.ColumnMulti, data.IDString, cfg.Items, cfg.Items*2)
	for t := 0; t < C*tagsPerCommunity; t++ {
		tags.Values.MustAdd(tagName(t))
	}
	for i := 0; i < cfg.Items; i++ {
		keys.MustAdd(prefix + strconv.Itoa(i+1))
		k := int(comm[i])
		cat := k
		if rng.Float64() >= categoryLoyalty {
			cat = rng.IntN(C)
		}
		category.Codes = append(category.Codes, int32(cat))
		category.Offsets = append(category.Offsets, int32(len(category.Codes)))
		start := len(tags.Codes)
		tags.Codes = appendTags(rng, tags.Codes, start, k, C, 1+rng.IntN(3), cfg.Noise)
		tags.Offsets = append(tags.Offsets, int32(len(tags.Codes)))
	}
	return comm, &data.Table{Keys: keys, Columns: []data.Column{category, tags}}
}

// appendTags appends n distinct tag codes (fewer if duplicates keep coming)
// drawn mostly from community k's tags; codes[start:] is the current row.
func appendTags(rng *rand.Rand, codes []int32, start, k, C, n int, noise float64) []int32 {
	for tries := 0; len(codes)-start < n && tries < 4*n; tries++ {
		var t int
		if rng.Float64() < noise {
			t = rng.IntN(C * tagsPerCommunity)
		} else {
			t = k*tagsPerCommunity + rng.IntN(tagsPerCommunity)
		}
		if !slices.Contains(codes[start:], int32(t)) {
			codes = append(codes, int32(t))
		}
	}
	return codes
}

// pick returns the first index whose cumulative weight exceeds x.
func pick(cum []float64, x float64) int {
	i, _ := slices.BinarySearch(cum, x)
	// BinarySearch finds the first cum >= x; we want the first > x.
	for i < len(cum)-1 && cum[i] <= x {
		i++
	}
	if i >= len(cum) {
		i = len(cum) - 1
	}
	return i
}

// chunk holds the users and clicks generated for one range of users.
type chunk struct {
	user, item  []int32
	ts          []int64
	community   []int32
	age         []float64
	gender      []int32
	region      []int32
	interests   []int32
	interestOff []int32
}

func (w *world) runChunks(ctx context.Context, chunks []*chunk) error {
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	jobs := make(chan int)
	done := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := make([]int32, w.cfg.Items) // seen[item] == user+1: already clicked
			for c := range jobs {
				chunks[c] = w.genChunk(c, seen)
				done <- c
			}
		}()
	}
	go func() {
		defer close(jobs)
		for c := range chunks {
			select {
			case jobs <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	users := 0
	for c := range done {
		users += min(chunkUsers, w.cfg.Users-c*chunkUsers)
		if w.cfg.Progress != nil {
			w.cfg.Progress(users, w.cfg.Users)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	for _, ch := range chunks {
		if ch == nil {
			return errors.New("synth: internal error: chunk not generated")
		}
	}
	return nil
}

func (w *world) genChunk(c int, seen []int32) *chunk {
	cfg := w.cfg
	rng := seedStream(cfg.Seed, streamChunk, uint64(c))
	lo := c * chunkUsers
	hi := min(lo+chunkUsers, cfg.Users)
	n := hi - lo
	est := int(float64(n)*cfg.ClicksPerUser*1.05) + 16
	ch := &chunk{
		user: make([]int32, 0, est), item: make([]int32, 0, est), ts: make([]int64, 0, est),
		community: make([]int32, n), age: make([]float64, n), gender: make([]int32, n),
		region: make([]int32, n), interests: make([]int32, 0, 3*n), interestOff: make([]int32, 1, n+1),
	}
	C := cfg.Communities
	total := w.commWeight[C-1]
	sigma := activitySigma
	if cfg.ActivitySkew > 0 {
		sigma = cfg.ActivitySkew
	}
	mu := math.Log(cfg.ClicksPerUser) - sigma*sigma/2
	maxClicks := min(cfg.Items, int(math.Ceil(cfg.ClicksPerUser*50)))
	for j := 0; j < n; j++ {
		u := int32(lo + j)
		k := pick(w.commWeight, rng.Float64()*total)
		k2 := pick(w.commWeight, rng.Float64()*total)
		ch.community[j] = int32(k)

		// Demographics.
		age := w.ageMean[k] + 5*rng.NormFloat64()
		if rng.Float64() < cfg.Noise {
			age = 16 + 60*rng.Float64()
		}
		ch.age[j] = math.Round(min(max(age, 14), 90)*10) / 10
		if rng.Float64() < w.femaleP[k] {
			ch.gender[j] = 0
		} else {
			ch.gender[j] = 1
		}
		if rng.Float64() < regionLoyalty {
			ch.region[j] = w.homeRegion[k]
		} else {
			ch.region[j] = int32(rng.IntN(numRegions))
		}
		start := len(ch.interests)
		ch.interests = appendTags(rng, ch.interests, start, k, C, 1+rng.IntN(4), cfg.Noise)
		ch.interestOff = append(ch.interestOff, int32(len(ch.interests)))

		// Clicks.
		nc := int(math.Round(math.Exp(mu + sigma*rng.NormFloat64())))
		nc = min(max(nc, 1), maxClicks)
		first := len(ch.item)
		for range nc {
			var it int32
			for try := 0; ; try++ {
				it = w.drawItem(rng, k, k2)
				if seen[it] != u+1 || try == maxRetries {
					break
				}
			}
			seen[it] = u + 1
			rel := w.release[it]
			sec := rel + rng.Int64N(w.spanSec-rel)
			ch.user = append(ch.user, u)
			ch.item = append(ch.item, it)
			ch.ts = append(ch.ts, w.startNS+sec*int64(time.Second))
		}
		sortByTime(ch.item[first:], ch.ts[first:])
	}
	return ch
}

func (w *world) drawItem(rng *rand.Rand, k, k2 int) int32 {
	r := rng.Float64()
	if r < w.cfg.Noise {
		return w.allDraw.draw(rng)
	}
	if r >= w.cfg.Noise+(1-w.cfg.Noise)*primaryShare {
		k = k2
	}
	return w.commItems[k][w.commDraw[k].draw(rng)]
}

// sortByTime sorts one user's clicks by (ts, item) with an insertion sort:
// the slices are short.
func sortByTime(item []int32, ts []int64) {
	if len(item) > 48 {
		idx := make([]int, len(item))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int {
			if ts[a] != ts[b] {
				if ts[a] < ts[b] {
					return -1
				}
				return 1
			}
			return int(item[a]) - int(item[b])
		})
		it2 := make([]int32, len(item))
		ts2 := make([]int64, len(ts))
		for i, p := range idx {
			it2[i], ts2[i] = item[p], ts[p]
		}
		copy(item, it2)
		copy(ts, ts2)
		return
	}
	for i := 1; i < len(item); i++ {
		it, t := item[i], ts[i]
		j := i
		for ; j > 0 && (ts[j-1] > t || (ts[j-1] == t && item[j-1] > it)); j-- {
			item[j], ts[j] = item[j-1], ts[j-1]
		}
		item[j], ts[j] = it, t
	}
}
