package data

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// WriteRecords writes an nrows-row table with schema sc to path (Parquet, or
// Arrow IPC for a .arrow/.ipc/.feather extension) with the same settings as
// every other file of this package: built in record batches by build(mem,
// lo, hi) for rows [lo, hi), written to a temporary file and renamed into
// place, so path is never half-written. It is the way for other packages to
// write their own tables (reports, audiences) without a writer of their own.
func WriteRecords(ctx context.Context, path string, sc *arrow.Schema, nrows int, build func(mem memory.Allocator, lo, hi int) (arrow.Record, error), opts ...WriteOption) error {
	if err := writeBatches(ctx, path, sc, nrows, build, opts); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// IDType is the Arrow type of an id column of kind k: int64 or utf8.
func IDType(k IDKind) arrow.DataType {
	if k == IDInt64 {
		return arrow.PrimitiveTypes.Int64
	}
	return arrow.BinaryTypes.String
}
