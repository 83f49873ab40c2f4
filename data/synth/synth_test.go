package synth

import (
	"context"
	"errors"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
)

func small() Config {
	c := DefaultConfig()
	c.Users, c.Items, c.ClicksPerUser, c.Communities = 3000, 600, 15, 6
	return c
}

func gen(t testing.TB, c Config) *Dataset {
	t.Helper()
	ds, err := Generate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no users", func(c *Config) { c.Users = 0 }, "Users must be positive"},
		{"negative items", func(c *Config) { c.Items = -1 }, "Items must be positive"},
		{"zero clicks", func(c *Config) { c.ClicksPerUser = 0 }, "ClicksPerUser must be positive"},
		{"NaN clicks", func(c *Config) { c.ClicksPerUser = math.NaN() }, "ClicksPerUser must be positive"},
		{"clicks above items", func(c *Config) { c.ClicksPerUser = 5000 }, "must not exceed Items"},
		{"no communities", func(c *Config) { c.Communities = 0 }, "Communities must be positive"},
		{"too many communities", func(c *Config) { c.Communities = 5000 }, "must not exceed Users"},
		{"no days", func(c *Config) { c.Days = 0 }, "Days must be positive"},
		{"noise above 1", func(c *Config) { c.Noise = 1.5 }, "Noise must be in [0,1]"},
		{"noise NaN", func(c *Config) { c.Noise = math.NaN() }, "Noise must be in [0,1]"},
		{"new items 1", func(c *Config) { c.NewItems = 1 }, "NewItems must be in [0,1)"},
		{"negative skew", func(c *Config) { c.ActivitySkew = -1 }, "ActivitySkew must be in [0,5]"},
		{"skew NaN", func(c *Config) { c.ActivitySkew = math.NaN() }, "ActivitySkew must be in [0,5]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if _, gerr := Generate(context.Background(), c); gerr == nil {
				t.Fatal("Generate accepted an invalid config")
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	c := small()
	c.Users = 20000 // several chunks
	c.ClicksPerUser = 4
	a := gen(t, c)
	prev := runtime.GOMAXPROCS(1)
	b := gen(t, c)
	runtime.GOMAXPROCS(prev)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same config gave different data sets under different GOMAXPROCS")
	}
	c.Seed++
	d := gen(t, c)
	if reflect.DeepEqual(a.Clicks.Item, d.Clicks.Item) {
		t.Fatal("different seeds gave identical clicks")
	}
}

func TestInvariants(t *testing.T) {
	for _, strIDs := range []bool{false, true} {
		c := small()
		c.StringIDs = strIDs
		ds := gen(t, c)
		cl := ds.Clicks
		wantKind := data.IDInt64
		if strIDs {
			wantKind = data.IDString
		}
		if cl.Users.Kind() != wantKind || cl.Items.Kind() != wantKind {
			t.Fatalf("string ids %v: kinds %v/%v", strIDs, cl.Users.Kind(), cl.Items.Kind())
		}
		if cl.Users.Len() != c.Users || cl.Items.Len() != c.Items || ds.Users.Rows() != c.Users || ds.Items.Rows() != c.Items {
			t.Fatalf("sizes: vocab %d/%d tables %d/%d", cl.Users.Len(), cl.Items.Len(), ds.Users.Rows(), ds.Items.Rows())
		}
		wantID := "1"
		if strIDs {
			wantID = "u1"
		}
		if cl.Users.ID(0) != wantID {
			t.Fatalf("first user id %q, want %q", cl.Users.ID(0), wantID)
		}
		if len(cl.Item) != len(cl.User) || len(cl.TS) != len(cl.User) {
			t.Fatal("click columns of different lengths")
		}
		mean := float64(cl.Len()) / float64(c.Users)
		if mean < 0.8*c.ClicksPerUser || mean > 1.2*c.ClicksPerUser {
			t.Fatalf("mean clicks per user %.2f, want about %g", mean, c.ClicksPerUser)
		}
		start := c.Start
		if start.IsZero() {
			start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		end := start.Add(time.Duration(c.Days) * 24 * time.Hour).UnixNano()
		perUser := make([]int, c.Users)
		for i := range cl.User {
			u, it, ts := cl.User[i], cl.Item[i], cl.TS[i]
			perUser[u]++
			if ts < ds.ItemRelease[it] || ts >= end || ts%int64(time.Second) != 0 {
				t.Fatalf("click %d at %d: release %d end %d", i, ts, ds.ItemRelease[it], end)
			}
			if i > 0 && cl.User[i-1] == u && cl.TS[i-1] > ts {
				t.Fatalf("click %d out of time order within user", i)
			}
			if i > 0 && cl.User[i-1] > u {
				t.Fatalf("click %d: users not grouped in index order", i)
			}
		}
		for u, n := range perUser {
			if n == 0 {
				t.Fatalf("user %d has no clicks", u)
			}
		}
		for _, tab := range []*data.Table{ds.Users, ds.Items} {
			for _, col := range tab.Columns {
				if col.Kind == data.ColumnContinuous {
					if len(col.Floats) != tab.Rows() {
						t.Fatalf("column %s: %d values for %d rows", col.Name, len(col.Floats), tab.Rows())
					}
					continue
				}
				if len(col.Offsets) != tab.Rows()+1 || int(col.Offsets[tab.Rows()]) != len(col.Codes) {
					t.Fatalf("column %s: bad offsets", col.Name)
				}
				for r := 0; r < tab.Rows(); r++ {
					n := col.Offsets[r+1] - col.Offsets[r]
					if n < 1 || (col.Kind == data.ColumnCategorical && n != 1) {
						t.Fatalf("column %s row %d has %d values", col.Name, r, n)
					}
				}
				for _, code := range col.Codes {
					if code < 0 || int(code) >= col.Values.Len() {
						t.Fatalf("column %s: code %d out of range", col.Name, code)
					}
				}
			}
		}
	}
}

func column(t *testing.T, tab *data.Table, name string) data.Column {
	t.Helper()
	for _, c := range tab.Columns {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no column %q", name)
	return data.Column{}
}

// TestPlantedStructure checks that clicks, demographics and item attributes
// carry the communities.
func TestPlantedStructure(t *testing.T) {
	c := small()
	ds := gen(t, c)
	cl := ds.Clicks
	same := 0
	for i := range cl.User {
		if ds.UserCommunity[cl.User[i]] == ds.ItemCommunity[cl.Item[i]] {
			same++
		}
	}
	// Expected about (1-noise)*0.8 + noise share of the community ≈ 0.74;
	// chance level is about 1/6.
	if share := float64(same) / float64(cl.Len()); share < 0.6 {
		t.Fatalf("share of clicks in the user's community %.3f, want > 0.6", share)
	}

	// Age: between-community variance explains a good part of the total.
	age := column(t, ds.Users, ColAge).Floats
	var sum, sum2 float64
	cs := make([]float64, c.Communities)
	cn := make([]float64, c.Communities)
	for u, a := range age {
		sum += a
		sum2 += a * a
		cs[ds.UserCommunity[u]] += a
		cn[ds.UserCommunity[u]]++
	}
	n := float64(len(age))
	total := sum2/n - (sum/n)*(sum/n)
	between := 0.0
	for k := range cs {
		if cn[k] > 0 {
			m := cs[k]/cn[k] - sum/n
			between += cn[k] / n * m * m
		}
	}
	if between/total < 0.5 {
		t.Fatalf("age: community explains %.2f of variance, want > 0.5", between/total)
	}

	// Interests: most users' interests are their community's tags.
	in := column(t, ds.Users, ColInterests)
	own := 0
	for u := 0; u < c.Users; u++ {
		for _, code := range in.Codes[in.Offsets[u]:in.Offsets[u+1]] {
			if int(code)/tagsPerCommunity == int(ds.UserCommunity[u]) {
				own++
			}
		}
	}
	if share := float64(own) / float64(len(in.Codes)); share < 0.8 {
		t.Fatalf("share of own-community interests %.2f, want > 0.8", share)
	}

	// Items: the category is usually the community's.
	cat := column(t, ds.Items, ColCategory)
	match := 0
	for i := 0; i < c.Items; i++ {
		if int(cat.Codes[i]) == int(ds.ItemCommunity[i]) {
			match++
		}
	}
	if share := float64(match) / float64(c.Items); share < 0.8 {
		t.Fatalf("category matches community for %.2f of items, want > 0.8", share)
	}
}

func TestPopularityAndTime(t *testing.T) {
	c := small()
	ds := gen(t, c)
	cl := ds.Clicks
	count := make([]int, c.Items)
	for _, it := range cl.Item {
		count[it]++
	}
	slices.Sort(count)
	slices.Reverse(count)
	head := 0
	for _, n := range count[:c.Items/10] {
		head += n
	}
	// Power law: the top 10% of items take a large share, yet the tail is fat:
	// the bottom half still gets clicks.
	if share := float64(head) / float64(cl.Len()); share < 0.3 || share > 0.9 {
		t.Fatalf("top-10%% share %.2f, want in [0.3, 0.9]", share)
	}
	tail := 0
	for _, n := range count[c.Items/2:] {
		tail += n
	}
	if tail == 0 {
		t.Fatal("long tail received no clicks")
	}

	// New items: about NewItems of the catalogue is released later and clicked.
	start := ds.ItemRelease[0]
	for _, r := range ds.ItemRelease {
		start = min(start, r)
	}
	late := 0
	lateClicked := make(map[int32]bool)
	for _, r := range ds.ItemRelease {
		if r > start {
			late++
		}
	}
	for _, it := range cl.Item {
		if ds.ItemRelease[it] > start {
			lateClicked[it] = true
		}
	}
	frac := float64(late) / float64(c.Items)
	if math.Abs(frac-c.NewItems) > 0.06 {
		t.Fatalf("share of new items %.2f, want about %.2f", frac, c.NewItems)
	}
	if len(lateClicked) < late/3 {
		t.Fatalf("only %d of %d new items were clicked", len(lateClicked), late)
	}

	// Timestamps span several days.
	lo, hi := slices.Min(cl.TS), slices.Max(cl.TS)
	if days := float64(hi-lo) / float64(24*time.Hour); days < float64(c.Days)-2 {
		t.Fatalf("clicks span %.1f days, want about %d", days, c.Days)
	}
}

func TestNoiseOne(t *testing.T) {
	c := small()
	c.Noise = 1
	ds := gen(t, c)
	same := 0
	for i := range ds.Clicks.User {
		if ds.UserCommunity[ds.Clicks.User[i]] == ds.ItemCommunity[ds.Clicks.Item[i]] {
			same++
		}
	}
	if share := float64(same) / float64(ds.Clicks.Len()); share > 0.45 {
		t.Fatalf("with Noise=1 clicks still follow communities (%.2f)", share)
	}
}

func TestTiny(t *testing.T) {
	c := Config{Users: 1, Items: 1, ClicksPerUser: 1, Communities: 1, Days: 1}
	ds := gen(t, c)
	if ds.Clicks.Len() != 1 {
		t.Fatalf("%d clicks, want 1", ds.Clicks.Len())
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := small()
	c.Users = 50000
	_, err := Generate(ctx, c)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestProgress(t *testing.T) {
	c := small()
	c.Users = 20000
	c.ClicksPerUser = 2
	last, calls := 0, 0
	c.Progress = func(done, total int) {
		calls++
		if done < last || total != c.Users {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	}
	gen(t, c)
	if last != c.Users || calls < 2 {
		t.Fatalf("progress ended at %d after %d calls", last, calls)
	}
}

// BenchmarkGenerate1Mx10M measures the size: 1M users × 10M clicks.
func BenchmarkGenerate1Mx10M(b *testing.B) {
	c := DefaultConfig()
	c.Users, c.Items, c.ClicksPerUser, c.Communities = 1_000_000, 100_000, 10, 50
	b.ReportAllocs()
	for b.Loop() {
		ds, err := Generate(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(ds.Clicks.Len()), "clicks")
	}
}

// topShare is the share of clicks made by the most active tenth of users.
func topShare(c *data.Clicks) float64 {
	per := make([]int, c.Users.Len())
	for _, u := range c.User {
		per[u]++
	}
	slices.Sort(per)
	slices.Reverse(per)
	top := 0
	for _, n := range per[:len(per)/10] {
		top += n
	}
	return float64(top) / float64(c.Len())
}

// TestActivitySkew checks the tail of clicks per user: at skew 2 the top
// tenth of users make most clicks (log-normal: 76% uncapped), at the
// default (skew 0, sigma 0.8) about a third; the mean stays near
// ClicksPerUser and equal seeds give equal data.
func TestActivitySkew(t *testing.T) {
	tests := []struct {
		skew     float64
		min, max float64 // bounds on the top-10% share
	}{
		{0, 0.25, 0.40},
		{2, 0.60, 0.85},
	}
	for _, tt := range tests {
		c := small()
		c.Items = 2000
		c.ActivitySkew = tt.skew
		ds := gen(t, c)
		share := topShare(ds.Clicks)
		t.Logf("skew %g: top 10%% share %.3f", tt.skew, share)
		if share < tt.min || share > tt.max {
			t.Errorf("skew %g: top 10%% of users make %.1f%% of clicks, want %.0f–%.0f%%", tt.skew, 100*share, 100*tt.min, 100*tt.max)
		}
		if mean := float64(ds.Clicks.Len()) / float64(c.Users); mean < 0.6*c.ClicksPerUser || mean > 1.2*c.ClicksPerUser {
			t.Errorf("skew %g: %.1f clicks per user, want about %g", tt.skew, mean, c.ClicksPerUser)
		}
		if again := gen(t, c); !reflect.DeepEqual(ds.Clicks, again.Clicks) {
			t.Errorf("skew %g: same seed gave different clicks", tt.skew)
		}
	}
}
