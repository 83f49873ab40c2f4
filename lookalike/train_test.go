package lookalike

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// smallPlanted is a quick planted data set for unit tests.
func smallPlanted(seed uint64) *planted {
	return makePlanted(plantedSpec{users: 400, comms: 8, dim: 8, trainItems: 40, testItems: 10,
		noise: 0.5, clickRate: 0.3, randomRate: 0.005, seed: seed})
}

func TestTrainDeterministic(t *testing.T) {
	p := smallPlanted(2)
	for _, cfg := range []Config{
		{Epochs: 2, K: 5, SeedsPerItem: 20, Seed: 7},
		{Epochs: 2, K: 5, SeedsPerItem: 20, Seed: 7, Dropout: 0.2, Pooling: PoolingAvg, ReclusterEvery: 3, NoSizePrior: true},
		{Epochs: 2, K: 5, SeedsPerItem: 20, Seed: 7, PositivesPerItem: 3, ReclusterEvery: 1000},
	} {
		var prev []byte
		for run := 0; run < 2; run++ {
			m, rep, err := Train(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{ValidFraction: 0.2})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Steps == 0 || rep.Pairs == 0 || len(rep.Epochs) != 2 || rep.ValidItems == 0 {
				t.Fatalf("report %+v", rep)
			}
			buf, err := m.encode()
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil && !bytes.Equal(prev, buf) {
				t.Fatalf("config %+v: two runs with the same seed differ", cfg)
			}
			prev = buf
		}
		cfg.Seed++
		m, _, err := Train(context.Background(), p.emb, p.dim, p.train, cfg, TrainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		buf, _ := m.encode()
		if bytes.Equal(prev, buf) {
			t.Fatalf("config %+v: different seeds gave identical weights", cfg)
		}
	}
}

func TestTrainInputErrors(t *testing.T) {
	p := smallPlanted(3)
	ctx := context.Background()
	cases := []struct {
		name     string
		emb      []float32
		dim      int
		clickers [][]int32
		cfg      Config
		opts     TrainOptions
		want     string
	}{
		{"dim", p.emb, 1, p.train, Config{}, TrainOptions{}, "width 1"},
		{"ragged", p.emb[:len(p.emb)-1], p.dim, p.train, Config{}, TrainOptions{}, "multiple"},
		{"nan", append([]float32{float32(math.NaN())}, p.emb[1:]...), p.dim, p.train, Config{}, TrainOptions{}, "non-finite"},
		{"range", p.emb, p.dim, [][]int32{{0, 1, 99999}}, Config{}, TrainOptions{}, "out of range"},
		{"negative", p.emb, p.dim, [][]int32{{-1}}, Config{}, TrainOptions{}, "out of range"},
		{"no items", p.emb, p.dim, [][]int32{{1, 2}}, Config{}, TrainOptions{}, "no item"},
		{"pooling", p.emb, p.dim, p.train, Config{Pooling: "max"}, TrainOptions{}, "pooling"},
		{"dropout", p.emb, p.dim, p.train, Config{Dropout: 1}, TrainOptions{}, "dropout"},
		{"fraction", p.emb, p.dim, p.train, Config{SeedFraction: 1.5}, TrainOptions{}, "seed fraction"},
		{"valid", p.emb, p.dim, p.train, Config{}, TrainOptions{ValidFraction: 1}, "validation"},
		{"hidden", p.emb, p.dim, p.train, Config{Hidden: 1}, TrainOptions{}, "hidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Train(ctx, tc.emb, tc.dim, tc.clickers, tc.cfg, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// the row of a non-finite value is reported as a NonFiniteError
	emb := slices.Clone(p.emb)
	emb[2*p.dim+1] = float32(math.Inf(-1))
	_, _, err := Train(ctx, emb, p.dim, p.train, Config{}, TrainOptions{})
	if nf := (*NonFiniteError)(nil); !errors.As(err, &nf) || nf.Row != 2 {
		t.Errorf("non-finite row 2: error %v, want a NonFiniteError for row 2", err)
	}
}

func TestTrainCancel(t *testing.T) {
	p := smallPlanted(4)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, _, err := Train(ctx, p.emb, p.dim, p.train, Config{Epochs: 50, K: 4, SeedsPerItem: 10}, TrainOptions{
		ProgressEvery: 1,
		Progress: func(Progress) {
			calls++
			if calls == 3 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestTrainProgress(t *testing.T) {
	p := smallPlanted(5)
	var got []Progress
	_, rep, err := Train(context.Background(), p.emb, p.dim, p.train, Config{Epochs: 3, K: 4, SeedsPerItem: 10},
		TrainOptions{ProgressEvery: 2, ValidFraction: 0.25, Progress: func(pr Progress) { got = append(got, pr) }})
	if err != nil {
		t.Fatal(err)
	}
	epochs := 0
	for i, pr := range got {
		if i > 0 && pr.Step < got[i-1].Step {
			t.Fatalf("steps go backwards: %+v after %+v", pr, got[i-1])
		}
		if pr.EpochDone {
			epochs++
			if pr.ValidAUC <= 0 || pr.ValidAUC > 1 || pr.Loss <= 0 || math.IsNaN(pr.Loss) {
				t.Fatalf("epoch progress %+v", pr)
			}
		}
	}
	if epochs != 3 || len(got) <= 3 {
		t.Fatalf("%d progress calls, %d epoch ends", len(got), epochs)
	}
	if rep.Steps != got[len(got)-1].Step || rep.TrainItems+rep.ValidItems+rep.SkippedItems != rep.Items {
		t.Fatalf("report %+v", rep)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults(32)
	d := DefaultConfig()
	d.Hidden = 32
	d.Dropout = 0 // taken literally
	if c != d {
		t.Fatalf("zero config resolves to %+v, want %+v", c, d)
	}
	if got := DefaultConfig().withDefaults(32); got.Dropout != 0.1 || got.Hidden != 32 {
		t.Fatalf("DefaultConfig resolves to %+v", got)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.rowsPerBatch() * c.targetsPerRow(); got < 250 || got > 260 {
		t.Fatalf("default batch holds %d pairs", got)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero (all defaults)", Config{}, ""},
		{"defaults", DefaultConfig(), ""},
		{"avg pooling", Config{Pooling: PoolingAvg}, ""},
		{"bad pooling", Config{Pooling: "max"}, `pooling "max": want one of attention, avg`},
		{"bad dropout", Config{Dropout: 1}, "dropout 1 out of range [0, 1)"},
	} {
		err := tc.cfg.Validate()
		if tc.wantErr == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestPoolingFlag(t *testing.T) {
	var p Pooling
	if err := p.Set("avg"); err != nil || p != PoolingAvg || p.String() != "avg" {
		t.Fatalf("Set(avg): %q, %v", p, err)
	}
	if err := p.Set("sum"); err == nil || p != PoolingAvg {
		t.Fatalf("Set(sum): %q, %v; want an error and no change", p, err)
	}
	if got, err := ParsePooling("attention"); err != nil || got != PoolingAttention {
		t.Fatalf("ParsePooling(attention) = %q, %v", got, err)
	}
}

// TestFillDropout checks the branch-free mask against its definition: four
// 16-bit draws per uint64, lowest first, dropped below p·2¹⁶.
func TestFillDropout(t *testing.T) {
	for _, tc := range []struct {
		n int
		p float32
	}{{0, 0.1}, {1, 0.1}, {3, 0.5}, {4, 0.2}, {7, 0.2}, {1001, 0.1}, {64, 0}, {64, 0.9}} {
		got := make([]float32, tc.n)
		fillDropout(rand.New(rand.NewPCG(3, 4)), got, tc.p)
		ref := rand.New(rand.NewPCG(3, 4))
		keep := 1 / (1 - tc.p)
		thr := uint32(float64(tc.p) * (1 << 16))
		var r uint64
		for i := range got {
			if i%4 == 0 {
				r = ref.Uint64()
			}
			want := keep
			if uint32(r>>(16*(i%4))&0xffff) < thr {
				want = 0
			}
			if math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d p=%g: element %d is %g, want %g", tc.n, tc.p, i, got[i], want)
			}
		}
	}
}
