// Package testworld is the small planted world the ralm sub-packages' tests
// share: users in communities, items clicked by one community each, a
// look-alike model trained on it, and the model folder made of them.
package testworld

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
	"github.com/ralmlab/ralm/ralm/bundle"
)

// Synth is a small planted world: users in communities with embeddings near
// their community's centre, and items clicked by one community each.
type Synth struct {
	Emb    *data.Embeddings
	Comm   []int // community of each user index
	NComm  int
	Clicks *data.Clicks
}

// NewSynth makes nUsers users (int64 ids 1000..), nItems items (int64 ids
// 1..nItems, item j belongs to community j%nComm) with clickers each.
func NewSynth(seed uint64, nUsers, dim, nComm, nItems, clickers int) *Synth {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float32, nComm)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for j := range centres[c] {
			centres[c][j] = float32(rng.NormFloat64())
		}
	}
	s := &Synth{NComm: nComm, Comm: make([]int, nUsers)}
	users := data.NewVocab(data.IDInt64)
	vecs := make([]float32, 0, nUsers*dim)
	byComm := make([][]int32, nComm)
	for i := range nUsers {
		users.MustAdd(strconv.Itoa(1000 + i))
		c := i % nComm
		s.Comm[i] = c
		byComm[c] = append(byComm[c], int32(i))
		for j := range dim {
			vecs = append(vecs, centres[c][j]+0.5*float32(rng.NormFloat64()))
		}
	}
	s.Emb = &data.Embeddings{Users: users, Dim: dim, Vecs: vecs}
	cl := &data.Clicks{Users: users.Clone(), Items: data.NewVocab(data.IDInt64)}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for it := range nItems {
		idx := cl.Items.MustAdd(strconv.Itoa(it + 1))
		members := byComm[it%nComm]
		for _, k := range rng.Perm(len(members))[:min(clickers, len(members))] {
			cl.User = append(cl.User, members[k])
			cl.Item = append(cl.Item, idx)
			cl.TS = append(cl.TS, t0+int64(len(cl.TS))*int64(time.Second))
		}
	}
	s.Clicks = cl
	return s
}

// UserID is the external id of user index i.
func (s *Synth) UserID(i int) string { return strconv.Itoa(1000 + i) }

// Members returns the user indices of community c.
func (s *Synth) Members(c int) []int {
	var out []int
	for i, x := range s.Comm {
		if x == c {
			out = append(out, i)
		}
	}
	return out
}

// TrainModel trains a small look-alike model on s (a few epochs: enough to
// be a real model; model quality is not what these tests check).
func TrainModel(s *Synth, k, epochs int) (*lookalike.Model, error) {
	clickers := make([][]int32, s.Clicks.Items.Len())
	for i := range s.Clicks.User {
		clickers[s.Clicks.Item[i]] = append(clickers[s.Clicks.Item[i]], s.Clicks.User[i])
	}
	cfg := lookalike.DefaultConfig()
	cfg.K, cfg.Epochs, cfg.MinClickers, cfg.Batch, cfg.Seed = k, epochs, 5, 64, 1
	cfg.SeedsPerItem = 20
	m, _, err := lookalike.Train(context.Background(), s.Emb.Vecs, s.Emb.Dim, clickers, cfg, lookalike.TrainOptions{})
	if err != nil {
		return nil, fmt.Errorf("train look-alike: %w", err)
	}
	return m, nil
}

type fixture struct {
	s *Synth
	m *lookalike.Model
}

// smallFixture is a shared small world and model (training takes a moment).
var smallFixture = sync.OnceValues(func() (*fixture, error) {
	s := NewSynth(1, 400, 8, 4, 24, 30)
	m, err := TrainModel(s, 4, 2)
	return &fixture{s: s, m: m}, err
})

// Small returns the shared synth and its trained model.
func Small(tb testing.TB) (*Synth, *lookalike.Model) {
	tb.Helper()
	f, err := smallFixture()
	if err != nil {
		tb.Fatal(err)
	}
	return f.s, f.m
}

// Bundle assembles an in-memory bundle.
func Bundle(s *Synth, m *lookalike.Model) *bundle.Bundle {
	b := &bundle.Bundle{LookAlike: m, Embeddings: s.Emb, Seeds: s.Clicks}
	b.ClicksFingerprint, b.ClicksFingerprintVersion = bundle.FingerprintClicks(s.Clicks), bundle.FingerprintVersion
	b.ID = "test-" + b.ClicksFingerprint[7:23]
	return b
}

// WriteBundle writes the small fixture as a model folder.
func WriteBundle(t testing.TB, dir string) *bundle.Bundle {
	t.Helper()
	s, m := Small(t)
	b := &bundle.Bundle{LookAlike: m, Embeddings: s.Emb, Seeds: s.Clicks}
	b.Meta = map[string]string{"note": "test"}
	if err := bundle.Write(dir, b); err != nil {
		t.Fatal(err)
	}
	return b
}
