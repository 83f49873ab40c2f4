package lookalike

import (
	"context"
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// TestInferenceParity checks that Score (plain Go) equals the training
// graph's forward pass on the same items: the graph averages transformed
// seeds per k-means cluster through the assignment matrix, Score uses the
// centroids built by BuildItem.
func TestInferenceParity(t *testing.T) {
	for _, pooling := range []Pooling{PoolingAttention, PoolingAvg, "attention+prior", "avg+prior", "attention+prior+prop", "avg+prop"} {
		for _, h := range []int{8, 13} {
			t.Run(fmt.Sprintf("%s/h=%d", pooling, h), func(t *testing.T) {
				const d, k, T = 10, 6, 7
				m := testModel(t, pooling, d, h, k, 3)
				rng := newRNG(5, 1)
				// items with fewer seeds than k, exactly k, and more
				seedCounts := []int{1, 3, k, k + 1, 40, 25}
				S := 40
				B := len(seedCounts)
				dm := graphDims{B: B, S: S, K: k, T: T, D: d, H: h}
				sg, err := buildStepGraph(m, tensor.Float32, dm, false, m.tensorData(), false)
				if err != nil {
					t.Fatal(err)
				}
				defer sg.close()
				xs, xt, am := sg.f32(sg.xs), sg.f32(sg.xt), sg.f32(sg.amat)
				clear(am)
				users := make([]float32, B*T*d)
				for i := range users {
					users[i] = float32(rng.NormFloat64() * 2)
				}
				copy(xt, users)
				states := make([]*ItemState, B)
				for b, n := range seedCounts {
					seeds := make([]float32, n*d)
					for i := range seeds {
						seeds[i] = float32(rng.NormFloat64() + float64(i%d%3))
					}
					copy(xs[b*S*d:], seeds)
					st, err := m.BuildItem(context.Background(), seeds, nil)
					if err != nil {
						t.Fatal(err)
					}
					states[b] = st
					// the assignment BuildItem used
					hs := make([]float32, n*h)
					m.transformBatch(hs, seeds, n)
					assign, nc, err := clusterAssign(context.Background(), hs, n, h, k, nil, uint64(m.cfg.Seed)^uint64(n), m.cfg.KMeansIter, m.cfg.MiniBatchAbove)
					if err != nil {
						t.Fatal(err)
					}
					if nc != st.K {
						t.Fatalf("item %d: %d clusters, state has %d", b, nc, st.K)
					}
					cnt := make([]int, k)
					for _, a := range assign {
						cnt[a]++
					}
					for s, a := range assign {
						am[(b*k+int(a))*S+s] = 1 / float32(cnt[a])
					}
					var mask, avgw []float32
					if sg.mask != nil {
						mask = sg.f32(sg.mask)
					}
					if sg.avgw != nil {
						avgw = sg.f32(sg.avgw)
					}
					slotInputs(cnt, !m.cfg.NoSizePrior, mask, avgw, b)
				}
				if err := sg.run(); err != nil {
					t.Fatal(err)
				}
				want := sg.scoreV.Data().([]float32)
				out := make([]float32, 1)
				worst := 0.0
				for b := 0; b < B; b++ {
					for j := 0; j < T; j++ {
						u := users[(b*T+j)*d : (b*T+j+1)*d]
						m.Score(u, states[b:b+1], out)
						diff := math.Abs(float64(out[0] - want[b*T+j]))
						worst = math.Max(worst, diff)
						if diff > 1e-5 {
							t.Errorf("item %d (%d seeds) target %d: Score %v, graph %v", b, seedCounts[b], j, out[0], want[b*T+j])
						}
					}
				}
				t.Logf("max abs diff %.2g", worst)
			})
		}
	}
}

func randRows(seed uint64, n, d int) []float32 {
	rng := newRNG(seed, 3)
	v := make([]float32, n*d)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func TestBuildItem(t *testing.T) {
	const d, h, k = 6, 8, 5
	m := testModel(t, PoolingAttention, d, h, k, 2)
	ctx := context.Background()
	cases := []struct {
		name  string
		seeds int
		wantK int
	}{
		{"one seed", 1, 1},
		{"fewer than k", 3, 3},
		{"exactly k", k, k},
		{"many", 200, k},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := m.BuildItem(ctx, randRows(uint64(tc.seeds), tc.seeds, d), nil)
			if err != nil {
				t.Fatal(err)
			}
			if st.K != tc.wantK || len(st.Centroids) != st.K*h || len(st.Weights) != st.K || len(st.Global) != h || st.Seeds != tc.seeds {
				t.Fatalf("state K=%d centroids=%d weights=%d global=%d seeds=%d", st.K, len(st.Centroids), len(st.Weights), len(st.Global), st.Seeds)
			}
			var total float32
			for _, w := range st.Weights {
				total += w
			}
			if int(total) != tc.seeds {
				t.Fatalf("weights sum to %v, want %d", total, tc.seeds)
			}
			// warm start from the previous state gives a valid state too
			st2, err := m.BuildItem(ctx, randRows(uint64(tc.seeds)+1, tc.seeds+3, d), st)
			if err != nil || st2.K < 1 {
				t.Fatalf("warm start: %v", err)
			}
		})
	}
	// mini-batch k-means above the threshold
	mb := testModel(t, PoolingAttention, d, h, k, 2)
	mb.cfg.MiniBatchAbove = 100
	st, err := mb.BuildItem(ctx, randRows(5, 3000, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.K != k || st.Seeds != 3000 {
		t.Fatalf("mini-batch state K=%d seeds=%d", st.K, st.Seeds)
	}
	bad := []struct {
		name  string
		seeds []float32
	}{
		{"empty", nil},
		{"ragged", make([]float32, d+1)},
		{"nan", append(make([]float32, d-1), float32(math.NaN()))},
		{"inf", append(make([]float32, d-1), float32(math.Inf(1)))},
	}
	for _, tc := range bad {
		if _, err := m.BuildItem(ctx, tc.seeds, nil); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.BuildItem(cctx, randRows(1, 50, d), nil); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestNewItemState(t *testing.T) {
	const d, h, k = 6, 8, 5
	for _, pooling := range []Pooling{PoolingAttention, "attention+prior", PoolingAvg} {
		m := testModel(t, pooling, d, h, k, 2)
		st, err := m.BuildItem(context.Background(), randRows(4, 60, d), nil)
		if err != nil {
			t.Fatal(err)
		}
		// rebuilding from the stored centroids and weights scores the same
		st2, err := m.NewItemState(st.Centroids, st.Weights)
		if err != nil {
			t.Fatal(err)
		}
		user := randRows(9, 1, d)
		out := make([]float32, 2)
		m.Score(user, []*ItemState{st, st2}, out)
		if out[0] != out[1] || math.IsNaN(float64(out[0])) {
			t.Fatalf("%s: scores %v", pooling, out)
		}
		for i, g := range st.Global {
			if st2.Global[i] != g {
				t.Fatalf("%s: global differs", pooling)
			}
		}
		for _, tc := range []struct {
			c, w []float32
		}{
			{nil, nil},
			{make([]float32, h+1), nil},
			{make([]float32, 2*h), []float32{1}},
			{make([]float32, 2*h), []float32{1, 0}},
			{make([]float32, 2*h), []float32{1, float32(math.NaN())}},
			{append(make([]float32, h-1), float32(math.Inf(-1))), nil},
		} {
			if _, err := m.NewItemState(tc.c, tc.w); err == nil {
				t.Errorf("%s: NewItemState(%d centroids values, %v) succeeded", pooling, len(tc.c), tc.w)
			}
		}
	}
}

func TestScoreEdgeCases(t *testing.T) {
	const d, h, k = 6, 8, 5
	m := testModel(t, PoolingAttention, d, h, k, 2)
	other := testModel(t, PoolingAttention, d, h, k, 3)
	ctx := context.Background()
	st, err := m.BuildItem(ctx, randRows(1, 40, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.BuildItem(ctx, randRows(1, 40, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	user := randRows(2, 1, d)
	out := []float32{7, 7, 7, 7}
	m.Score(user, []*ItemState{st, nil, foreign}, out)
	if math.IsNaN(float64(out[0])) || !math.IsNaN(float64(out[1])) || !math.IsNaN(float64(out[2])) || out[3] != 7 {
		t.Fatalf("scores %v: want a number, NaN, NaN and the untouched 7", out)
	}
	lim := m.cfg.GlobalWeight + m.cfg.LocalWeight
	if out[0] < -lim || out[0] > lim {
		t.Fatalf("score %v outside [-%v, %v]", out[0], lim, lim)
	}
	for _, u := range [][]float32{user[:d-1], append(user[:d-1:d-1], float32(math.NaN()))} {
		o := []float32{0}
		m.Score(u, []*ItemState{st}, o)
		if !math.IsNaN(float64(o[0])) {
			t.Fatalf("bad user scored %v", o[0])
		}
	}
	short := make([]float32, 1)
	m.Score(user, []*ItemState{st, st, st}, short) // writes one score, no panic
	if short[0] != out[0] {
		t.Fatalf("short output: %v, want %v", short[0], out[0])
	}
	m.Score(user, nil, nil)
	if p := m.Probability(out[0]); !(p > 0 && p < 1) {
		t.Fatalf("probability %v", p)
	}
}

// TestScoreConcurrent scores shared items from many goroutines while others
// build items; run it with -race.
func TestScoreConcurrent(t *testing.T) {
	const d, h, k = 16, 16, 6
	m := testModel(t, PoolingAttention, d, h, k, 2)
	ctx := context.Background()
	items := make([]*ItemState, 20)
	for i := range items {
		st, err := m.BuildItem(ctx, randRows(uint64(i), 10+5*i, d), nil)
		if err != nil {
			t.Fatal(err)
		}
		items[i] = st
	}
	users := randRows(99, 8, d)
	want := make([]float32, 8*len(items))
	for u := 0; u < 8; u++ {
		m.Score(users[u*d:(u+1)*d], items, want[u*len(items):(u+1)*len(items)])
	}
	errc := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			out := make([]float32, len(items))
			for rep := 0; rep < 50; rep++ {
				u := (g + rep) % 8
				m.Score(users[u*d:(u+1)*d], items, out)
				for i, v := range out {
					if v != want[u*len(items)+i] {
						errc <- fmt.Errorf("goroutine %d: user %d item %d: %v, want %v", g, u, i, v, want[u*len(items)+i])
						return
					}
				}
				if rep%10 == 0 {
					if _, err := m.BuildItem(ctx, randRows(uint64(g*100+rep), 30, d), items[g]); err != nil {
						errc <- err
						return
					}
				}
			}
			errc <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestScoreUsers(t *testing.T) {
	const d, h, k = 16, 16, 6
	for _, pooling := range []Pooling{PoolingAttention, "attention+prior", PoolingAvg} {
		m := testModel(t, pooling, d, h, k, 4)
		st, err := m.BuildItem(context.Background(), randRows(3, 50, d), nil)
		if err != nil {
			t.Fatal(err)
		}
		const n = 9
		users := randRows(8, n, d)
		users[4*d+2] = float32(math.NaN())
		got := make([]float32, n)
		m.ScoreUsers(users, st, got)
		one := make([]float32, 1)
		for i := 0; i < n; i++ {
			m.Score(users[i*d:(i+1)*d], []*ItemState{st}, one)
			if got[i] != one[0] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(one[0]))) {
				t.Fatalf("%s user %d: ScoreUsers %v, Score %v", pooling, i, got[i], one[0])
			}
		}
		if !math.IsNaN(float64(got[4])) || math.IsNaN(float64(got[3])) {
			t.Fatalf("%s: NaN handling %v", pooling, got)
		}
		m.ScoreUsers(users[:len(users)-1], st, got) // ragged
		for _, v := range got[:n-1] {
			if !math.IsNaN(float64(v)) {
				t.Fatalf("%s: ragged users scored %v", pooling, got)
			}
		}
		m.ScoreUsers(users, nil, got)
		if !math.IsNaN(float64(got[0])) {
			t.Fatalf("%s: nil item scored %v", pooling, got[0])
		}
	}
}

// TestPropensityShift checks what the propensity term does to scores: every
// score of a user is the paper's score (the Paper view) plus the same p(u),
// so one user's order of the items is unchanged, while two users' scores
// for one item move apart by the difference of their propensities.
func TestPropensityShift(t *testing.T) {
	const d, h, k = 10, 8, 4
	m := testModel(t, "attention+prior+prop", d, h, k, 4)
	paper := m.Paper()
	if !m.HasPropensity() || paper.HasPropensity() {
		t.Fatalf("HasPropensity: model %v, paper view %v", m.HasPropensity(), paper.HasPropensity())
	}
	if paper.Config().Propensity != PropensityOff {
		t.Fatalf("paper view config propensity %q", paper.Config().Propensity)
	}
	var items []*ItemState
	for i, n := range []int{1, 5, 30} {
		st, err := m.BuildItem(context.Background(), randRows(uint64(20+i), n, d), nil)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, st)
	}
	users := randRows(9, 6, d)
	got, want := make([]float32, len(items)), make([]float32, len(items))
	var props []float32
	for u := 0; u < 6; u++ {
		user := users[u*d : (u+1)*d]
		p := m.Propensity(user)
		if p == 0 || math.IsNaN(float64(p)) {
			t.Fatalf("user %d: propensity %v", u, p)
		}
		props = append(props, p)
		m.Score(user, items, got)
		paper.Score(user, items, want)
		for i := range items {
			if d := math.Abs(float64(got[i] - (want[i] + p))); d > 1e-5 {
				t.Errorf("user %d item %d: score %v, paper %v + propensity %v", u, i, got[i], want[i], p)
			}
		}
	}
	// the audience scan adds each user's own term
	all, allPaper := make([]float32, 6), make([]float32, 6)
	m.ScoreUsers(users, items[2], all)
	paper.ScoreUsers(users, items[2], allPaper)
	for u := range all {
		if d := math.Abs(float64(all[u] - allPaper[u] - props[u])); d > 1e-5 {
			t.Errorf("ScoreUsers user %d: %v, paper %v + propensity %v", u, all[u], allPaper[u], props[u])
		}
	}
	for u := range all {
		if b := m.ScoreBound(); math.Abs(float64(all[u])) > float64(b) {
			t.Errorf("user %d: score %v beyond the bound %v", u, all[u], b)
		}
	}
	if b, pb := m.ScoreBound(), paper.ScoreBound(); pb != m.Config().GlobalWeight+m.Config().LocalWeight || b <= pb {
		t.Errorf("score bounds: model %v, paper view %v", b, pb)
	}
	// an Item built by the model scores through the paper view too
	it, err := m.NewItem(context.Background(), UserRows{Vecs: users, Dim: d}, []int32{0, 1, 2}, ItemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	one, onePaper := make([]float32, 1), make([]float32, 1)
	m.ScoreItems(users[3*d:4*d], []*Item{it}, one)
	paper.ScoreItems(users[3*d:4*d], []*Item{it}, onePaper)
	if d := math.Abs(float64(one[0] - onePaper[0] - props[3])); math.IsNaN(d) || d > 1e-5 {
		t.Errorf("ScoreItems: %v, paper view %v, propensity %v", one[0], onePaper[0], props[3])
	}
	if p := paper.Propensity(users[:d]); p != 0 {
		t.Errorf("paper view propensity %v, want 0", p)
	}
	if p := m.Propensity(users[:d-1]); !math.IsNaN(float64(p)) {
		t.Errorf("short embedding: propensity %v, want NaN", p)
	}
}
