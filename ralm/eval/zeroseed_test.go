package eval

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/lookalike/coldstart"
)

// TestZeroSeedBucket builds the zero-seed cases of a synthetic split and
// evaluates them: only the seed-free scorers (activity, popularity) score
// them, every known clicker of the fresh item is a positive, the results
// land in their own bucket (not in fresh) and the text report shows it.
func TestZeroSeedBucket(t *testing.T) {
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.ClicksPerUser, cfg.Seed = 400, 100, 20, 3
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
	enc, err := coldstart.NewEncoder(ds.Items, 0)
	if err != nil {
		t.Fatal(err)
	}
	zc, err := ZeroSeedCases(p, sp.Train, sp.FreshSeeds, sp.FreshHeldout, enc, ds.Items)
	if err != nil {
		t.Fatal(err)
	}
	if len(zc) != p.Fresh {
		t.Fatalf("%d zero-seed cases for %d fresh items (all have attributes)", len(zc), p.Fresh)
	}
	for i, c := range zc {
		fresh := p.Cases[p.Warm+i]
		if c.Item != fresh.Item || len(c.Seeds) != 0 || !c.ZeroSeed || len(c.Attrs) != len(enc.Fields) {
			t.Fatalf("zero-seed case %+v for fresh item %s", c, fresh.Item)
		}
		// positives: the fresh case's seeds and positives together
		if len(c.Positives) != len(fresh.Seeds)+len(fresh.Positives) {
			t.Errorf("item %s: %d positives, want %d seeds + %d held out", c.Item, len(c.Positives), len(fresh.Seeds), len(fresh.Positives))
		}
	}
	pop, err := NewPopularity(sp.Train, enc, ds.Items)
	if err != nil {
		t.Fatal(err)
	}
	vec, err := NewVectors(make([]float32, sp.Train.Users.Len()*2), 2)
	if err != nil {
		t.Fatal(err)
	}
	cases := append(p.Cases, zc...)
	res, err := Evaluate(context.Background(), p.Universe, cases, []Scorer{Activity{Clicks: p.TrainClicks}, pop, Centroid{Vectors: vec}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model, bucket string
		want          int
	}{
		{"activity", BucketZeroSeed, len(zc)},
		{"popularity", BucketZeroSeed, len(zc)},
		{"centroid", BucketZeroSeed, 0},
		{"popularity", BucketFresh, 0},
		{"activity", BucketFresh, p.Fresh},
		{"centroid", BucketFresh, p.Fresh},
	} {
		if got := res.Table[tc.model][tc.bucket].NItems; got != tc.want {
			t.Errorf("%s: %d items in bucket %s, want %d", tc.model, got, tc.bucket, tc.want)
		}
	}
	// Synthetic items' categories follow their communities: the baseline
	// knows something.
	if a := res.Table["popularity"][BucketZeroSeed].AUC; !(a > 0.55) {
		t.Errorf("popularity zero-seed AUC %.3f, want > 0.55", a)
	}
	var buf bytes.Buffer
	if err := NewReport(res, nil, nil).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	main, zero, ok := strings.Cut(buf.String(), "zero-seed (attributes only)")
	if !ok || strings.Contains(main, "popularity") || !strings.Contains(zero, "popularity") || !strings.Contains(zero, "activity") {
		t.Errorf("want popularity in the zero-seed table only:\n%s", buf.String())
	}
}
