package userrep

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/cputime"
)

// MovieLens-100K shape: 943 users, 1682 items, ~106 clicks per user, 6 fields.
var (
	mlOnce sync.Once
	mlData *planted
)

func movieLensShape() *planted {
	mlOnce.Do(func() {
		mlData = genPlanted(plantedSpec{users: 943, items: 1682, communities: 19, clicksPerUser: 106, inCommunity: 0.7, seed: 1})
	})
	return mlData
}

// benchTrainSteps times b.N full training steps as Train runs them (batch
// assembly with feature building and negative sampling pipelined with
// gather, forward, backward, scatter and Adam; no validation) and reports
// examples/s, on threads data-parallel workers.
func benchTrainSteps(b *testing.B, p *planted, cfg Config, threads int) {
	tr, err := newTrainer[float32](p.fb, p.clicks, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.close()
	if err := tr.setThreads(threads); err != nil {
		b.Fatal(err)
	}
	var ex []example
	for len(ex) < b.N*tr.B {
		ex = append(ex, tr.epochExamples(nil)...)
	}
	ex = ex[:b.N*tr.B]
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	global := 0
	if _, err := tr.runEpoch(context.Background(), 1, ex, TrainOptions{}, &global); err != nil {
		b.Fatal(err)
	}
	reportThroughput(b, b.N*tr.B, cputime.Process()-cpu0, "examples")
}

// reportThroughput reports items per wall-clock second and per CPU second
// of the process (the latter is robust to other load on the machine; with
// GOMAXPROCS=1 it is the single-core rate).
func reportThroughput(b *testing.B, n int, cpu time.Duration, unit string) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), unit+"/s")
	if cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), unit+"/cpu-s")
	}
}

// BenchmarkTrainMovieLensShape: m=64, batch 256, 10 negatives, 6 fields,
// 1682 items, for the default (gated) and the other merges.
func BenchmarkTrainMovieLensShape(b *testing.B) {
	for _, v := range []struct {
		name string
		edit func(*Config)
	}{
		{"gated", func(*Config) {}},
		{"attention", func(c *Config) { c.Merge = MergeAttention }},
		{"attention-tanhfc", func(c *Config) { c.Merge = MergeAttention; c.FieldFC = FieldFCTanh }},
		{"concat", func(c *Config) { c.Merge = MergeConcat }},
	} {
		b.Run(v.name, func(b *testing.B) {
			cfg := DefaultConfig()
			v.edit(&cfg)
			benchTrainSteps(b, movieLensShape(), cfg, 1)
		})
	}
}

// BenchmarkTrainMovieLensShapeThreads: the default model at the MovieLens
// shape on 1 and 2 data-parallel workers (examples/s; the speed-up needs
// idle cores).
func BenchmarkTrainMovieLensShapeThreads(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			benchTrainSteps(b, movieLensShape(), DefaultConfig(), threads)
		})
	}
}

// BenchmarkTrain100kItems: the same model on a 100k-item vocabulary.
func BenchmarkTrain100kItems(b *testing.B) {
	p := genPlanted(plantedSpec{users: 20000, items: 100000, communities: 200, clicksPerUser: 30, inCommunity: 0.7, seed: 2})
	benchTrainSteps(b, p, DefaultConfig(), 1)
}

// BenchmarkEmbed embeds every MovieLens-shape user from all its clicks and
// reports embeddings/s (feature building excluded).
func BenchmarkEmbed(b *testing.B) {
	p := movieLensShape()
	tr, err := newTrainer[float32](p.fb, p.clicks, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	m, err := newModel(tr.p, p.fb, p.clicks.Items)
	if err != nil {
		b.Fatal(err)
	}
	users, _ := prepareClicks(p.clicks, 0)
	fts := make([]data.Features, len(users))
	for u := range users {
		p.fb.Build(p.clicks.Users.ID(int32(u)), users[u].train, &fts[u])
	}
	dst := make([]float32, len(fts)*m.Dim())
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if err := m.EmbedBatch(context.Background(), fts, dst); err != nil {
			b.Fatal(err)
		}
	}
	reportThroughput(b, b.N*len(fts), cputime.Process()-cpu0, "embeddings")
}
