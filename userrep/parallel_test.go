package userrep

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/ralmlab/ralm/internal/shard"
)

func TestShards(t *testing.T) {
	for _, c := range []struct{ B, threads, size, n int }{
		{256, 1, 256, 1},
		{256, 2, 128, 2},
		{256, 3, 86, 3},
		{32, 3, 11, 3},
		{5, 4, 2, 3}, // ceil(5/4) = 2 rows each: three workers are enough
		{2, 8, 1, 2},
		{1, 2, 1, 1},
	} {
		size, n := shard.Split(c.B, c.threads, 1)
		if size != c.size || n != c.n {
			t.Errorf("shards(%d, %d) = %d, %d; want %d, %d", c.B, c.threads, size, n, c.size, c.n)
		}
	}
	if _, n := shard.Split(64, 0, 1); n < 1 {
		t.Errorf("shards(64, 0) gave %d workers", n)
	}
}

// gradsOf returns the loss and every gradient of one batch: dense, then the
// table rows and output item rows by row index.
func gradsOf(t *testing.T, tr *trainer[float64], n int) (float64, []float64, map[string][]float64) {
	t.Helper()
	loss, err := tr.computeGrads(n)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]float64{}
	for f, sg := range tr.tabGrad {
		if sg == nil {
			continue
		}
		for k, r := range sg.rows {
			rows[fmt.Sprintf("table%d[%d]", f, r)] = append([]float64(nil), sg.g[k*sg.width:(k+1)*sg.width]...)
		}
	}
	for k, r := range tr.outGrad.rows {
		w := tr.outGrad.width
		rows[fmt.Sprintf("out[%d]", r)] = append([]float64(nil), tr.outGrad.g[k*w:(k+1)*w]...)
	}
	return loss, append([]float64(nil), tr.dense...), rows
}

// TestShardedGradsMatch: the loss and every gradient of a batch cut into
// 2 or 3 shards (the last one padded) equal those of the whole batch on one
// graph, in float64, for every merge with field dropout and the LogQ
// correction.
func TestShardedGradsMatch(t *testing.T) {
	p := tinyPlanted()
	for _, v := range []struct {
		merge Merge
		logQ  bool
	}{{MergeAttention, false}, {MergeConcat, true}, {MergeGated, false}} {
		t.Run(string(v.merge), func(t *testing.T) {
			cfg := quickConfig()
			cfg.Merge, cfg.LogQ, cfg.FieldDropout = v.merge, v.logQ, 0.3
			tr, err := newTrainer[float64](p.fb, p.clicks, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.close()
			ex := tr.epochExamples(nil)[:tr.B-3] // three padding rows
			tr.loadBatch(ex)
			loss1, dense1, rows1 := gradsOf(t, tr, len(ex))
			for _, threads := range []int{2, 3} {
				if err := tr.setThreads(threads); err != nil {
					t.Fatal(err)
				}
				if len(tr.workers) != threads {
					t.Fatalf("%d workers, want %d", len(tr.workers), threads)
				}
				loss, dense, rows := gradsOf(t, tr, len(ex))
				if d := loss - loss1; d > 1e-12 || d < -1e-12 {
					t.Errorf("threads %d: loss %v, one graph %v", threads, loss, loss1)
				}
				expectClose(t, fmt.Sprintf("threads %d: dense", threads), dense, dense1, 1e-12)
				if len(rows) != len(rows1) {
					t.Fatalf("threads %d: %d gradient rows, one graph %d", threads, len(rows), len(rows1))
				}
				for k, r := range rows1 {
					expectClose(t, fmt.Sprintf("threads %d: %s", threads, k), rows[k], r, 1e-12)
				}
			}
		})
	}
}

// TestThreadsReproducible: the same seed and Threads give byte-identical
// model files, with 1, 2 and 3 workers.
func TestThreadsReproducible(t *testing.T) {
	p := tinyPlanted()
	cfg := quickConfig()
	cfg.FieldDropout = 0.2
	enc := func(threads int) []byte {
		m, _, err := Train(context.Background(), p.fb, p.clicks, cfg, TrainOptions{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, threads := range []int{1, 2, 3} {
		if a, b := enc(threads), enc(threads); !bytes.Equal(a, b) {
			t.Errorf("threads %d: two runs with the same seed gave different model files", threads)
		}
	}
}
