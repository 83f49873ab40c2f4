package serve

import (
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
)

// openColdStart opens an engine on the small bundle with its cold-start
// model.
func openColdStart(tb testing.TB, dir string, opts Options) *Engine {
	tb.Helper()
	s, m := testworld.Small(tb)
	cs := testworld.SmallColdStart(tb)
	opts.DataDir = dir
	if opts.ReclusterInterval == 0 {
		opts.ReclusterInterval = time.Hour
	}
	e, err := openWithBundle(context.Background(), testworld.BundleWithColdStart(s, m, cs), opts)
	if err != nil {
		tb.Fatalf("open engine: %v", err)
	}
	return e
}

// TestFeaturesItemLifecycle registers a new item's attributes: it is scored
// with status features before its first click and while it has fewer than
// MinSeeds seeds, keeps its attributes across a restart, and turns ok once
// re-clustered at MinSeeds.
func TestFeaturesItemLifecycle(t *testing.T) {
	s, m := testworld.Small(t)
	cs := testworld.SmallColdStart(t)
	dir := t.TempDir()
	ctx := context.Background()
	e := openColdStart(t, dir, Options{MinSeeds: 10})
	members := s.Members(2)
	user := s.UserID(members[len(members)-1])
	status := func(e *Engine) bundle.ItemScore {
		r, err := e.Score(ctx, user, []string{"31337"})
		if err != nil {
			t.Fatal(err)
		}
		return r[0]
	}
	if got := status(e).Status; got != bundle.StatusUnknownItem {
		t.Fatalf("before attributes: %s", got)
	}
	unknown, err := e.SetItemAttributes(ctx, "31337", map[string][]string{"community": {"c2"}})
	if err != nil || unknown != 0 {
		t.Fatalf("set attributes: %v (%d unknown values)", err, unknown)
	}
	got := status(e)
	if got.Status != bundle.StatusFeatures {
		t.Fatalf("with attributes, no click: %s", got.Status)
	}
	// The score is the cold-start logit on the look-alike score scale.
	a, _, _ := cs.Encoder().Encode(map[string][]string{"community": {"c2"}})
	it, _ := cs.Item(a)
	z := cs.Logit(s.Emb.Vec(int32(members[len(members)-1])), it)
	if want := m.ScoreOfLogit(z); got.Score != want {
		t.Errorf("features score %v, want ScoreOfLogit(%v) = %v", got.Score, z, want)
	}
	if back := m.Logit(got.Score); math.Abs(float64(back-z)) > 1e-4 {
		t.Errorf("the features score's look-alike logit is %v, the cold-start logit %v", back, z)
	}
	if info, err := e.Item(ctx, "31337"); err != nil || info.Status != bundle.StatusFeatures {
		t.Errorf("item info %+v, %v", info, err)
	}
	for k := range 3 {
		if err := e.Click(ctx, Click{UserID: s.UserID(members[k]), ItemID: "31337"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := status(e).Status; got != bundle.StatusFeatures {
		t.Fatalf("3 seeds: %s, want features", got)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openColdStart(t, dir, Options{MinSeeds: 10})
	defer e.Close()
	if got := status(e).Status; got != bundle.StatusFeatures {
		t.Fatalf("after a restart: %s, want features", got)
	}
	for k := 3; k < 10; k++ {
		if err := e.Click(ctx, Click{UserID: s.UserID(members[k]), ItemID: "31337"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "item to become ok", 10*time.Second, func() bool { return status(e).Status == bundle.StatusOK })
	// Delete forgets the seeds and the attributes; an item with attributes
	// only can be deleted too.
	if err := e.Delete(ctx, "31337"); err != nil {
		t.Fatal(err)
	}
	if got := status(e).Status; got != bundle.StatusUnknownItem {
		t.Errorf("after delete: %s, want unknown_item", got)
	}
	if _, err := e.SetItemAttributes(ctx, "31338", map[string][]string{"community": {"c1"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Delete(ctx, "31338"); err != nil || e.HasAttributes("31338") {
		t.Errorf("delete an attributes-only item: %v (attributes kept: %v)", err, e.HasAttributes("31338"))
	}
	if err := e.Delete(ctx, "31338"); !errors.Is(err, bundle.ErrUnknownItem) {
		t.Errorf("delete twice: %v, want ErrUnknownItem", err)
	}
}

// TestFeaturesShareTheOkScale checks that features scores and ok scores of
// one user rank on one scale: for users of every community, an item
// registered with their own community's attributes outranks, on average,
// the ok items of the other communities, and an item with another
// community's attributes ranks below their own community's ok items.
func TestFeaturesShareTheOkScale(t *testing.T) {
	s, _ := testworld.Small(t)
	e := openColdStart(t, t.TempDir(), Options{})
	defer e.Close()
	ctx := context.Background()
	for c := range s.NComm {
		if _, err := e.SetItemAttributes(ctx, strconv.Itoa(9000+c), map[string][]string{"community": {"c" + strconv.Itoa(c)}}); err != nil {
			t.Fatal(err)
		}
	}
	nItems := s.Clicks.Items.Len()
	ids := make([]string, 0, nItems+s.NComm)
	for i := 1; i <= nItems; i++ { // training items: item i belongs to community (i-1)%NComm
		ids = append(ids, strconv.Itoa(i))
	}
	for c := range s.NComm {
		ids = append(ids, strconv.Itoa(9000+c))
	}
	var ownOK, otherOK, ownFeat, otherFeat float64
	var nOwnOK, nOtherOK, nOwnFeat, nOtherFeat int
	for u := 0; u < len(s.Comm); u += 7 {
		res, err := e.Score(ctx, s.UserID(u), ids)
		if err != nil {
			t.Fatal(err)
		}
		for k, r := range res {
			own := false
			switch r.Status {
			case bundle.StatusOK:
				own = k%s.NComm == s.Comm[u]
				if own {
					ownOK, nOwnOK = ownOK+float64(r.Score), nOwnOK+1
				} else {
					otherOK, nOtherOK = otherOK+float64(r.Score), nOtherOK+1
				}
			case bundle.StatusFeatures:
				own = k-nItems == s.Comm[u]
				if own {
					ownFeat, nOwnFeat = ownFeat+float64(r.Score), nOwnFeat+1
				} else {
					otherFeat, nOtherFeat = otherFeat+float64(r.Score), nOtherFeat+1
				}
			default:
				t.Fatalf("item %s: status %s", r.ItemID, r.Status)
			}
		}
	}
	ownOK, otherOK, ownFeat, otherFeat = ownOK/float64(nOwnOK), otherOK/float64(nOtherOK), ownFeat/float64(nOwnFeat), otherFeat/float64(nOtherFeat)
	t.Logf("mean scores: ok own %.3f other %.3f; features own %.3f other %.3f", ownOK, otherOK, ownFeat, otherFeat)
	if !(ownFeat > otherOK && ownOK > otherFeat) {
		t.Errorf("scales differ: features own %.3f vs ok other %.3f, ok own %.3f vs features other %.3f", ownFeat, otherOK, ownOK, otherFeat)
	}
}

func TestSetItemAttributesErrors(t *testing.T) {
	ctx := context.Background()
	e := openColdStart(t, t.TempDir(), Options{})
	defer e.Close()
	var ie *InputError
	for _, tc := range []struct {
		name   string
		id     string
		values map[string][]string
	}{
		{"unknown field", "7", map[string][]string{"colour": {"red"}}},
		{"two values of a categorical field", "7", map[string][]string{"community": {"c0", "c1"}}},
		{"bad id", "x", map[string][]string{"community": {"c0"}}},
	} {
		if _, err := e.SetItemAttributes(ctx, tc.id, tc.values); err == nil || (!errors.As(err, &ie) && !errors.Is(err, bundle.ErrBadID)) {
			t.Errorf("%s: error %v, want an input error", tc.name, err)
		}
	}
	if n, err := e.SetItemAttributes(ctx, "7", map[string][]string{"community": {"c9"}}); err != nil || n != 1 {
		t.Errorf("unseen value: %d unknown, error %v; want 1 and no error", n, err)
	}
	plain := openTest(t, t.TempDir(), Options{})
	defer plain.Close()
	if _, err := plain.SetItemAttributes(ctx, "7", map[string][]string{"community": {"c0"}}); !errors.Is(err, ErrNoColdStart) || !errors.As(err, &ie) {
		t.Errorf("folder without a cold-start model: error %v, want ErrNoColdStart as an input error", err)
	}
}

// TestFeaturesAudience: the audience of an item with attributes and no
// clicks is the cold-start model's top users, mostly of the community its
// attributes name, best first.
func TestFeaturesAudience(t *testing.T) {
	s, _ := testworld.Small(t)
	e := openColdStart(t, t.TempDir(), Options{})
	defer e.Close()
	ctx := context.Background()
	if _, err := e.SetItemAttributes(ctx, "9100", map[string][]string{"community": {"c3"}}); err != nil {
		t.Fatal(err)
	}
	a, err := e.Audience(ctx, "9100", 40)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != bundle.StatusFeatures || len(a.Users) != 40 || a.Seeds != 0 {
		t.Fatalf("audience: status %s, %d users, %d seeds", a.Status, len(a.Users), a.Seeds)
	}
	in := 0
	for i, u := range a.Users {
		if i > 0 && u.Score > a.Users[i-1].Score {
			t.Fatalf("audience not sorted at %d", i)
		}
		k, _ := strconv.Atoi(u.UserID)
		if s.Comm[k-1000] == 3 {
			in++
		}
	}
	if in < 30 {
		t.Errorf("%d of the top 40 are in community 3, want at least 30", in)
	}
}
