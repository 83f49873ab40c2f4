package eval

import (
	"context"
	"testing"

	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/data/synth"
)

func TestBuildProtocolInvariants(t *testing.T) {
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.ClicksPerUser, cfg.Seed = 600, 150, 25, 3
	ds, err := synth.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := split.Split(ds.Clicks, split.Options{FreshFraction: 0.2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildProtocol(sp.Train, sp.Heldout, sp.FreshSeeds, sp.FreshHeldout, sp.WarmItems)
	if err != nil {
		t.Fatal(err)
	}
	if p.Warm != len(sp.WarmItems) || p.Warm == 0 {
		t.Fatalf("%d warm cases for %d warm items", p.Warm, len(sp.WarmItems))
	}
	if p.Fresh == 0 || p.Fresh > len(sp.FreshItems) {
		t.Fatalf("%d fresh cases for %d fresh items", p.Fresh, len(sp.FreshItems))
	}
	type pair struct{ u, i int32 }
	trainPairs := map[pair]bool{}
	for k := range sp.Train.User {
		trainPairs[pair{sp.Train.User[k], sp.Train.Item[k]}] = true
	}
	for _, c := range p.Cases {
		seed := map[int32]bool{}
		for _, s := range c.Seeds {
			if p.TrainClicks[s] == 0 {
				t.Fatalf("item %s: seed %d is not a known user", c.Item, s)
			}
			if !c.Fresh && !trainPairs[pair{s, c.ItemIndex}] {
				t.Fatalf("warm item %s: seed %d did not click it in training", c.Item, s)
			}
			seed[s] = true
		}
		if !c.Fresh && len(c.Seeds) < split.MinWarmTrainClickers {
			t.Fatalf("warm item %s has %d seeds", c.Item, len(c.Seeds))
		}
		for _, u := range c.Positives {
			if seed[u] {
				t.Fatalf("item %s: positive %d is also a seed", c.Item, u)
			}
			if p.TrainClicks[u] == 0 {
				t.Fatalf("item %s: positive %d is not a known user", c.Item, u)
			}
		}
	}
	// Every known user is in the universe once, in index order.
	n := 0
	for u, k := range p.TrainClicks {
		if k > 0 {
			if p.Universe.Known[n] != int32(u) {
				t.Fatalf("universe[%d] = %d, want %d", n, p.Universe.Known[n], u)
			}
			n++
		}
	}
	if n != len(p.Universe.Known) {
		t.Fatalf("universe has %d users, want %d", len(p.Universe.Known), n)
	}
}
