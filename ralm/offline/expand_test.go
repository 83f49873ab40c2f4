package offline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// expWorld is a planted world for the offline tests: users in communities
// with embeddings near their community's centre, items clicked by members of
// one community each, and a small trained look-alike model.
type expWorld struct {
	b    *bundle.Bundle
	comm map[string]int // community of each user id
	nc   int
}

// newExpWorld builds nUsers users with ids of the given kind (int64:
// "1".."n", string: "u1".."un"; user index i is in community i%4), nItems
// items ("i0"..; item j is clicked by clickers members of community j%4),
// and trains a look-alike model for two epochs.
func newExpWorld(tb testing.TB, kind data.IDKind, nUsers, nItems, clickers int) *expWorld {
	tb.Helper()
	w, err := buildExpWorld(kind, 8, nUsers, nItems, clickers)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func buildExpWorld(kind data.IDKind, dim, nUsers, nItems, clickers int) (*expWorld, error) {
	const nc = 4
	rng := rand.New(rand.NewPCG(5, 9))
	centres := make([][]float32, nc)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for j := range centres[c] {
			centres[c][j] = float32(rng.NormFloat64())
		}
	}
	w := &expWorld{comm: map[string]int{}, nc: nc}
	users := data.NewVocab(kind)
	var vecs []float32
	byComm := make([][]int32, nc)
	for i := range nUsers {
		id := strconv.Itoa(i + 1)
		if kind == data.IDString {
			id = "u" + id
		}
		users.MustAdd(id)
		c := i % nc
		w.comm[id] = c
		byComm[c] = append(byComm[c], int32(i))
		for j := range dim {
			vecs = append(vecs, centres[c][j]+0.6*float32(rng.NormFloat64()))
		}
	}
	emb := &data.Embeddings{Users: users, Dim: dim, Vecs: vecs}
	cl := &data.Clicks{Users: users.Clone(), Items: data.NewVocab(data.IDString)}
	clickers2 := make([][]int32, nItems)
	for it := range nItems {
		idx := cl.Items.MustAdd("i" + strconv.Itoa(it))
		m := byComm[it%nc]
		for _, k := range rng.Perm(len(m))[:min(clickers, len(m))] {
			cl.User = append(cl.User, m[k])
			cl.Item = append(cl.Item, idx)
			cl.TS = append(cl.TS, int64(len(cl.TS))*1e9)
			clickers2[idx] = append(clickers2[idx], m[k])
		}
	}
	cfg := lookalike.DefaultConfig()
	cfg.K, cfg.Epochs, cfg.Batch, cfg.SeedsPerItem, cfg.Seed = 4, 2, 64, 20, 1
	if dim >= 64 { // benchmark size: the default number of clusters
		cfg.K = 20
	}
	m, _, err := lookalike.Train(context.Background(), vecs, dim, clickers2, cfg, lookalike.TrainOptions{})
	if err != nil {
		return nil, fmt.Errorf("train look-alike: %w", err)
	}
	w.b = &bundle.Bundle{LookAlike: m, Embeddings: emb, Seeds: cl}
	return w, nil
}

// expIntWorld is the shared world of most tests: 400 int64 users, 24 items
// of 30 clickers.
var expIntWorld = sync.OnceValues(func() (*expWorld, error) { return buildExpWorld(data.IDInt64, 8, 400, 24, 30) })

func intWorld(t *testing.T) *expWorld {
	t.Helper()
	w, err := expIntWorld()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// bruteTop scores every non-seed user with the same scorer and sorts them
// by (score desc, id asc), the contract of Expand.
func bruteTop(t *testing.T, b *bundle.Bundle, seeds []string, minSeeds int) []bundle.ScoredUser {
	t.Helper()
	rows, _ := seedRows(b.Embeddings.Users, seeds)
	it, _, err := newItem(context.Background(), b, rows, minSeeds)
	if err != nil {
		t.Fatal(err)
	}
	var all []bundle.ScoredUser
	var out [1]float32
	for r := range b.Embeddings.Users.Len() {
		if slices.Contains(rows, int32(r)) {
			continue
		}
		all = append(all, bundle.ScoredUser{UserID: b.Embeddings.Users.ID(int32(r)), Score: score(b.LookAlike, it, b.Embeddings.Vec(int32(r)), out[:])})
	}
	slices.SortStableFunc(all, func(a, c bundle.ScoredUser) int {
		if a.Score != c.Score {
			if a.Score > c.Score {
				return -1
			}
			return 1
		}
		return idCompare(b.Embeddings.Users.Kind(), a.UserID, c.UserID)
	})
	return all
}

// score scores one user against one item with the shared scorer.
func score(m *lookalike.Model, it *lookalike.Item, uv, out []float32) float32 {
	m.ScoreItems(uv, []*lookalike.Item{it}, out[:1])
	return out[0]
}

func idCompare(kind data.IDKind, a, b string) int {
	if kind == data.IDInt64 {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestExpandMatchesBruteForce(t *testing.T) {
	w := intWorld(t)
	ctx := context.Background()
	seeds, ok := ItemSeeds(w.b, "i1")
	if !ok || len(seeds) != 30 {
		t.Fatalf("ItemSeeds: %d seeds, ok %v", len(seeds), ok)
	}
	tests := []struct {
		name     string
		seeds    []string
		n        int
		minSeeds int
		status   bundle.Status
	}{
		{"model", seeds, 25, 0, bundle.StatusOK},
		{"cold fallback", seeds[:5], 25, 0, bundle.StatusCold},
		{"cold by option", seeds, 25, 31, bundle.StatusCold},
		{"n larger than users", seeds, 10000, 0, bundle.StatusOK},
		{"one seed", seeds[:1], 3, 1, bundle.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := tt.minSeeds
			if ms == 0 {
				ms = bundle.DefaultMinSeeds
			}
			want := bruteTop(t, w.b, tt.seeds, ms)
			want = want[:min(tt.n, len(want))]
			for _, workers := range []int{1, 3} {
				e, err := Expand(ctx, w.b, tt.seeds, tt.n, Options{MinSeeds: tt.minSeeds, Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				if e.Status != tt.status || e.Seeds != len(tt.seeds) || e.UnknownSeeds != 0 || e.UserIDKind != data.IDInt64 {
					t.Fatalf("status %s seeds %d unknown %d kind %v", e.Status, e.Seeds, e.UnknownSeeds, e.UserIDKind)
				}
				if !slices.Equal(e.Users, want) {
					t.Fatalf("workers %d: %d users differ from brute force (%d); first %v vs %v", workers, len(e.Users), len(want), e.Users[:min(3, len(e.Users))], want[:min(3, len(want))])
				}
				for _, u := range e.Users {
					if slices.Contains(tt.seeds, u.UserID) {
						t.Fatalf("seed %s in the expansion", u.UserID)
					}
				}
			}
		})
	}
	// n larger than the users: every non-seed user once.
	e, _ := Expand(ctx, w.b, seeds, 10000, Options{})
	if len(e.Users) != 400-30 {
		t.Fatalf("%d users, want %d", len(e.Users), 370)
	}
}

// TestExpandFindsCommunity: the expansion of an item's seeds is mostly its
// community (chance: 1/4).
func TestExpandFindsCommunity(t *testing.T) {
	w := intWorld(t)
	for _, item := range []string{"i0", "i1", "i2", "i3"} {
		e, err := ExpandItem(context.Background(), w.b, item, 50, Options{})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := strconv.Atoi(item[1:])
		hits := 0
		for _, u := range e.Users {
			if w.comm[u.UserID] == c%w.nc {
				hits++
			}
		}
		if hits < 40 {
			t.Fatalf("%s: %d of the top 50 in the item's community (chance 12.5)", item, hits)
		}
	}
}

func TestExpandTiesByID(t *testing.T) {
	for _, kind := range []data.IDKind{data.IDInt64, data.IDString} {
		w := newExpWorld(t, kind, 40, 4, 10)
		b := *w.b
		emb := *b.Embeddings
		emb.Vecs = slices.Clone(emb.Vecs)
		// users 9, 10, 11 (indices 8..10) get one vector: equal scores.
		for _, r := range []int{9, 10} {
			copy(emb.Vecs[r*emb.Dim:(r+1)*emb.Dim], emb.Vecs[8*emb.Dim:9*emb.Dim])
		}
		b.Embeddings = &emb
		seeds := []string{emb.Users.ID(0)}
		e, err := Expand(context.Background(), &b, seeds, 39, Options{MinSeeds: 1})
		if err != nil {
			t.Fatal(err)
		}
		at := slices.IndexFunc(e.Users, func(x bundle.ScoredUser) bool { return x.UserID == emb.Users.ID(8) })
		var got []string
		for _, u := range e.Users {
			if u.Score == e.Users[at].Score {
				got = append(got, u.UserID)
			}
		}
		want := []string{"9", "10", "11"}
		if kind == data.IDString {
			want = []string{"u10", "u11", "u9"}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%v: tied users in order %v, want %v", kind, got, want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	w := intWorld(t)
	ctx := context.Background()
	e, err := Expand(ctx, w.b, []string{"1", "2", "nobody", "1", "nobody"}, 5, Options{})
	if err != nil || e.Seeds != 2 || e.UnknownSeeds != 1 || e.Status != bundle.StatusCold {
		t.Fatalf("unknown seeds: %+v, %v", e, err)
	}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"no known seed", func() error { _, err := Expand(ctx, w.b, []string{"x", "y"}, 5, Options{}); return err }, "none of the 2 seeds has an embedding"},
		{"no seeds", func() error { _, err := Expand(ctx, w.b, nil, 5, Options{}); return err }, "none of the 0 seeds"},
		{"n zero", func() error { _, err := Expand(ctx, w.b, []string{"1"}, 0, Options{}); return err }, "n = 0"},
		{"nil bundle", func() error { _, err := Expand(ctx, nil, []string{"1"}, 1, Options{}); return err }, "no model"},
		{"unknown item", func() error { _, err := ExpandItem(ctx, w.b, "i999", 5, Options{}); return err }, `unknown item "i999"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := ExpandItem(ctx, w.b, "i999", 5, Options{}); !errors.Is(err, bundle.ErrUnknownItem) {
		t.Fatalf("unknown item: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Expand(cctx, w.b, []string{"1"}, 5, Options{MinSeeds: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestScoreItems(t *testing.T) {
	w := intWorld(t)
	ctx := context.Background()
	b := *w.b
	// item "few" has 3 clickers: cold.
	seeds := *b.Seeds
	seeds.Items = seeds.Items.Clone()
	few := seeds.Items.MustAdd("few")
	seeds.User = append(slices.Clone(seeds.User), 0, 4, 8)
	seeds.Item = append(slices.Clone(seeds.Item), few, few, few)
	seeds.TS = append(slices.Clone(seeds.TS), 1, 2, 3)
	b.Seeds = &seeds

	user := "13" // index 12: community 0, not a seed of "few"
	res, err := ScoreItems(ctx, &b, user, []string{"i0", "i1", "few", "nope"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []bundle.Status{bundle.StatusOK, bundle.StatusOK, bundle.StatusCold, bundle.StatusUnknownItem}
	for i, r := range res {
		if r.Status != wantStatus[i] {
			t.Fatalf("item %s: status %s, want %s", r.ItemID, r.Status, wantStatus[i])
		}
	}
	if res[3].Score != 0 || res[3].ItemID != "nope" {
		t.Fatalf("unknown item: %+v", res[3])
	}
	// The user's own community's item scores above another community's.
	if !(res[0].Score > res[1].Score) {
		t.Fatalf("user of community 0: i0 %v, i1 %v", res[0].Score, res[1].Score)
	}
	// Scores equal the expansion's scores for the same seed sets.
	for _, k := range []int{1, 2} {
		ids, _ := ItemSeeds(&b, res[k].ItemID)
		all := bruteTop(t, &b, ids, bundle.DefaultMinSeeds)
		at := slices.IndexFunc(all, func(u bundle.ScoredUser) bool { return u.UserID == user })
		if at < 0 || all[at].Score != res[k].Score {
			t.Fatalf("%s: score %v, the expansion scan gives %+v", res[k].ItemID, res[k].Score, all[max(at, 0)])
		}
	}
	// One scale (issue #13): the cold score is the look-alike model's score
	// over the item's few seeds, the ok score of the same seeds.
	ok, err := ScoreItems(ctx, &b, user, []string{"few"}, Options{MinSeeds: 1})
	if err != nil || ok[0].Status != bundle.StatusOK {
		t.Fatalf("few with MinSeeds 1: %+v, %v", ok, err)
	}
	if math.Float32bits(ok[0].Score) != math.Float32bits(res[2].Score) {
		t.Fatalf("cold score %v, the ok score of the same seeds %v", res[2].Score, ok[0].Score)
	}

	if _, err := ScoreItems(ctx, &b, "424242", []string{"i0"}, Options{}); !errors.Is(err, bundle.ErrUnknownUser) || !strings.Contains(err.Error(), `unknown user "424242"`) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestExpansionWrite(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []data.IDKind{data.IDInt64, data.IDString} {
		t.Run(kind.String(), func(t *testing.T) {
			w := newExpWorld(t, kind, 60, 4, 12)
			e, err := ExpandItem(ctx, w.b, "i2", 20, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"top.parquet", "top.arrow"} {
				path := filepath.Join(t.TempDir(), name)
				if err := e.Write(path); err != nil {
					t.Fatal(err)
				}
				tab, err := data.ReadTable(ctx, path, data.ColUserID, data.TableOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if tab.Keys.Kind() != kind || tab.Rows() != 20 {
					t.Fatalf("%s: kind %v, %d rows", name, tab.Keys.Kind(), tab.Rows())
				}
				score, rank := tab.Column("score"), tab.Column("rank")
				if score == nil || score.Kind != data.ColumnContinuous || rank == nil || rank.Kind != data.ColumnCategorical {
					t.Fatalf("%s: columns %+v", name, tab.Columns)
				}
				for r := range tab.Rows() {
					if tab.Keys.ID(int32(r)) != e.Users[r].UserID || float32(score.Floats[r]) != e.Users[r].Score {
						t.Fatalf("%s row %d: %s %v, want %+v", name, r, tab.Keys.ID(int32(r)), score.Floats[r], e.Users[r])
					}
					if got := rank.Values.ID(rank.Row(r)[0]); got != fmt.Sprint(r+1) {
						t.Fatalf("%s row %d: rank %s", name, r, got)
					}
				}
			}
		})
	}
	bad := &Expansion{UserIDKind: data.IDInt64, Users: []bundle.ScoredUser{{UserID: "u1", Score: 1}}}
	if err := bad.Write(filepath.Join(t.TempDir(), "x.parquet")); err == nil || !strings.Contains(err.Error(), `user id "u1" is not an int64`) {
		t.Fatalf("bad id: %v", err)
	}
}

// TestExpansionWriteContextCancelled: a cancelled write returns the
// context's error and leaves neither the file nor a temporary file.
func TestExpansionWriteContextCancelled(t *testing.T) {
	w := newExpWorld(t, data.IDInt64, 60, 4, 12)
	e, err := ExpandItem(context.Background(), w.b, "i2", 20, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	path := filepath.Join(dir, "top.parquet")
	err = e.WriteContext(ctx, path, data.WithProgress(func(done, total int64, rate float64) { cancel() }))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Fatalf("left behind: %v (%v)", ents, err)
	}
}

// BenchmarkExpand scans 50,000 users of dim 64 (h = 64, k = 20) for the
// top 1,000 of a 200-seed item; ns/user is the scan cost per user.
func BenchmarkExpand(b *testing.B) {
	const users = 50000
	w, err := buildExpWorld(data.IDInt64, 64, users, 8, 200)
	if err != nil {
		b.Fatal(err)
	}
	seeds, _ := ItemSeeds(w.b, "i0")
	b.ResetTimer()
	for range b.N {
		if _, err := Expand(context.Background(), w.b, seeds, 1000, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/users, "ns/user")
}
