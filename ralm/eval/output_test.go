package eval

import (
	"context"
	"github.com/ralmlab/ralm/internal/auc"
	"math"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/ralmlab/ralm/data"
)

func readParquet(t *testing.T, path string) arrow.Table {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// TestScoresRecomputeMetrics writes the raw scores and per-item metrics and
// recomputes every item's AUC from the scores file.
func TestScoresRecomputeMetrics(t *testing.T) {
	users := data.NewVocab(data.IDInt64)
	for i := 0; i < 40; i++ {
		users.MustAdd(string(rune('0'+i/10)) + string(rune('0'+i%10)))
	}
	u := universe(40)
	cases := []Case{
		{Item: "7", ItemIndex: 0, Seeds: []int32{0, 1, 2}, Positives: []int32{5, 9, 30}},
		{Item: "8", ItemIndex: -1, Fresh: true, Seeds: []int32{3, 4}, Positives: []int32{10, 20}},
	}
	act := make([]int32, 40)
	for i := range act {
		act[i] = int32((i * 7) % 5)
	}
	var log ScoreLog
	res, err := Evaluate(context.Background(), u, cases, []Scorer{oracle{}, Activity{Clicks: act}}, Options{Sink: log.Sink})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := log.Write(filepath.Join(dir, "scores.parquet"), users, data.IDInt64); err != nil {
		t.Fatal(err)
	}
	if err := WritePerItem(filepath.Join(dir, "items.parquet"), res.Items, data.IDInt64); err != nil {
		t.Fatal(err)
	}
	tbl := readParquet(t, filepath.Join(dir, "scores.parquet"))
	if tbl.NumRows() != int64(log.Len()) || log.Len() != 2*(37+38) {
		t.Fatalf("scores file has %d rows, log %d, want %d", tbl.NumRows(), log.Len(), 2*(37+38))
	}
	type key struct {
		model string
		item  int64
	}
	scores := map[key][]float32{}
	labels := map[key][]bool{}
	for c := 0; c < int(tbl.NumCols()); c++ {
		if tbl.Column(c).Len() != int(tbl.NumRows()) {
			t.Fatal("ragged columns")
		}
	}
	model := tbl.Column(0).Data().Chunk(0).(*array.String)
	item := tbl.Column(1).Data().Chunk(0).(*array.Int64)
	score := tbl.Column(3).Data().Chunk(0).(*array.Float32)
	label := tbl.Column(4).Data().Chunk(0).(*array.Int8)
	for i := 0; i < model.Len(); i++ {
		k := key{model.Value(i), item.Value(i)}
		scores[k] = append(scores[k], score.Value(i))
		labels[k] = append(labels[k], label.Value(i) == 1)
	}
	per := readParquet(t, filepath.Join(dir, "items.parquet"))
	pm := per.Column(0).Data().Chunk(0).(*array.String)
	pi := per.Column(1).Data().Chunk(0).(*array.Int64)
	pauc := per.Column(7).Data().Chunk(0).(*array.Float64)
	if pm.Len() != 4 {
		t.Fatalf("per-item file has %d rows, want 4", pm.Len())
	}
	for i := 0; i < pm.Len(); i++ {
		k := key{pm.Value(i), pi.Value(i)}
		if got := auc.Labeled(scores[k], labels[k]); math.Abs(got-pauc.Value(i)) > 1e-12 {
			t.Errorf("%v: AUC from scores file %v, per-item file %v", k, got, pauc.Value(i))
		}
	}
}
