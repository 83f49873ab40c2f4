package lookalike

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
)

// reversed orders rows by descending row number, so that canonical order
// differs from row order.
func reversed(a, b int32) int { return int(b) - int(a) }

func TestNewItemCanonicalOrder(t *testing.T) {
	const d, h, k = 8, 8, 3
	ctx := context.Background()
	m := testModel(t, PoolingAttention, d, h, k, 7)
	users := UserRows{Vecs: randRows(11, 40, d), Dim: d, Order: reversed}
	seeds := []int32{3, 17, 5, 29, 8, 12, 21, 5, 33, 1}
	perm := []int32{33, 1, 21, 12, 8, 29, 5, 17, 3, 3}
	a, err := m.NewItem(ctx, users, seeds, ItemOptions{MinSeeds: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.NewItem(ctx, users, perm, ItemOptions{MinSeeds: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{33, 29, 21, 17, 12, 8, 5, 3, 1}
	if !slices.Equal(a.Seeds, want) || !slices.Equal(b.Seeds, want) {
		t.Fatalf("seeds %v and %v, want %v", a.Seeds, b.Seeds, want)
	}
	if a.Status != ItemWarm || !slices.Equal(a.State.Centroids, b.State.Centroids) {
		t.Fatalf("status %v; centroids differ for the same seeds in another order", a.Status)
	}
}

func TestNewItemCold(t *testing.T) {
	const d, h, k = 6, 8, 3
	ctx := context.Background()
	m := testModel(t, PoolingAttention, d, h, k, 7)
	vecs := randRows(2, 10, d)
	users := UserRows{Vecs: vecs, Dim: d}
	tests := []struct {
		name  string
		seeds []int32
		opt   ItemOptions
		want  ItemStatus
	}{
		{"below min", []int32{1, 2}, ItemOptions{MinSeeds: 3}, ItemCold},
		{"duplicates do not count", []int32{1, 2, 2}, ItemOptions{MinSeeds: 3}, ItemCold},
		{"at min", []int32{1, 2, 3}, ItemOptions{MinSeeds: 3}, ItemWarm},
		{"forced", []int32{1, 2, 3}, ItemOptions{MinSeeds: 3, Cold: true}, ItemCold},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := m.NewItem(ctx, users, tc.seeds, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if it.Status != tc.want {
				t.Fatalf("status %v, want %v", it.Status, tc.want)
			}
			if it.Status != ItemCold {
				return
			}
			// one scale: a cold item scores exactly as a warm item of the
			// same seeds (the look-alike model over the few seeds)
			warm, err := m.NewItem(ctx, users, tc.seeds, ItemOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if warm.Status != ItemWarm || !slices.Equal(it.State.Centroids, warm.State.Centroids) {
				t.Fatalf("cold state differs from the warm state of the same seeds")
			}
			for u := range int32(10) {
				got, want := make([]float32, 1), make([]float32, 1)
				m.ScoreItems(users.Vec(u), []*Item{it}, got)
				m.Score(users.Vec(u), []*ItemState{warm.State}, want)
				if math.Float32bits(got[0]) != math.Float32bits(want[0]) || math.IsNaN(float64(got[0])) {
					t.Fatalf("user %d: cold score %v, warm score of the same seeds %v", u, got[0], want[0])
				}
			}
		})
	}
	if _, err := m.NewItem(ctx, users, nil, ItemOptions{}); !errors.Is(err, ErrNoSeeds) {
		t.Fatalf("no seeds: %v", err)
	}
	if _, err := m.NewItem(ctx, users, []int32{10}, ItemOptions{}); err == nil {
		t.Fatal("seed out of range accepted")
	}
}

func TestScoreItemsMatchesScore(t *testing.T) {
	const d, h, k = 8, 8, 4
	ctx := context.Background()
	for _, pooling := range []Pooling{PoolingAttention, "attention+prior", PoolingAvg, "attention+prior+prop"} {
		m := testModel(t, pooling, d, h, k, 5)
		users := UserRows{Vecs: randRows(4, 60, d), Dim: d}
		warm, err := m.NewItem(ctx, users, []int32{0, 5, 9, 11, 20, 33, 41, 50}, ItemOptions{MinSeeds: 2})
		if err != nil {
			t.Fatal(err)
		}
		cold, err := m.NewItem(ctx, users, []int32{3}, ItemOptions{MinSeeds: 2})
		if err != nil {
			t.Fatal(err)
		}
		u := users.Vec(30)
		got := make([]float32, 3)
		m.ScoreItems(u, []*Item{warm, cold, nil}, got)
		one := make([]float32, 1)
		m.Score(u, []*ItemState{warm.State}, one)
		if got[0] != one[0] {
			t.Fatalf("%s: ScoreItems %v, Score %v", pooling, got[0], one[0])
		}
		if math.IsNaN(float64(got[1])) || !math.IsNaN(float64(got[2])) {
			t.Fatalf("%s: cold %v, nil %v", pooling, got[1], got[2])
		}
	}
}

func TestAudience(t *testing.T) {
	const d, h, k, n = 8, 8, 3, 9000 // more rows than one scan chunk
	ctx := context.Background()
	m := testModel(t, PoolingAttention, d, h, k, 3)
	vecs := randRows(9, n, d)
	copy(vecs[100*d:101*d], vecs[200*d:201*d]) // a tie: rows 100 and 200
	users := UserRows{Vecs: vecs, Dim: d, Order: reversed}
	for _, minSeeds := range []int{1, 100} { // warm, cold
		item, err := m.NewItem(ctx, users, []int32{1, 2, 3, 4, 5, 6, 7}, ItemOptions{MinSeeds: minSeeds})
		if err != nil {
			t.Fatal(err)
		}
		all := make([]float32, n)
		rows := make([]*Item, 1)
		for u := range n {
			rows[0] = item
			m.ScoreItems(users.Vec(int32(u)), rows, all[u:u+1])
		}
		// brute force: every non-seed row, sorted by the tie rule
		var want []ScoredUser
		for u := range n {
			if u >= 1 && u <= 7 || u == 50 {
				continue
			}
			want = append(want, ScoredUser{int32(u), all[u]})
		}
		slices.SortFunc(want, func(a, b ScoredUser) int { return rankUsers(a, b, reversed) })
		for _, workers := range []int{1, 3} {
			got, err := m.Audience(ctx, users, item, n, AudienceOptions{Workers: workers, Skip: func(u int32) bool { return u == 50 }})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%v, workers %d: audience differs from the brute-force ranking", item.Status, workers)
			}
			top, err := m.Audience(ctx, users, item, 25, AudienceOptions{Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			if len(top) != 25 || top[0].Score < top[24].Score {
				t.Fatalf("top 25: %v", top)
			}
		}
		for i, x := range want {
			if x.User == 200 && (i+1 >= len(want) || want[i+1].User != 100) {
				t.Fatalf("%v: tied rows not in id order (200 before 100 under reversed ids)", item.Status)
			}
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	item, _ := m.NewItem(ctx, users, []int32{1, 2}, ItemOptions{})
	if _, err := m.Audience(cctx, users, item, 5, AudienceOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: %v", err)
	}
}

// TestRestoreItem rebuilds warm and cold items from the parts a store keeps
// (centroids, weights): their scores are bit-identical to the
// originals' for every pooling; bad parts are refused.
func TestRestoreItem(t *testing.T) {
	const d, h, k = 8, 8, 4
	ctx := context.Background()
	for _, pooling := range []Pooling{PoolingAttention, "attention+prior", PoolingAvg} {
		m := testModel(t, pooling, d, h, k, 5)
		users := UserRows{Vecs: randRows(6, 60, d), Dim: d}
		warm, err := m.NewItem(ctx, users, []int32{0, 5, 9, 11, 20, 33, 41, 50}, ItemOptions{MinSeeds: 2})
		if err != nil {
			t.Fatal(err)
		}
		cold, err := m.NewItem(ctx, users, []int32{3, 7}, ItemOptions{Cold: true})
		if err != nil {
			t.Fatal(err)
		}
		rw, err := m.RestoreItem(warm.State.Centroids, warm.State.Weights, nil, 3)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := m.RestoreItem(cold.State.Centroids, cold.State.Weights, nil, 3)
		if err != nil {
			t.Fatal(err)
		}
		if rw.Status != ItemWarm || rc.Status != ItemCold {
			t.Fatalf("%s: statuses %v %v", pooling, rw.Status, rc.Status)
		}
		want, got := make([]float32, 2), make([]float32, 2)
		for u := range int32(60) {
			m.ScoreItems(users.Vec(u), []*Item{warm, cold}, want)
			m.ScoreItems(users.Vec(u), []*Item{rw, rc}, got)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s user %d item %d: restored %v, original %v", pooling, u, i, got[i], want[i])
				}
			}
		}
	}
	m := testModel(t, PoolingAttention, d, h, k, 5)
	if _, err := m.RestoreItem(nil, nil, nil, 3); err == nil {
		t.Error("a state without centroids (an older store's cold item) was accepted")
	}
	if _, err := m.RestoreItem(make([]float32, h+1), nil, nil, 3); err == nil {
		t.Error("centroids of the wrong width were accepted")
	}
}
