package ralm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
)

// synth is a small planted world: users in communities with embeddings near
// their community's centre, and items clicked by one community each.
type synth struct {
	emb    *data.Embeddings
	comm   []int // community of each user index
	nComm  int
	clicks *data.Clicks
}

// newSynth makes nUsers users (int64 ids 1000..), nItems items (int64 ids
// 1..nItems, item j belongs to community j%nComm) with clickers each.
func newSynth(seed uint64, nUsers, dim, nComm, nItems, clickers int) *synth {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float32, nComm)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for j := range centres[c] {
			centres[c][j] = float32(rng.NormFloat64())
		}
	}
	s := &synth{nComm: nComm, comm: make([]int, nUsers)}
	users := data.NewVocab(data.IDInt64)
	vecs := make([]float32, 0, nUsers*dim)
	byComm := make([][]int32, nComm)
	for i := range nUsers {
		users.Add(strconv.Itoa(1000 + i))
		c := i % nComm
		s.comm[i] = c
		byComm[c] = append(byComm[c], int32(i))
		for j := range dim {
			vecs = append(vecs, centres[c][j]+0.5*float32(rng.NormFloat64()))
		}
	}
	s.emb = &data.Embeddings{Users: users, Dim: dim, Vecs: vecs}
	cl := &data.Clicks{Users: users.Clone(), Items: data.NewVocab(data.IDInt64)}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for it := range nItems {
		idx := cl.Items.Add(strconv.Itoa(it + 1))
		members := byComm[it%nComm]
		for _, k := range rng.Perm(len(members))[:min(clickers, len(members))] {
			cl.User = append(cl.User, members[k])
			cl.Item = append(cl.Item, idx)
			cl.TS = append(cl.TS, t0+int64(len(cl.TS))*int64(time.Second))
		}
	}
	s.clicks = cl
	return s
}

// userID is the external id of user index i.
func (s *synth) userID(i int) string { return strconv.Itoa(1000 + i) }

// members returns the user indices of community c.
func (s *synth) members(c int) []int {
	var out []int
	for i, x := range s.comm {
		if x == c {
			out = append(out, i)
		}
	}
	return out
}

// trainModel trains a small look-alike model on s (a few epochs: enough to
// be a real model; model quality is not what these tests check).
func trainModel(s *synth, k, epochs int) (*lookalike.Model, error) {
	clickers := make([][]int32, s.clicks.Items.Len())
	for i := range s.clicks.User {
		clickers[s.clicks.Item[i]] = append(clickers[s.clicks.Item[i]], s.clicks.User[i])
	}
	cfg := lookalike.DefaultConfig()
	cfg.K, cfg.Epochs, cfg.MinClickers, cfg.Batch, cfg.Seed = k, epochs, 5, 64, 1
	cfg.SeedsPerItem = 20
	m, _, err := lookalike.Train(context.Background(), s.emb.Vecs, s.emb.Dim, clickers, cfg, lookalike.TrainOptions{})
	if err != nil {
		return nil, fmt.Errorf("train look-alike: %w", err)
	}
	return m, nil
}

type fixture struct {
	s *synth
	m *lookalike.Model
}

// smallFixture is a shared small world and model (training takes a moment).
var smallFixture = sync.OnceValues(func() (*fixture, error) {
	s := newSynth(1, 400, 8, 4, 24, 30)
	m, err := trainModel(s, 4, 2)
	return &fixture{s: s, m: m}, err
})

// small returns the shared synth and its trained model.
func small(tb testing.TB) (*synth, *lookalike.Model) {
	tb.Helper()
	f, err := smallFixture()
	if err != nil {
		tb.Fatal(err)
	}
	return f.s, f.m
}

// bundleOf assembles an in-memory bundle.
func bundleOf(s *synth, m *lookalike.Model) *Bundle {
	b := &Bundle{LookAlike: m, Embeddings: s.emb, Seeds: s.clicks}
	b.ClicksFingerprint = FingerprintClicks(s.clicks)
	b.ID = "test-" + b.ClicksFingerprint[7:23]
	return b
}

// openTest opens an engine on the small bundle with test-friendly options.
func openTest(tb testing.TB, dir string, opts Options) *Engine {
	tb.Helper()
	s, m := small(tb)
	opts.DataDir = dir
	if opts.ReclusterInterval == 0 {
		opts.ReclusterInterval = time.Hour
	}
	e, err := openWithBundle(context.Background(), bundleOf(s, m), opts)
	if err != nil {
		tb.Fatalf("open engine: %v", err)
	}
	return e
}

// seedSet returns the external ids of an item's seeds in arrival order.
func seedSet(tb testing.TB, e *Engine, itemID string) []string {
	tb.Helper()
	w := e.world.Load()
	v, ok := w.items.Load(itemID)
	if !ok {
		return nil
	}
	it := v.(*item)
	it.mu.Lock()
	defer it.mu.Unlock()
	snap := w.users.load()
	var out []string
	for _, u := range it.seeds() {
		out = append(out, snap.id(u))
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func itemID(i int) string { return fmt.Sprint(i) }
