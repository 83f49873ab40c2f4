package eval

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/ralmlab/ralm/data"
)

// WritePerItem writes one row per (model, item) to path: model, item_id (of
// the item id kind), fresh, bucket, seeds, positives, candidates, auc, r10,
// r50.
func WritePerItem(path string, items []ItemResult, itemKind data.IDKind) error {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "model", Type: arrow.BinaryTypes.String},
		{Name: "item_id", Type: data.IDType(itemKind)},
		{Name: "fresh", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "bucket", Type: arrow.BinaryTypes.String},
		{Name: "seeds", Type: arrow.PrimitiveTypes.Int32},
		{Name: "positives", Type: arrow.PrimitiveTypes.Int32},
		{Name: "candidates", Type: arrow.PrimitiveTypes.Int32},
		{Name: "auc", Type: arrow.PrimitiveTypes.Float64},
		{Name: "r10", Type: arrow.PrimitiveTypes.Float64},
		{Name: "r50", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	return data.WriteRecords(context.Background(), path, sc, len(items), func(mem memory.Allocator, lo, hi int) (arrow.Record, error) {
		b := array.NewRecordBuilder(mem, sc)
		defer b.Release()
		for _, r := range items[lo:hi] {
			b.Field(0).(*array.StringBuilder).Append(r.Model)
			if err := data.AppendID(b.Field(1), itemKind, r.Item); err != nil {
				return nil, err
			}
			b.Field(2).(*array.BooleanBuilder).Append(r.Fresh)
			b.Field(3).(*array.StringBuilder).Append(r.Bucket)
			b.Field(4).(*array.Int32Builder).Append(int32(r.Seeds))
			b.Field(5).(*array.Int32Builder).Append(int32(r.Positives))
			b.Field(6).(*array.Int32Builder).Append(int32(r.Candidates))
			b.Field(7).(*array.Float64Builder).Append(r.AUC)
			b.Field(8).(*array.Float64Builder).Append(r.R10)
			b.Field(9).(*array.Float64Builder).Append(r.R50)
		}
		return b.NewRecord(), nil
	})
}

// ScoreLog collects every scored candidate of an evaluation (use its Sink as
// Options.Sink) and writes them as a table with columns model, item_id,
// user_id, score, label (1 for a held-out positive, else 0).
type ScoreLog struct {
	mu     sync.Mutex
	models []string
	model  []uint8
	item   []string
	user   []int32
	score  []float32
	label  []int8
}

// Sink records one (model, item)'s scores; it is safe for concurrent use.
func (l *ScoreLog) Sink(model string, c *Case, candidates []int32, scores []float32, positive []bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	mi := -1
	for i, m := range l.models {
		if m == model {
			mi = i
		}
	}
	if mi < 0 {
		if len(l.models) == 255 {
			return fmt.Errorf("score log: too many models")
		}
		mi = len(l.models)
		l.models = append(l.models, model)
	}
	for i, u := range candidates {
		l.model = append(l.model, uint8(mi))
		l.item = append(l.item, c.Item)
		l.user = append(l.user, u)
		l.score = append(l.score, scores[i])
		var lab int8
		if positive[i] {
			lab = 1
		}
		l.label = append(l.label, lab)
	}
	return nil
}

// Len is the number of recorded scores.
func (l *ScoreLog) Len() int { return len(l.score) }

// Write writes the recorded scores to path; users maps user indices to
// external ids and items gives the item id kind.
func (l *ScoreLog) Write(path string, users *data.Vocab, itemKind data.IDKind) error {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "model", Type: arrow.BinaryTypes.String},
		{Name: "item_id", Type: data.IDType(itemKind)},
		{Name: "user_id", Type: data.IDType(users.Kind())},
		{Name: "score", Type: arrow.PrimitiveTypes.Float32},
		{Name: "label", Type: arrow.PrimitiveTypes.Int8},
	}, nil)
	return data.WriteRecords(context.Background(), path, sc, l.Len(), func(mem memory.Allocator, lo, hi int) (arrow.Record, error) {
		b := array.NewRecordBuilder(mem, sc)
		defer b.Release()
		for i := lo; i < hi; i++ {
			b.Field(0).(*array.StringBuilder).Append(l.models[l.model[i]])
			if err := data.AppendID(b.Field(1), itemKind, l.item[i]); err != nil {
				return nil, err
			}
			if err := data.AppendID(b.Field(2), users.Kind(), users.ID(l.user[i])); err != nil {
				return nil, err
			}
			b.Field(3).(*array.Float32Builder).Append(l.score[i])
			b.Field(4).(*array.Int8Builder).Append(l.label[i])
		}
		return b.NewRecord(), nil
	})
}
