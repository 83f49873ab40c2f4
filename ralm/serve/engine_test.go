package serve

import (
	"context"
	"errors"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
)

func TestOpenImportsTrainingSeeds(t *testing.T) {
	s, _ := testworld.Small(t)
	e := openTest(t, t.TempDir(), Options{})
	defer e.Close()
	if err := e.WaitBuilt(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if p := st.StartBuild; !p.Done || p.Items != st.Items || p.Built != p.Items || st.PendingItems != 0 {
		t.Fatalf("start-up build %+v, %d pending, want all %d items built", p, st.PendingItems, st.Items)
	}
	if st.Items != s.Clicks.Items.Len() {
		t.Fatalf("items = %d, want %d", st.Items, s.Clicks.Items.Len())
	}
	if st.ItemsOK != st.Items {
		t.Fatalf("%d of %d items ok after Open; every training item has 30 seeds", st.ItemsOK, st.Items)
	}
	if st.ClicksAccepted != 0 {
		t.Fatalf("the import counted %d clicks as ingested", st.ClicksAccepted)
	}
	// Item 1's seeds are exactly its training clickers, oldest first.
	var want []string
	for i := range s.Clicks.User {
		if s.Clicks.Items.ID(s.Clicks.Item[i]) == "1" {
			want = append(want, s.Clicks.Users.ID(s.Clicks.User[i]))
		}
	}
	if got := seedSet(t, e, "1"); !slices.Equal(got, want) {
		t.Fatalf("item 1 seeds = %v, want %v", got, want)
	}
	info, err := e.Item(context.Background(), "1")
	if err != nil {
		t.Fatal(err)
	}
	if info.Seeds != 30 || info.Status != bundle.StatusOK || info.LastRecluster.IsZero() || info.Centroids == 0 || info.Pending {
		t.Fatalf("item info = %+v", info)
	}
}

func TestScoreStatuses(t *testing.T) {
	s, m := testworld.Small(t)
	e := openTest(t, t.TempDir(), Options{})
	defer e.Close()
	ctx := context.Background()
	// A cold item: 3 seeds.
	for _, u := range []int{0, 4, 8} {
		if err := e.Click(ctx, Click{UserID: s.UserID(u), ItemID: "500"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.Score(ctx, s.UserID(12), []string{"1", "500", "999"})
	if err != nil {
		t.Fatal(err)
	}
	want := []bundle.Status{bundle.StatusOK, bundle.StatusCold, bundle.StatusUnknownItem}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("item %s: status %s, want %s", r.ItemID, r.Status, want[i])
		}
	}
	// The ok score is the model's score of the published state.
	v, _ := e.world.Load().items.Load("1")
	out := make([]float32, 1)
	m.Score(s.Emb.Vec(12), []*lookalike.ItemState{v.(*item).view.Load().state()}, out)
	if res[0].Score != out[0] {
		t.Errorf("ok score %v, model says %v", res[0].Score, out[0])
	}
	// One scale (issue #13): the cold score is the look-alike model's score
	// over the item's 3 seeds, as a warm item of those seeds would get.
	st, err := m.BuildItem(ctx, slices.Concat(s.Emb.Vec(0), s.Emb.Vec(4), s.Emb.Vec(8)), nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Score(s.Emb.Vec(12), []*lookalike.ItemState{st}, out)
	if math.Float32bits(res[1].Score) != math.Float32bits(out[0]) {
		t.Errorf("cold score %v, the look-alike score of its seeds %v", res[1].Score, out[0])
	}
	if res[2].Score != 0 {
		t.Errorf("unknown item score %v", res[2].Score)
	}
	if _, err := e.Score(ctx, "77", []string{"1"}); !errors.Is(err, bundle.ErrUnknownUser) {
		t.Fatalf("unknown user: err = %v", err)
	}
}

func TestNewItemBecomesScorableAtMinSeeds(t *testing.T) {
	s, _ := testworld.Small(t)
	// A one-hour interval: only the immediate re-cluster can make it ok.
	e := openTest(t, t.TempDir(), Options{MinSeeds: 10, ReclusterInterval: time.Hour})
	defer e.Close()
	ctx := context.Background()
	members := s.Members(2)
	status := func() bundle.Status {
		r, err := e.Score(ctx, s.UserID(members[len(members)-1]), []string{"31337"})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].Status
	}
	if got := status(); got != bundle.StatusUnknownItem {
		t.Fatalf("before any click: %s", got)
	}
	for k := range 9 {
		if err := e.Click(ctx, Click{UserID: s.UserID(members[k]), ItemID: "31337"}); err != nil {
			t.Fatal(err)
		}
		if got := status(); got != bundle.StatusCold {
			t.Fatalf("after %d clicks: %s, want cold", k+1, got)
		}
	}
	if err := e.Click(ctx, Click{UserID: s.UserID(members[9]), ItemID: "31337"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "item to become ok", 10*time.Second, func() bool { return status() == bundle.StatusOK })
	info, _ := e.Item(ctx, "31337")
	if info.Seeds != 10 || info.ReclusterSeeds != 10 {
		t.Fatalf("info %+v", info)
	}
}

// TestColdUntilReclustered: an item that reaches MinSeeds stays cold
// while its re-cluster runs (its cold state holds centroids too since
// issue #13, which must not count as a re-clustered state), then turns ok.
func TestColdUntilReclustered(t *testing.T) {
	s, _ := testworld.Small(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	e := openTest(t, t.TempDir(), Options{MinSeeds: 5, reclusterFault: func(id string) error {
		if id == "31337" {
			first.Do(func() { close(entered); <-release }) // only the first re-cluster waits
		}
		return nil
	}})
	defer e.Close()
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock() // before Close, also when the test fails
	ctx := context.Background()
	// After the start-up build: while it runs, a request builds an item it
	// needs on demand and waits for a build under way (ensureBuilt), so
	// status() would wait for the held re-cluster.
	if err := e.WaitBuilt(ctx); err != nil {
		t.Fatal(err)
	}
	members := s.Members(1)
	status := func() bundle.Status {
		r, err := e.Score(ctx, s.UserID(members[20]), []string{"31337"})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].Status
	}
	for k := range 5 {
		if err := e.Click(ctx, Click{UserID: s.UserID(members[k]), ItemID: "31337"}); err != nil {
			t.Fatal(err)
		}
	}
	select { // the re-cluster of 5 seeds is under way
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no re-cluster at MinSeeds: the cold state was taken for a re-clustered one")
	}
	if got := status(); got != bundle.StatusCold {
		t.Fatalf("during the first re-cluster: %s, want cold", got)
	}
	if info, _ := e.Item(ctx, "31337"); info.Status != bundle.StatusCold || info.Centroids != 0 || !info.Pending {
		t.Fatalf("during the first re-cluster: %+v", info)
	}
	unblock()
	waitFor(t, "item to become ok", 10*time.Second, func() bool { return status() == bundle.StatusOK })
}

func TestClicksRejectUnknownUsersAndBadIDs(t *testing.T) {
	s, _ := testworld.Small(t)
	var commits []CommitEvent
	e := openTest(t, t.TempDir(), Options{Hooks: Hooks{OnCommit: func(ev CommitEvent) { commits = append(commits, ev) }}})
	defer e.Close()
	ctx := context.Background()
	res, err := e.Clicks(ctx, []Click{
		{UserID: s.UserID(1), ItemID: "900"},
		{UserID: "5", ItemID: "900"},           // unknown user
		{UserID: s.UserID(2), ItemID: "abc"},   // item id not int64
		{UserID: "x", ItemID: "900"},           // user id not int64
		{UserID: s.UserID(1), ItemID: "900"},   // duplicate
		{UserID: s.UserID(3), ItemID: "0900"},  // non-canonical int
		{UserID: s.UserID(3), ItemID: "-9001"}, // fine
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || res.Duplicates != 1 || len(res.Rejected) != 4 {
		t.Fatalf("result %+v", res)
	}
	wantIdx := []int{1, 2, 3, 5}
	wantErr := []error{bundle.ErrUnknownUser, bundle.ErrBadID, bundle.ErrBadID, bundle.ErrBadID}
	for k, r := range res.Rejected {
		if r.Index != wantIdx[k] || !errors.Is(r.Err, wantErr[k]) {
			t.Errorf("rejection %d = {%d %v}, want {%d %v}", k, r.Index, r.Err, wantIdx[k], wantErr[k])
		}
		var ie *bundle.IDError
		if !errors.As(r.Err, &ie) {
			t.Errorf("rejection %d: %T is not an *IDError", k, r.Err)
		}
	}
	err = e.Click(ctx, Click{UserID: "5", ItemID: "1"})
	if !errors.Is(err, bundle.ErrUnknownUser) || err.Error() != `unknown user "5"` {
		t.Fatalf("single unknown click: %v", err)
	}
	st := e.Stats()
	if st.ClicksAccepted != 3 || st.ClicksDuplicate != 1 || st.ClicksRejected != 5 {
		t.Fatalf("stats %+v", st)
	}
	if len(commits) == 0 || commits[0].Accepted != 3 {
		t.Fatalf("commit hooks %+v", commits)
	}
}

func TestMaxSeedsKeepsLatestAcrossRestart(t *testing.T) {
	s, _ := testworld.Small(t)
	dir := t.TempDir()
	e := openTest(t, dir, Options{MaxSeeds: 40})
	ctx := context.Background()
	var batch []Click
	for u := range 50 {
		batch = append(batch, Click{UserID: s.UserID(u), ItemID: "77"})
	}
	batch = append(batch, Click{UserID: s.UserID(45), ItemID: "77"}) // duplicate of a kept seed
	if _, err := e.Clicks(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var want []string
	for u := 10; u < 50; u++ {
		want = append(want, s.UserID(u))
	}
	if got := seedSet(t, e, "77"); !slices.Equal(got, want) {
		t.Fatalf("seeds = %v, want the latest 40 %v", got, want)
	}
	// Training item 1 has 30 seeds; 15 more users push out the 5 oldest.
	old := seedSet(t, e, "1")
	for u := 0; u < 400 && len(batch) < 200; u++ {
		batch = append(batch, Click{UserID: s.UserID(u), ItemID: "1"})
	}
	if _, err := e.Clicks(ctx, batch[51:]); err != nil {
		t.Fatal(err)
	}
	after := seedSet(t, e, "1")
	if len(after) != 40 {
		t.Fatalf("item 1 has %d seeds, want 40", len(after))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := openTest(t, dir, Options{MaxSeeds: 40})
	defer e2.Close()
	if got := seedSet(t, e2, "77"); !slices.Equal(got, want) {
		t.Fatalf("after restart seeds = %v, want %v", got, want)
	}
	if got := seedSet(t, e2, "1"); !slices.Equal(got, after) {
		t.Fatalf("after restart item 1 = %v, want %v (was %v)", got, after, old)
	}
	if err := e2.WaitBuilt(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := e2.Stats(); st.ItemsOK != st.Items {
		t.Fatalf("after restart %d of %d items ok", st.ItemsOK, st.Items)
	}
}

func TestRestartLowersMaxSeeds(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir, Options{})
	before := seedSet(t, e, "3")
	e.Close()
	e2 := openTest(t, dir, Options{MaxSeeds: 12})
	got := seedSet(t, e2, "3")
	e2.Close()
	if !slices.Equal(got, before[len(before)-12:]) {
		t.Fatalf("seeds %v, want the latest 12 of %v", got, before)
	}
	e3 := openTest(t, dir, Options{})
	defer e3.Close()
	if got := seedSet(t, e3, "3"); !slices.Equal(got, before[len(before)-12:]) {
		t.Fatalf("store not trimmed: %v", got)
	}
}

func TestUpsertUser(t *testing.T) {
	s, _ := testworld.Small(t)
	dir := t.TempDir()
	e := openTest(t, dir, Options{})
	ctx := context.Background()
	vec := slices.Clone(s.Emb.Vec(3))
	if err := e.UpsertUser(ctx, "99", UserInput{Vector: vec}); err != nil {
		t.Fatal(err)
	}
	if err := e.Click(ctx, Click{UserID: "99", ItemID: "1"}); err != nil {
		t.Fatalf("click by upserted user: %v", err)
	}
	r1, err := e.Score(ctx, "99", []string{"1", "3"})
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := e.Score(ctx, s.UserID(3), []string{"1", "3"})
	if r1[1] != r2[1] {
		t.Fatalf("same vector scores differently: %v vs %v", r1, r2)
	}
	// Replace an existing user's vector (user 5 is no seed of item 3).
	if err := e.UpsertUser(ctx, s.UserID(5), UserInput{Vector: vec}); err != nil {
		t.Fatal(err)
	}
	r3, _ := e.Score(ctx, s.UserID(5), []string{"3"})
	if r3[0].Score != r2[1].Score {
		t.Fatalf("replaced vector not used: %v vs %v", r3[0], r2[1])
	}
	for _, bad := range []struct {
		name string
		id   string
		in   UserInput
		want string
	}{
		{"wrong dim", "98", UserInput{Vector: []float32{1, 2}}, "has 2 values"},
		{"nan", "98", UserInput{Vector: append(make([]float32, 7), float32(math.NaN()))}, "not finite"},
		{"nothing", "98", UserInput{}, "no vector and no features"},
		{"bad id", "u1", UserInput{Vector: vec}, "bad user id"},
		{"no user model", "98", UserInput{Features: map[string]any{"age": 3}}, "no user model"},
	} {
		if err := e.UpsertUser(ctx, bad.id, bad.in); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v, want %q", bad.name, err, bad.want)
		}
	}
	e.Close()
	e2 := openTest(t, dir, Options{})
	defer e2.Close()
	r4, err := e2.Score(ctx, "99", []string{"3"})
	if err != nil || r4[0].Score != r2[1].Score {
		t.Fatalf("upserted user after restart: %v %v", r4, err)
	}
	if got := seedSet(t, e2, "1"); !slices.Contains(got, "99") {
		t.Fatalf("upserted user's seed lost on restart: %v", got)
	}
}

func TestDeleteAndExpire(t *testing.T) {
	s, _ := testworld.Small(t)
	dir := t.TempDir()
	e := openTest(t, dir, Options{})
	ctx := context.Background()
	if err := e.Delete(ctx, "2"); err != nil {
		t.Fatal(err)
	}
	if err := e.Delete(ctx, "2"); !errors.Is(err, bundle.ErrUnknownItem) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := e.Item(ctx, "2"); !errors.Is(err, bundle.ErrUnknownItem) {
		t.Fatalf("deleted item: %v", err)
	}
	// Clicking again recreates it from scratch.
	if err := e.Click(ctx, Click{UserID: s.UserID(1), ItemID: "2"}); err != nil {
		t.Fatal(err)
	}
	if got := seedSet(t, e, "2"); !slices.Equal(got, []string{s.UserID(1)}) {
		t.Fatalf("recreated item seeds %v", got)
	}
	e.Close()
	e2 := openTest(t, dir, Options{ExpireAfter: 300 * time.Millisecond})
	defer e2.Close()
	if got := seedSet(t, e2, "2"); !slices.Equal(got, []string{s.UserID(1)}) {
		t.Fatalf("after restart item 2 seeds %v (the delete must be durable)", got)
	}
	// Keep item 3 alive by clicking; everything else expires.
	stop := time.Now().Add(time.Second)
	for time.Now().Before(stop) {
		if err := e2.Click(ctx, Click{UserID: s.UserID(2), ItemID: "3"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "expiry", 5*time.Second, func() bool { return e2.Stats().Items == 1 })
	if _, err := e2.Item(ctx, "3"); err != nil {
		t.Fatalf("clicked item expired: %v", err)
	}
	if e2.Stats().ItemsExpired == 0 {
		t.Fatal("no expiry counted")
	}
}

func TestAudienceFindsCommunity(t *testing.T) {
	s, _ := testworld.Small(t)
	e := openTest(t, t.TempDir(), Options{MinSeeds: 5})
	defer e.Close()
	ctx := context.Background()
	members := s.Members(1)
	var batch []Click
	for _, u := range members[:12] {
		batch = append(batch, Click{UserID: s.UserID(u), ItemID: "4242"})
	}
	if _, err := e.Clicks(ctx, batch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "re-cluster", 10*time.Second, func() bool {
		info, _ := e.Item(ctx, "4242")
		return info.Status == bundle.StatusOK
	})
	a, err := e.Audience(ctx, "4242", 40)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != bundle.StatusOK || a.Seeds != 12 || len(a.Users) != 40 {
		t.Fatalf("audience %+v", a)
	}
	seeds := map[string]bool{}
	for _, u := range members[:12] {
		seeds[s.UserID(u)] = true
	}
	hits := 0
	for i, u := range a.Users {
		if seeds[u.UserID] {
			t.Fatalf("seed %s in the audience", u.UserID)
		}
		if i > 0 && u.Score > a.Users[i-1].Score {
			t.Fatalf("audience not sorted at %d", i)
		}
		idx, _ := strconv.Atoi(u.UserID)
		if s.Comm[idx-1000] == 1 {
			hits++
		}
	}
	// A random audience would hold about 25% community-1 users.
	if hits < 30 {
		t.Fatalf("only %d of 40 audience users are in the seeds' community", hits)
	}
	// Cold items use the fallback.
	if err := e.Click(ctx, Click{UserID: s.UserID(members[0]), ItemID: "4343"}); err != nil {
		t.Fatal(err)
	}
	a2, err := e.Audience(ctx, "4343", 5)
	if err != nil || a2.Status != bundle.StatusCold || len(a2.Users) != 5 {
		t.Fatalf("cold audience %+v %v", a2, err)
	}
	if _, err := e.Audience(ctx, "555", 5); !errors.Is(err, bundle.ErrUnknownItem) {
		t.Fatalf("unknown item audience: %v", err)
	}
	if _, err := e.Audience(ctx, "4242", 0); err == nil {
		t.Fatal("n = 0 accepted")
	}
}

func TestBackgroundReclusterPicksUpChanges(t *testing.T) {
	s, _ := testworld.Small(t)
	e := openTest(t, t.TempDir(), Options{ReclusterInterval: 20 * time.Millisecond})
	defer e.Close()
	ctx := context.Background()
	before, _ := e.Item(ctx, "1")
	var batch []Click
	for _, u := range s.Members(3)[:20] {
		batch = append(batch, Click{UserID: s.UserID(u), ItemID: "1"})
	}
	if _, err := e.Clicks(ctx, batch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "interval re-cluster", 10*time.Second, func() bool {
		info, _ := e.Item(ctx, "1")
		return info.ReclusterSeeds == info.Seeds && info.LastRecluster.After(before.LastRecluster)
	})
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{},
		{DataDir: "x", MaxSeeds: -1},
		{DataDir: "x", MinSeeds: 20, MaxSeeds: 10},
		{DataDir: "x", ExpireAfter: -time.Second},
		{DataDir: "x", Workers: -2},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestStoreLockedByAnotherEngine(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir, Options{})
	defer e.Close()
	s, m := testworld.Small(t)
	_, err := openWithBundle(context.Background(), testworld.Bundle(s, m), Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second engine on the same data dir: %v", err)
	}
}

func TestClosedEngine(t *testing.T) {
	s, _ := testworld.Small(t)
	e := openTest(t, t.TempDir(), Options{})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := e.Click(context.Background(), Click{UserID: s.UserID(1), ItemID: "1"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("click after close: %v", err)
	}
	if _, err := e.Score(context.Background(), s.UserID(1), []string{"1"}); err != nil {
		t.Fatalf("score after close: %v", err)
	}
}

func TestOpenFromFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	testworld.WriteBundle(t, dir)
	e, err := Open(context.Background(), dir, Options{DataDir: filepath.Join(t.TempDir(), "state")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.WaitBuilt(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Items != 24 || st.ItemsOK != 24 || st.Users != 400 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "none"), Options{DataDir: t.TempDir()}); err == nil {
		t.Fatal("opened a missing folder")
	}
}

// TestRestoredItemFailedBuildKeepsColdScore: Open re-clusters the restored
// items at MinSeeds or more without building a cold state first; when that
// re-cluster fails, the item is failed and scored by its cold state (the
// look-alike model over its seeds), as before its first re-cluster.
func TestRestoredItemFailedBuildKeepsColdScore(t *testing.T) {
	s, m := testworld.Small(t)
	ctx := context.Background()
	dir := t.TempDir()
	members := s.Members(3)
	e := openTest(t, dir, Options{MinSeeds: 5})
	var seeds []float32
	for _, u := range members[:6] {
		if err := e.Click(ctx, Click{UserID: s.UserID(u), ItemID: "4242"}); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, s.Emb.Vec(int32(u))...)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openTest(t, dir, Options{MinSeeds: 5, reclusterFault: func(id string) error {
		if id == "4242" {
			return errors.New("injected")
		}
		return nil
	}})
	defer e.Close()
	res, err := e.Score(ctx, s.UserID(members[10]), []string{"4242"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.BuildItem(ctx, seeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 1)
	m.Score(s.Emb.Vec(int32(members[10])), []*lookalike.ItemState{st}, want)
	if res[0].Status != bundle.StatusFailed || math.Float32bits(res[0].Score) != math.Float32bits(want[0]) {
		t.Fatalf("restored item with a failed re-cluster: %+v, want failed with the cold score %v", res[0], want[0])
	}
}
