package serve

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
)

// TestScoreDuringStartBuild scores, expands and describes items while the
// start-up build is held on its first item: the requests build the items
// they need on demand, concurrent requests for the held item wait for that
// one build, every item is built exactly once, and every answer equals the
// one after the full build.
func TestScoreDuringStartBuild(t *testing.T) {
	s, _ := testworld.Small(t)
	ctx := context.Background()
	entered := make(chan string, 1)
	gate := make(chan struct{})
	var mu sync.Mutex
	builds := map[string]int{}
	hooks := Hooks{OnRecluster: func(ev ReclusterEvent) {
		mu.Lock()
		builds[ev.ItemID]++
		first := len(builds) == 1 && builds[ev.ItemID] == 1
		mu.Unlock()
		if first { // the background build's first item: hold it
			entered <- ev.ItemID
			<-gate
		}
	}}
	e := openTest(t, t.TempDir(), Options{Workers: 1, Hooks: hooks})
	defer e.Close()
	// Release the held build before Close on every exit (a failed check
	// must fail the test, not leave Close waiting on the held worker).
	var release sync.Once
	unhold := func() { release.Do(func() { close(gate) }) }
	defer unhold()
	held := <-entered

	var items []string
	e.Items(func(id string) bool { items = append(items, id); return true })
	slices.Sort(items)
	users := []string{s.UserID(0), s.UserID(7), s.UserID(123)}
	type answer struct {
		scores [][]bundle.ItemScore
		aud    map[string]*Audience
		info   map[string]ItemInfo
	}
	ask := func(ids []string) answer {
		a := answer{aud: map[string]*Audience{}, info: map[string]ItemInfo{}}
		for _, u := range users {
			sc, err := e.Score(ctx, u, ids)
			if err != nil {
				t.Error(err)
			}
			a.scores = append(a.scores, sc)
		}
		for _, id := range ids {
			au, err := e.Audience(ctx, id, 20)
			if err != nil {
				t.Error(err)
			}
			a.aud[id] = au
			in, err := e.Item(ctx, id)
			if err != nil {
				t.Error(err)
			}
			in.LastRecluster = ItemInfo{}.LastRecluster // when it was built differs
			a.info[id] = in
		}
		return a
	}

	others := slices.DeleteFunc(slices.Clone(items), func(id string) bool { return id == held })
	during := ask(others) // the background build is held: these build on demand
	st := e.Stats()
	if p := st.StartBuild; p.Done || p.Items != len(items) || p.Built != len(others) || st.PendingItems != 1 {
		t.Fatalf("while held: start-up build %+v, %d pending; want %d of %d built, 1 pending", p, st.PendingItems, len(others), len(items))
	}
	// Requests for the held item wait for the same build.
	heldAnswers := make([]answer, 4)
	var wg sync.WaitGroup
	for i := range heldAnswers {
		wg.Go(func() { heldAnswers[i] = ask([]string{held}) })
	}
	unhold()
	wg.Wait()
	if err := e.WaitBuilt(ctx); err != nil {
		t.Fatal(err)
	}
	after := ask(items)

	for id, n := range builds {
		if n != 1 {
			t.Errorf("item %s built %d times, want once", id, n)
		}
	}
	if len(builds) != len(items) {
		t.Errorf("%d items built, want %d", len(builds), len(items))
	}
	check := func(what string, got answer, ids []string) {
		t.Helper()
		for k := range users {
			for i, id := range ids {
				want := after.scores[k][slices.Index(items, id)]
				if got.scores[k][i] != want || want.Status != bundle.StatusOK {
					t.Errorf("%s: user %s item %s: %+v, after the build %+v", what, users[k], id, got.scores[k][i], want)
				}
			}
		}
		for _, id := range ids {
			g, w := got.aud[id], after.aud[id]
			if g.Status != w.Status || g.Seeds != w.Seeds || !slices.Equal(g.Users, w.Users) {
				t.Errorf("%s: audience of %s differs from after the build", what, id)
			}
			if got.info[id] != after.info[id] {
				t.Errorf("%s: item %s: %+v, after the build %+v", what, id, got.info[id], after.info[id])
			}
		}
	}
	check("during the build", during, others)
	for _, a := range heldAnswers {
		check("held item", a, []string{held})
	}
	if p := e.Stats().StartBuild; !p.Done || p.Built != len(items) {
		t.Fatalf("after WaitBuilt: %+v", p)
	}
}
