package eval

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
)

func TestLatestSeeds(t *testing.T) {
	tests := []struct {
		name     string
		seeds    []int32
		ts       []int64
		max      int
		want     []int32
		wantTS   []int64
		sameBack bool // the input slice itself comes back
	}{
		{"fewer than the cap", []int32{5, 3, 9}, []int64{30, 10, 20}, 4, []int32{5, 3, 9}, []int64{30, 10, 20}, true},
		{"at the cap", []int32{5, 3, 9}, []int64{30, 10, 20}, 3, []int32{5, 3, 9}, []int64{30, 10, 20}, true},
		{"latest by time, in seed order", []int32{5, 3, 9, 7}, []int64{30, 10, 20, 5}, 2, []int32{5, 9}, []int64{30, 20}, false},
		{"ties: the later in click-log order", []int32{1, 2, 3, 4}, []int64{7, 7, 7, 7}, 3, []int32{2, 3, 4}, []int64{7, 7, 7}, false},
		{"no times: the last ones", []int32{1, 2, 3, 4}, nil, 2, []int32{3, 4}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotTS := latestSeeds(tt.seeds, tt.ts, tt.max)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(gotTS, tt.wantTS) {
				t.Fatalf("latestSeeds = %v %v, want %v %v", got, gotTS, tt.want, tt.wantTS)
			}
			if tt.sameBack && &got[0] != &tt.seeds[0] {
				t.Error("under the cap: want the seeds themselves, not a copy")
			}
		})
	}
}

// TestBuildProtocolSeedTimes checks that every seed carries the time of its
// earliest click, warm (a repeated training click) and fresh alike.
func TestBuildProtocolSeedTimes(t *testing.T) {
	at := func(s int64) int64 { return time.Unix(s, 0).UnixNano() }
	var tu, ti []int64
	var tt []time.Time
	add := func(u, i, s int64) { tu, ti, tt = append(tu, u), append(ti, i), append(tt, time.Unix(s, 0)) }
	for u := int64(1); u <= 12; u++ {
		add(u, 100, 1000+u) // warm item 100: 12 training clickers
	}
	add(3, 100, 50) // user 3 clicked item 100 again, earlier
	add(1, 200, 10) // item 200: not evaluated
	train, err := data.NewClicks(tu, ti, tt)
	if err != nil {
		t.Fatal(err)
	}
	part := func(us, is, ss []int64) *data.Clicks {
		c := &data.Clicks{Users: train.Users, Items: train.Items}
		for k := range us {
			u, err := c.Users.Add(strconv.FormatInt(us[k], 10))
			if err != nil {
				t.Fatal(err)
			}
			i, err := c.Items.Add(strconv.FormatInt(is[k], 10))
			if err != nil {
				t.Fatal(err)
			}
			c.User, c.Item, c.TS = append(c.User, u), append(c.Item, i), append(c.TS, at(ss[k]))
		}
		return c
	}
	heldout := part([]int64{1, 2, 4}, []int64{100, 100, 100}, []int64{5000, 5001, 5002})
	fresh := part([]int64{6, 5, 6}, []int64{300, 300, 300}, []int64{70, 60, 40}) // user 6 twice: earliest 40
	freshHeld := part([]int64{7}, []int64{300}, []int64{80})
	warmItem, _ := train.Items.Index("100")
	p, err := BuildProtocol(train, heldout, fresh, freshHeld, []int32{warmItem})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Cases) != 2 {
		t.Fatalf("%d cases, want a warm and a fresh one", len(p.Cases))
	}
	for _, c := range p.Cases {
		if len(c.SeedTS) != len(c.Seeds) || len(c.Seeds) == 0 {
			t.Fatalf("item %s: %d times for %d seeds", c.Item, len(c.SeedTS), len(c.Seeds))
		}
		for j, s := range c.Seeds {
			id := train.Users.ID(s)
			var want int64
			switch {
			case c.Fresh && id == "6":
				want = at(40)
			case c.Fresh && id == "5":
				want = at(60)
			case c.Fresh:
				t.Fatalf("fresh item: unexpected seed %s", id)
			case id == "3":
				want = at(50)
			default:
				want = at(1000 + int64(s) + 1) // user ids 1..12 are indices 0..11
			}
			if got := c.SeedTS[j]; got != want {
				t.Errorf("item %s seed %s: time %d, want %d", c.Item, id, got, want)
			}
		}
	}
}

// TestSeedCapModels checks what the seed-based models see under
// Options.MaxSeeds: with fewer seeds than the cap every model scores
// exactly as uncapped, and over the cap as on a case holding only the
// latest MaxSeeds seeds, while the candidates still leave out every seed.
func TestSeedCapModels(t *testing.T) {
	const users, dim = 300, 6
	r := rand.New(rand.NewPCG(4, 4))
	vec := randomVectors(t, r, users, dim)
	models := []Scorer{Centroid{Vectors: vec}, KNN{Vectors: vec, K: 10}}
	mkCase := func(nSeeds int) Case {
		c := Case{Item: "x"}
		perm := r.Perm(users)
		for j, u := range perm[:nSeeds] {
			c.Seeds = append(c.Seeds, int32(u))
			c.SeedTS = append(c.SeedTS, int64(r.IntN(50)+j%3)) // ties
		}
		for _, u := range perm[nSeeds : nSeeds+30] {
			c.Positives = append(c.Positives, int32(u))
		}
		return c
	}
	// run evaluates c under the cap and returns each model's scores
	run := func(c Case, max int) (*Result, map[string][]float32) {
		t.Helper()
		scores := map[string][]float32{}
		sink := func(model string, _ *Case, _ []int32, s []float32, _ []bool) error {
			scores[model] = slices.Clone(s)
			return nil
		}
		res, err := Evaluate(context.Background(), universe(users), []Case{c}, models, Options{MaxSeeds: max, Workers: 1, Sink: sink})
		if err != nil {
			t.Fatal(err)
		}
		return res, scores
	}
	tests := []struct {
		name       string
		seeds, cap int
		binds      bool
	}{
		{"fewer seeds than the cap", 40, 41, false},
		{"seeds at the cap", 40, 40, false},
		{"one seed", 1, 10, false},
		{"over the cap", 120, 25, true},
		{"cap below K", 60, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mkCase(tt.seeds)
			got, gotScores := run(c, tt.cap)
			if got.Items[0].Seeds != tt.seeds || got.Items[0].Candidates != users-tt.seeds {
				t.Fatalf("seeds %d, candidates %d; want every seed counted and left out (%d, %d)",
					got.Items[0].Seeds, got.Items[0].Candidates, tt.seeds, users-tt.seeds)
			}
			want, wantScores := run(c, 1<<30) // uncapped
			if !tt.binds {
				if !reflect.DeepEqual(got.Items, want.Items) || !reflect.DeepEqual(gotScores, wantScores) {
					t.Errorf("under the cap: %+v, want the uncapped %+v", got.Items, want.Items)
				}
				return
			}
			// the scores of an item that only had its latest seeds, the
			// older ones still left out of the candidates
			lc := c
			lc.Seeds, _ = latestSeeds(c.Seeds, c.SeedTS, tt.cap)
			cands, _, _, _ := allCandidates(universe(users), &c)
			for _, m := range models {
				out := make([]float32, len(cands))
				if err := m.Score(context.Background(), &lc, cands, out); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(gotScores[m.Name()], out) {
					t.Errorf("%s: capped scores differ from the scores over the latest %d seeds", m.Name(), tt.cap)
				}
				if reflect.DeepEqual(gotScores[m.Name()], wantScores[m.Name()]) {
					t.Errorf("%s: the cap binds but changes no score: the test data do not exercise it", m.Name())
				}
			}
		})
	}
}
