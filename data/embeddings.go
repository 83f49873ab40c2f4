package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// ColEmbedding is the vector column of an embeddings file.
const ColEmbedding = "embedding"

// Embeddings are one vector per user: row i of the file, user Users.ID(i),
// has the vector Vecs[i*Dim : (i+1)*Dim] (row-major).
type Embeddings struct {
	Users *Vocab
	Dim   int
	Vecs  []float32
}

// Vec returns the vector of user index i (aliasing e.Vecs).
func (e *Embeddings) Vec(i int32) []float32 {
	return e.Vecs[int(i)*e.Dim : int(i+1)*e.Dim]
}

// WriteEmbeddings writes user embeddings: columns user_id (int64 or string,
// by the vocabulary's kind) and embedding as fixed_size_list<float32>[dim],
// one row per user in index order, vecs row-major (len == users.Len()*dim).
// Parquet files store the Arrow schema (so the fixed-size type round-trips)
// and carry no timestamps or paths: the same input always gives a
// byte-identical file. Their vector column is written by this package's own
// column writer (see embeddings_parquet.go), in linear time and bounded
// memory. The file is Arrow IPC when the name ends in .arrow, .ipc or
// .feather. Written atomically.
func WriteEmbeddings(ctx context.Context, path string, users *Vocab, dim int, vecs []float32, opts ...WriteOption) error {
	if err := writeEmbeddings(ctx, path, users, dim, vecs, opts); err != nil {
		return fmt.Errorf("write embeddings %s: %w", path, err)
	}
	return nil
}

func writeEmbeddings(ctx context.Context, path string, users *Vocab, dim int, vecs []float32, opts []WriteOption) error {
	if users == nil {
		return errors.New("nil user vocabulary")
	}
	if dim <= 0 || dim > math.MaxInt32 {
		return fmt.Errorf("invalid dimension %d", dim)
	}
	if len(vecs) != users.Len()*dim {
		return fmt.Errorf("%d values for %d users × dim %d", len(vecs), users.Len(), dim)
	}
	uw, err := newIDWriter(users)
	if err != nil {
		return fmt.Errorf("user vocabulary: %w", err)
	}
	sc := embeddingsSchema(uw, dim)
	if FormatFromPath(path) == FormatParquet {
		return writeEmbeddingsParquet(ctx, path, sc, uw, dim, vecs, opts)
	}
	return writeBatches(ctx, path, sc, users.Len(), embeddingsRecords(sc, uw, dim, vecs), opts)
}

// embeddingsSchema is the Arrow schema of an embeddings file.
func embeddingsSchema(uw *idWriter, dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: ColUserID, Type: uw.dataType()},
		// The field is declared nullable (no value is null): pqarrow v15
		// writes the values of a non-nullable fixed_size_list field with
		// wrong definition levels, and they read back as nulls (the
		// path-builder bug fixed upstream in apache/arrow-go#585).
		{Name: ColEmbedding, Type: arrow.FixedSizeListOfNonNullable(int32(dim), arrow.PrimitiveTypes.Float32), Nullable: true},
	}, nil)
}

// embeddingsRecords returns the record batch builder of writeBatches for
// embeddings with schema sc (embeddingsSchema).
func embeddingsRecords(sc *arrow.Schema, uw *idWriter, dim int, vecs []float32) func(mem memory.Allocator, lo, hi int) (arrow.Record, error) {
	et := sc.Field(1).Type
	return func(mem memory.Allocator, lo, hi int) (arrow.Record, error) {
		ua := uw.buildRange(mem, lo, hi)
		defer ua.Release()
		// Elements are non-nullable (fixed_size_list<item: float32>[dim]),
		// which the builder cannot make, so the array is assembled by hand,
		// its values buffer aliasing vecs (the writer only reads it).
		vd := array.NewData(arrow.PrimitiveTypes.Float32, (hi-lo)*dim,
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(vecs[lo*dim : hi*dim]))}, nil, 0, 0)
		defer vd.Release()
		ld := array.NewData(et, hi-lo, []*memory.Buffer{nil}, []arrow.ArrayData{vd}, 0, 0)
		defer ld.Release()
		ea := array.MakeFromData(ld)
		defer ea.Release()
		return array.NewRecord(sc, []arrow.Array{ua, ea}, int64(hi-lo)), nil
	}
}

// ReadEmbeddings reads a file written by WriteEmbeddings (or any Parquet or
// Arrow file with user_id and an embedding column that is a fixed-size or
// variable list of float32 or float64 with the same length on every row).
// Null or duplicate user ids and null vectors are errors naming the row.
func ReadEmbeddings(ctx context.Context, path string) (*Embeddings, error) {
	e, err := readEmbeddings(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read embeddings %s: %w", path, err)
	}
	return e, nil
}

func readEmbeddings(ctx context.Context, path string) (*Embeddings, error) {
	return readFile(path, 0, nil, func(src *batchSource, _ *progressMeter) (*Embeddings, error) {
		return readEmbeddingsFrom(ctx, src)
	})
}

func readEmbeddingsFrom(ctx context.Context, src *batchSource) (e *Embeddings, err error) {
	sc := src.schema
	users, err := prepareIDVocab(sc, ColUserID, nil, "user")
	if err != nil {
		return nil, err
	}
	fi := fieldIndex(sc, ColEmbedding)
	if fi < 0 {
		return nil, fmt.Errorf("missing column %q (have %s)", ColEmbedding, columnList(sc))
	}
	lt, ok := sc.Field(fi).Type.(arrow.ListLikeType)
	if !ok || (lt.Elem().ID() != arrow.FLOAT32 && lt.Elem().ID() != arrow.FLOAT64) {
		return nil, fmt.Errorf("column %q: type %s is not a list of float32 or float64", ColEmbedding, sc.Field(fi).Type)
	}
	e = &Embeddings{Users: users}
	if fl, ok := lt.(*arrow.FixedSizeListType); ok {
		e.Dim = int(fl.Len())
		if e.Dim <= 0 {
			return nil, fmt.Errorf("column %q: invalid dimension %d", ColEmbedding, e.Dim)
		}
	}
	if err := src.open(ctx, []string{ColUserID, ColEmbedding}); err != nil {
		return nil, err
	}
	ue := newIDEncoder(users)
	var codes []int32
	row := 0
	for {
		rec, err := src.nextBatch(ctx, row, ColUserID, ColEmbedding)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		n := int(rec.NumRows())
		codes = grow32(codes, n)
		if err := encodeIDColumn(ue, rec, ColUserID, row, codes); err != nil {
			return nil, err
		}
		for j, c := range codes {
			if int(c) != row+j {
				return nil, fmt.Errorf("column %q row %d: duplicate user id %q (first at row %d)", ColUserID, row+j, users.ID(c), c)
			}
		}
		arr := rec.Column(fieldIndex(rec.Schema(), ColEmbedding))
		l, ok := arr.(array.ListLike)
		if !ok {
			return nil, fmt.Errorf("column %q: type %s is not a list", ColEmbedding, arr.DataType())
		}
		vals := l.ListValues()
		for j := 0; j < n; j++ {
			if l.IsNull(j) {
				return nil, fmt.Errorf("column %q row %d: null embedding", ColEmbedding, row+j)
			}
			s, t := l.ValueOffsets(j)
			if e.Dim == 0 {
				e.Dim = int(t - s)
				if e.Dim == 0 {
					return nil, fmt.Errorf("column %q row %d: empty embedding", ColEmbedding, row+j)
				}
			}
			if int(t-s) != e.Dim {
				return nil, fmt.Errorf("column %q row %d: length %d, want %d", ColEmbedding, row+j, t-s, e.Dim)
			}
			switch v := vals.(type) {
			case *array.Float32:
				if v.NullN() > 0 {
					for k := s; k < t; k++ {
						if v.IsNull(int(k)) {
							return nil, fmt.Errorf("column %q row %d: null value", ColEmbedding, row+j)
						}
					}
				}
				e.Vecs = append(e.Vecs, v.Float32Values()[s:t]...)
			case *array.Float64:
				for k := s; k < t; k++ {
					if v.IsNull(int(k)) {
						return nil, fmt.Errorf("column %q row %d: null value", ColEmbedding, row+j)
					}
					e.Vecs = append(e.Vecs, float32(v.Value(int(k))))
				}
			default:
				return nil, fmt.Errorf("column %q: values of type %s", ColEmbedding, vals.DataType())
			}
			for k, x := range e.Vecs[len(e.Vecs)-e.Dim:] {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, fmt.Errorf("column %q row %d (user %q): value %d is %v (as float32)", ColEmbedding, row+j, users.ID(int32(row+j)), k, x)
				}
			}
		}
		row += n
	}
	if row == 0 {
		return nil, errors.New("no rows (empty table)")
	}
	return e, nil
}
