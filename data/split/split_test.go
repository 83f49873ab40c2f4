package split

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/synth"
)

// click is one hand-written click with external ids.
type click struct {
	user, item string
	ts         int64
}

func build(kind data.IDKind, cs []click) *data.Clicks {
	c := &data.Clicks{Users: data.NewVocab(kind), Items: data.NewVocab(kind)}
	for _, x := range cs {
		c.User = append(c.User, c.Users.MustAdd(x.user))
		c.Item = append(c.Item, c.Items.MustAdd(x.item))
		c.TS = append(c.TS, x.ts)
	}
	return c
}

// external lists a click log as external-id triples, in its order.
func external(c *data.Clicks) []click {
	out := make([]click, c.Len())
	for i := range out {
		out[i] = click{c.Users.ID(c.User[i]), c.Items.ID(c.Item[i]), c.TS[i]}
	}
	return out
}

func ids(v *data.Vocab, idx []int32) []string {
	out := make([]string, len(idx))
	for i, x := range idx {
		out[i] = v.ID(x)
	}
	return out
}

func mustSplit(t *testing.T, c *data.Clicks, opt Options) *Result {
	t.Helper()
	r, err := Split(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDedupeKeepsEarliest(t *testing.T) {
	c := build(data.IDInt64, []click{
		{"1", "7", 50}, {"1", "7", 30}, {"1", "8", 40}, {"1", "7", 90},
		{"2", "7", 10}, {"2", "7", 10},
	})
	r := mustSplit(t, c, Options{})
	if r.Duplicates != 3 {
		t.Fatalf("Duplicates = %d, want 3", r.Duplicates)
	}
	want := []click{{"1", "7", 30}, {"1", "8", 40}, {"2", "7", 10}}
	if got := external(r.Train); !reflect.DeepEqual(got, want) {
		t.Fatalf("train = %v, want %v", got, want)
	}
	if r.Heldout.Len() != 0 {
		t.Fatalf("held out %v from users with fewer than 5 clicks", external(r.Heldout))
	}
}

// TestTiesInTS: equal timestamps are ordered by external item id, numerically
// for int64 ids and lexicographically for strings.
func TestTiesInTS(t *testing.T) {
	tests := []struct {
		kind  data.IDKind
		items []string
		want  string
	}{
		{data.IDInt64, []string{"10", "2", "33", "4", "1"}, "33"},
		{data.IDInt64, []string{"-5", "9", "100", "0", "11"}, "100"},
		{data.IDString, []string{"i10", "i2", "i33", "i4", "i1"}, "i4"},
		{data.IDString, []string{"b", "B", "a", "ab", "A"}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"/"+tt.want, func(t *testing.T) {
			var cs []click
			for _, it := range tt.items {
				cs = append(cs, click{"u", it, 100})
			}
			if tt.kind == data.IDInt64 {
				for i := range cs {
					cs[i].user = "42"
				}
			}
			r := mustSplit(t, build(tt.kind, cs), Options{})
			got := external(r.Heldout)
			if len(got) != 1 || got[0].item != tt.want {
				t.Fatalf("held out %v, want item %s", got, tt.want)
			}
			if r.Train.Len() != 4 {
				t.Fatalf("train has %d clicks, want 4", r.Train.Len())
			}
		})
	}
	// A later click is held out even when its item id is smaller.
	r := mustSplit(t, build(data.IDInt64, []click{
		{"1", "1", 9}, {"1", "2", 5}, {"1", "3", 5}, {"1", "4", 5}, {"1", "5", 5}, {"1", "6", 5},
	}), Options{})
	if got := external(r.Heldout); !reflect.DeepEqual(got, []click{{"1", "6", 5}, {"1", "1", 9}}) {
		t.Fatalf("held out %v", got)
	}
}

func TestHoldoutCount(t *testing.T) {
	for n := 0; n <= 26; n++ {
		var cs []click
		for i := range n {
			cs = append(cs, click{"1", strconv.Itoa(i + 1), int64(i)})
		}
		cs = append(cs, click{"2", "1", 0}) // keep the log non-empty for n = 0
		r := mustSplit(t, build(data.IDInt64, cs), Options{})
		want := 0
		if n >= 5 {
			want = (n + 4) / 5 // = ceil(n/5)
			if want*5 < n || (want-1)*5 >= n {
				t.Fatalf("bad reference for n=%d", n)
			}
		}
		if r.Heldout.Len() != want {
			t.Fatalf("n=%d: held out %d, want %d", n, r.Heldout.Len(), want)
		}
		// The held-out clicks are the last ones.
		for i, h := range external(r.Heldout) {
			if h.ts != int64(n-want+i) {
				t.Fatalf("n=%d: held out %v", n, external(r.Heldout))
			}
		}
	}
}

// fillers returns k clicks of user u on items unique to that user.
func fillers(u string, k int, ts0 int64) []click {
	out := make([]click, k)
	for i := range out {
		out[i] = click{u, "f" + u + "." + strconv.Itoa(i), ts0 + int64(i)}
	}
	return out
}

// warmLog builds, for each item, train users whose click on it stays in
// training and held-out users whose click on it is their last of 5.
func warmLog(spec map[string][2]int) []click {
	var cs []click
	u := 0
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range spec {
			if !yield(k) {
				return
			}
		}
	})
	for _, it := range names {
		s := spec[it]
		for range s[0] {
			u++
			id := "u" + strconv.Itoa(u)
			cs = append(cs, click{id, it, 0})
			cs = append(cs, fillers(id, 4, 1)...)
		}
		for range s[1] {
			u++
			id := "u" + strconv.Itoa(u)
			cs = append(cs, fillers(id, 4, 0)...)
			cs = append(cs, click{id, it, 10})
		}
	}
	return cs
}

func TestWarmThresholds(t *testing.T) {
	spec := map[string][2]int{
		"warm":       {10, 3},
		"warm-big":   {25, 7},
		"train9":     {9, 3},
		"held2":      {10, 2},
		"both-short": {9, 2},
	}
	c := build(data.IDString, warmLog(spec))
	r := mustSplit(t, c, Options{})
	if got, want := ids(c.Items, r.WarmItems), []string{"warm", "warm-big"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("warm items %v, want %v", got, want)
	}
	// Positives of "warm" are exactly its 3 held-out users.
	var pos []string
	for _, h := range external(r.Heldout) {
		if h.item == "warm" {
			pos = append(pos, h.user)
		}
	}
	if len(pos) != 3 {
		t.Fatalf("warm has positives %v, want 3", pos)
	}
	w, err := WarmItems(r.Train, r.Heldout)
	if err != nil || !reflect.DeepEqual(w, r.WarmItems) {
		t.Fatalf("WarmItems = %v, %v; want %v", w, err, r.WarmItems)
	}
}

// clickersLog gives item it n distinct clickers (users prefix+1..n) at the
// given timestamps, plus dup repeated clicks.
func clickersLog(it, prefix string, n, dup int, ts func(i int) int64) []click {
	var cs []click
	for i := range n {
		cs = append(cs, click{prefix + strconv.Itoa(i+1), it, ts(i)})
	}
	for i := range dup {
		cs = append(cs, click{prefix + "1", it, 1000 + int64(i)})
	}
	return cs
}

func TestFreshEligibility(t *testing.T) {
	var cs []click
	cs = append(cs, clickersLog("at20", "a", 20, 0, func(i int) int64 { return int64(i) })...)
	cs = append(cs, clickersLog("at19", "b", 19, 0, func(i int) int64 { return int64(i) })...)
	cs = append(cs, clickersLog("dup19", "c", 19, 6, func(i int) int64 { return int64(i) })...)
	c := build(data.IDString, cs)
	r := mustSplit(t, c, Options{FreshFraction: 1, Seed: 3})
	if got := ids(c.Items, r.FreshItems); !reflect.DeepEqual(got, []string{"at20"}) || r.Eligible != 1 {
		t.Fatalf("fresh items %v (eligible %d), want [at20] of 1", got, r.Eligible)
	}
	for _, x := range append(external(r.Train), external(r.Heldout)...) {
		if x.item == "at20" {
			t.Fatalf("fresh item click %v left in training or warm held-out data", x)
		}
	}
	if r.FreshSeeds.Len()+r.FreshHeldout.Len() != 20 {
		t.Fatalf("fresh clicks %d+%d, want 20", r.FreshSeeds.Len(), r.FreshHeldout.Len())
	}
	r0 := mustSplit(t, c, Options{FreshFraction: 0})
	if len(r0.FreshItems) != 0 || r0.FreshSeeds.Len() != 0 {
		t.Fatal("FreshFraction 0 drew fresh items")
	}
}

func TestFreshCountRounding(t *testing.T) {
	tests := []struct {
		eligible int
		f        float64
		want     int
	}{
		{25, 0.1, 3}, // 2.5 rounds up
		{15, 0.1, 2}, // 1.5 rounds up
		{14, 0.1, 1},
		{4, 0.1, 0},
		{5, 0.1, 1},
		{10, 0.5, 5},
		{10, 1, 10},
	}
	for _, tt := range tests {
		var cs []click
		for i := range tt.eligible {
			cs = append(cs, clickersLog(strconv.Itoa(1000+i), "", 20, 0, func(j int) int64 { return int64(j) })...)
		}
		c := build(data.IDInt64, cs)
		r := mustSplit(t, c, Options{FreshFraction: tt.f, Seed: 1})
		if len(r.FreshItems) != tt.want || r.Eligible != tt.eligible {
			t.Errorf("eligible %d f %g: %d fresh (eligible %d), want %d", tt.eligible, tt.f, len(r.FreshItems), r.Eligible, tt.want)
		}
	}
}

func TestFreshSeedCount(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 0}, {5, 5}, {10, 10}, {15, 10}, {19, 10}, {20, 10}, {21, 10}, {22, 11}, {25, 12}, {100, 50},
	}
	for _, tt := range tests {
		if got := freshSeedCount(tt.n); got != tt.want {
			t.Errorf("freshSeedCount(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestFreshSeedsOrder(t *testing.T) {
	// 25 clickers: seeds are the first 12 by (ts, user_id). Users 1..25
	// click in reverse order, and users 10..19 all at the same time, so the
	// tie is broken by numeric user id (10 < 11 < ... < 19, not "10" < "2").
	ts := func(i int) int64 {
		u := i + 1
		if u >= 10 && u <= 19 {
			return 100
		}
		return int64(1000 - u)
	}
	cs := clickersLog("77", "", 25, 0, ts)
	c := build(data.IDInt64, cs)
	r := mustSplit(t, c, Options{FreshFraction: 1})
	var seeds, pos []string
	for _, x := range external(r.FreshSeeds) {
		seeds = append(seeds, x.user)
	}
	for _, x := range external(r.FreshHeldout) {
		pos = append(pos, x.user)
	}
	wantSeeds := []string{"10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "25", "24"}
	wantPos := []string{"23", "22", "21", "20", "9", "8", "7", "6", "5", "4", "3", "2", "1"}
	if !reflect.DeepEqual(seeds, wantSeeds) || !reflect.DeepEqual(pos, wantPos) {
		t.Fatalf("seeds %v positives %v\nwant %v and %v", seeds, pos, wantSeeds, wantPos)
	}
}

// TestFreshRemovedBeforeHoldout: clicks on fresh items do not count towards
// a user's 5 remaining clicks.
func TestFreshRemovedBeforeHoldout(t *testing.T) {
	cs := clickersLog("500", "", 20, 0, func(i int) int64 { return 0 })
	for i := range 4 {
		cs = append(cs, click{"1", strconv.Itoa(600 + i), int64(10 + i)})
	}
	for i := range 5 {
		cs = append(cs, click{"2", strconv.Itoa(600 + i), int64(10 + i)})
	}
	r := mustSplit(t, build(data.IDInt64, cs), Options{FreshFraction: 1})
	got := external(r.Heldout)
	if want := []click{{"2", "604", 14}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("held out %v, want %v", got, want)
	}
}

func synthClicks(t testing.TB, seed int64, strIDs bool) *data.Clicks {
	t.Helper()
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.ClicksPerUser, cfg.Communities = 2000, 400, 12, 5
	cfg.Seed, cfg.StringIDs = seed, strIDs
	ds, err := synth.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ds.Clicks
}

func TestDeterminismAndRowOrder(t *testing.T) {
	for _, strIDs := range []bool{false, true} {
		c := synthClicks(t, 5, strIDs)
		opt := Options{FreshFraction: 0.2, Seed: 9}
		a := mustSplit(t, c, opt)
		b := mustSplit(t, c, opt)
		if !reflect.DeepEqual(a, b) {
			t.Fatal("same seed gave different splits")
		}
		if len(a.FreshItems) < 5 || len(a.WarmItems) < 20 {
			t.Fatalf("degenerate split: %d fresh, %d warm", len(a.FreshItems), len(a.WarmItems))
		}
		opt.Seed = 10
		if d := mustSplit(t, c, opt); reflect.DeepEqual(d.FreshItems, a.FreshItems) {
			t.Fatal("different seeds drew the same fresh items")
		}

		// Shuffling the rows (and so the vocabulary order) changes nothing
		// in terms of external ids.
		rows := external(c)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		kind := data.IDInt64
		if strIDs {
			kind = data.IDString
		}
		s := build(kind, rows)
		e := mustSplit(t, s, Options{FreshFraction: 0.2, Seed: 9})
		if !reflect.DeepEqual(ids(c.Items, a.FreshItems), ids(s.Items, e.FreshItems)) ||
			!reflect.DeepEqual(ids(c.Items, a.WarmItems), ids(s.Items, e.WarmItems)) {
			t.Fatal("row order changed the fresh or warm items")
		}
		for _, pair := range [][2]*data.Clicks{{a.Train, e.Train}, {a.Heldout, e.Heldout}, {a.FreshSeeds, e.FreshSeeds}, {a.FreshHeldout, e.FreshHeldout}} {
			x, y := external(pair[0]), external(pair[1])
			sortClicksExt(x)
			sortClicksExt(y)
			if !reflect.DeepEqual(x, y) {
				t.Fatal("row order changed the split")
			}
		}
	}
}

func sortClicksExt(cs []click) {
	slices.SortFunc(cs, func(a, b click) int {
		return strings.Compare(a.user+"\x00"+a.item, b.user+"\x00"+b.item)
	})
}

// TestPartition: the four outputs partition the deduplicated log and respect
// the protocol's order rules.
func TestPartition(t *testing.T) {
	c := synthClicks(t, 7, false)
	r := mustSplit(t, c, DefaultOptions())
	if got := r.Train.Len() + r.Heldout.Len() + r.FreshSeeds.Len() + r.FreshHeldout.Len(); got != c.Len()-r.Duplicates {
		t.Fatalf("outputs hold %d clicks, want %d", got, c.Len()-r.Duplicates)
	}
	for _, o := range []*data.Clicks{r.Train, r.Heldout, r.FreshSeeds, r.FreshHeldout} {
		if o.Users != c.Users || o.Items != c.Items {
			t.Fatal("output does not share the input vocabularies")
		}
	}
	fresh := make(map[int32]bool)
	for _, it := range r.FreshItems {
		fresh[it] = true
	}
	lastTrain := make(map[int32]int64)
	for i := range r.Train.User {
		if fresh[r.Train.Item[i]] {
			t.Fatal("fresh item in train")
		}
		lastTrain[r.Train.User[i]] = max(lastTrain[r.Train.User[i]], r.Train.TS[i])
	}
	for i := range r.Heldout.User {
		if fresh[r.Heldout.Item[i]] {
			t.Fatal("fresh item in heldout")
		}
		if r.Heldout.TS[i] < lastTrain[r.Heldout.User[i]] {
			t.Fatal("held-out click earlier than a training click of the same user")
		}
	}
	for _, fc := range []*data.Clicks{r.FreshSeeds, r.FreshHeldout} {
		for i := range fc.Item {
			if !fresh[fc.Item[i]] {
				t.Fatal("non-fresh item among fresh clicks")
			}
		}
	}
	if r.FreshSeeds.Len() < MinFreshSeeds*len(r.FreshItems) {
		t.Fatal("too few fresh seeds")
	}
}

func TestBadInput(t *testing.T) {
	good := build(data.IDInt64, []click{{"1", "2", 3}})
	// (an int64 vocabulary holding "x" cannot be built: Vocab.Add refuses
	// it, see the data package's TestVocabAddKind)
	short := build(data.IDInt64, []click{{"1", "2", 3}})
	short.TS = nil
	outOfRange := build(data.IDInt64, []click{{"1", "2", 3}})
	outOfRange.Item[0] = 5
	tests := []struct {
		name string
		c    *data.Clicks
		opt  Options
		want string
	}{
		{"nil", nil, Options{}, "nil click log"},
		{"empty", build(data.IDInt64, nil), Options{}, "no clicks"},
		{"no vocab", &data.Clicks{}, Options{}, "vocabulary"},
		{"lengths", short, Options{}, "differ in length"},
		{"range", outOfRange, Options{}, "click 0: item index 5 out of range"},
		{"fraction", good, Options{FreshFraction: 1.5}, "fresh fraction must be in [0,1]"},
		{"negative fraction", good, Options{FreshFraction: -0.1}, "fresh fraction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Split(tt.c, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := WarmItems(good, build(data.IDInt64, nil)); err == nil || !strings.Contains(err.Error(), "share") {
		t.Fatalf("WarmItems with different vocabularies: %v", err)
	}
}

func BenchmarkSplit1M(b *testing.B) {
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.ClicksPerUser, cfg.Communities = 100_000, 20_000, 10, 20
	ds, err := synth.Generate(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Split(ds.Clicks, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
