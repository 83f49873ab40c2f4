package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/ralmlab/ralm/internal/enum"
)

// TableOptions tunes ReadTable. The zero value reads every column and
// rejects an empty table.
type TableOptions struct {
	// Columns lists the feature columns to read, in this order; nil reads
	// every column except the key, in file order. A listed column that is
	// missing is an error.
	Columns []string
	// AllowEmpty accepts a table with no rows.
	AllowEmpty bool
	// BatchSize is the number of rows per record batch read (default 65536).
	BatchSize int
	// Progress, when not nil, is called after each record batch with the
	// rows read so far, the file's row count (-1 for Arrow files) and the
	// rate.
	Progress Progress
}

// columnKindNames are the names of the column kinds.
var columnKindNames = []string{ColumnCategorical: "categorical", ColumnMulti: "multi", ColumnContinuous: "continuous"}

// String names the column kind.
func (k ColumnKind) String() string { return enum.Name("ColumnKind", k, columnKindNames) }

// Column returns the column named name, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// Row returns the value codes of row r of a categorical or multi-valued
// column (indices into c.Values; empty for a null cell). The slice aliases
// the column.
func (c *Column) Row(r int) []int32 { return c.Codes[c.Offsets[r]:c.Offsets[r+1]] }

// columnKindOf returns how a feature column of arrow type t is read, or 0.
func columnKindOf(t arrow.DataType) ColumnKind {
	switch t.ID() {
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return ColumnContinuous
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
		if idKindOf(t.(arrow.ListLikeType).Elem()) != 0 {
			return ColumnMulti
		}
		return 0
	}
	if idKindOf(t) != 0 {
		return ColumnCategorical
	}
	return 0
}

// ReadTable reads a users or items table from a Parquet or Arrow IPC file
// (detected by content). keyColumn (user_id or item_id) holds integer or
// string ids; null and duplicate keys are errors naming the row. Every other
// column (or those in opt.Columns) becomes a Column whose kind follows its
// Arrow type: string, bool, integer or dictionary → categorical; float →
// continuous (null → NaN); list, large_list or fixed_size_list of string,
// bool or integer → multi (null lists and null elements are dropped). Any
// other type is an error naming the column; select columns with
// opt.Columns to leave it out. Row r of the result is the r-th row of the
// file: t.Keys.ID(r) is its key.
func ReadTable(ctx context.Context, path, keyColumn string, opt TableOptions) (*Table, error) {
	t, err := readTable(ctx, path, keyColumn, opt)
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", path, err)
	}
	return t, nil
}

func readTable(ctx context.Context, path, keyColumn string, opt TableOptions) (*Table, error) {
	return readFile(path, opt.BatchSize, opt.Progress, func(src *batchSource, meter *progressMeter) (*Table, error) {
		return readTableFrom(ctx, src, meter, keyColumn, opt)
	})
}

func readTableFrom(ctx context.Context, src *batchSource, meter *progressMeter, keyColumn string, opt TableOptions) (t *Table, err error) {
	sc := src.schema
	keys, err := prepareIDVocab(sc, keyColumn, nil, "key")
	if err != nil {
		return nil, err
	}
	names := opt.Columns
	if names == nil {
		for _, f := range sc.Fields() {
			if f.Name != keyColumn {
				names = append(names, f.Name)
			}
		}
	}
	t = &Table{Keys: keys, Columns: make([]Column, len(names))}
	encs := make([]*idEncoder, len(names))
	for i, name := range names {
		if name == keyColumn {
			return nil, fmt.Errorf("column %q is the key and cannot be a feature", name)
		}
		if slices.Index(names[:i], name) >= 0 {
			return nil, fmt.Errorf("column %q listed twice", name)
		}
		fi := fieldIndex(sc, name)
		if fi < 0 {
			return nil, fmt.Errorf("missing column %q (have %s)", name, columnList(sc))
		}
		if len(sc.FieldIndices(name)) > 1 {
			return nil, fmt.Errorf("column %q appears more than once in the file", name)
		}
		ft := sc.Field(fi).Type
		kind := columnKindOf(ft)
		if kind == 0 {
			return nil, fmt.Errorf("column %q: unsupported type %s (want string, bool, integer, float, or a list of string/integer)", name, ft)
		}
		col := Column{Name: name, Kind: kind}
		switch kind {
		case ColumnCategorical:
			col.Values = NewVocab(idKindOf(ft))
		case ColumnMulti:
			col.Values = NewVocab(idKindOf(ft.(arrow.ListLikeType).Elem()))
		}
		if col.Values != nil {
			col.Offsets = []int32{0}
			encs[i] = newEncoder(col.Values, UnknownAdd, false)
		}
		t.Columns[i] = col
	}
	if len(sc.FieldIndices(keyColumn)) > 1 {
		return nil, fmt.Errorf("column %q appears more than once in the file", keyColumn)
	}
	if err := src.open(ctx, append([]string{keyColumn}, names...)); err != nil {
		return nil, err
	}

	ke := newIDEncoder(keys)
	var kcode, scratch []int32
	row := 0
	for {
		rec, err := src.nextBatch(ctx, row, append([]string{keyColumn}, names...)...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		n := int(rec.NumRows())
		if row+n > math.MaxInt32 {
			return nil, fmt.Errorf("more than %d rows", math.MaxInt32)
		}
		kcode = grow32(kcode, n)
		if err := encodeIDColumn(ke, rec, keyColumn, row, kcode); err != nil {
			return nil, err
		}
		for j, c := range kcode {
			if int(c) != row+j {
				return nil, fmt.Errorf("column %q row %d: duplicate key %q (first at row %d)", keyColumn, row+j, keys.ID(c), c)
			}
		}
		for ci := range t.Columns {
			col := &t.Columns[ci]
			fi := fieldIndex(rec.Schema(), col.Name)
			if fi < 0 {
				return nil, fmt.Errorf("missing column %q in record batch at row %d", col.Name, row)
			}
			arr := rec.Column(fi)
			switch col.Kind {
			case ColumnContinuous:
				if err := appendFloats(col, arr); err != nil {
					return nil, fmt.Errorf("column %q: %w", col.Name, err)
				}
			case ColumnCategorical:
				scratch = grow32(scratch, n)
				if err := encs[ci].encode(arr, scratch); err != nil {
					return nil, fmt.Errorf("column %q: %w (batch starting at row %d)", col.Name, err, row)
				}
				for _, c := range scratch {
					if c >= 0 {
						col.Codes = append(col.Codes, c)
					}
					col.Offsets = append(col.Offsets, int32(len(col.Codes)))
				}
			case ColumnMulti:
				var err error
				scratch, err = appendMulti(col, encs[ci], arr, scratch)
				if err != nil {
					return nil, fmt.Errorf("column %q: %w (batch starting at row %d)", col.Name, err, row)
				}
			}
			if len(col.Codes) > math.MaxInt32 {
				return nil, fmt.Errorf("column %q: more than %d values", col.Name, math.MaxInt32)
			}
		}
		row += n
		meter.add(n)
	}
	if row == 0 && !opt.AllowEmpty {
		return nil, errors.New("no rows (empty table)")
	}
	return t, nil
}

func appendFloats(col *Column, arr arrow.Array) error {
	n := arr.Len()
	col.Floats = slices.Grow(col.Floats, n)
	switch a := arr.(type) {
	case *array.Float64:
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				col.Floats = append(col.Floats, math.NaN())
			} else {
				col.Floats = append(col.Floats, a.Value(i))
			}
		}
	case *array.Float32:
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				col.Floats = append(col.Floats, math.NaN())
			} else {
				col.Floats = append(col.Floats, float64(a.Value(i)))
			}
		}
	case *array.Float16:
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				col.Floats = append(col.Floats, math.NaN())
			} else {
				col.Floats = append(col.Floats, float64(a.Value(i).Float32()))
			}
		}
	default:
		return fmt.Errorf("unsupported type %s for a continuous column", arr.DataType())
	}
	return nil
}

// appendMulti appends the rows of a list column to col; scratch is reused.
func appendMulti(col *Column, enc *idEncoder, arr arrow.Array, scratch []int32) ([]int32, error) {
	l, ok := arr.(array.ListLike)
	if !ok {
		return scratch, fmt.Errorf("unsupported type %s for a multi-valued column", arr.DataType())
	}
	n := l.Len()
	if n == 0 {
		return scratch, nil
	}
	lo, _ := l.ValueOffsets(0)
	_, hi := l.ValueOffsets(n - 1)
	vals := l.ListValues()
	if lo < 0 || hi < lo || hi > int64(vals.Len()) {
		return scratch, fmt.Errorf("corrupt list offsets [%d, %d) for %d values", lo, hi, vals.Len())
	}
	sub := array.NewSlice(vals, lo, hi)
	defer sub.Release()
	scratch = grow32(scratch, int(hi-lo))
	if err := enc.encode(sub, scratch); err != nil {
		return scratch, err
	}
	for i := 0; i < n; i++ {
		if !l.IsNull(i) {
			s, e := l.ValueOffsets(i)
			if s < lo || e > hi || e < s {
				return scratch, fmt.Errorf("corrupt list offsets at row %d", i)
			}
			for _, c := range scratch[s-lo : e-lo] {
				if c >= 0 {
					col.Codes = append(col.Codes, c)
				}
			}
		}
		col.Offsets = append(col.Offsets, int32(len(col.Codes)))
	}
	return scratch, nil
}

// WriteTable writes t to path as Parquet, or as an Arrow IPC file when the
// name ends in .arrow, .ipc or .feather. The key column keyColumn comes
// first (int64 or string by t.Keys' kind), then one column per Column in
// order: categorical as int64 or string by its Values' kind (an empty row
// is null; a row with more than one value is an error), multi as
// list<int64> or list<string>, continuous as float64 (NaN → null). Bool
// columns read by ReadTable come back as strings "true"/"false". Written
// atomically (temporary file renamed into place).
func WriteTable(ctx context.Context, path, keyColumn string, t *Table, opts ...WriteOption) error {
	if err := writeTable(ctx, path, keyColumn, t, opts); err != nil {
		return fmt.Errorf("write table %s: %w", path, err)
	}
	return nil
}

func writeTable(ctx context.Context, path, keyColumn string, t *Table, opts []WriteOption) error {
	if t == nil || t.Keys == nil {
		return errors.New("nil table or key vocabulary")
	}
	rows := t.Rows()
	kw, err := newIDWriter(t.Keys)
	if err != nil {
		return fmt.Errorf("key vocabulary: %w", err)
	}
	fields := []arrow.Field{{Name: keyColumn, Type: kw.dataType()}}
	vws := make([]*idWriter, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Name == keyColumn || slices.IndexFunc(t.Columns[:i], func(o Column) bool { return o.Name == c.Name }) >= 0 {
			return fmt.Errorf("column %q: duplicate column name", c.Name)
		}
		switch c.Kind {
		case ColumnContinuous:
			if len(c.Floats) != rows {
				return fmt.Errorf("column %q: %d values for %d rows", c.Name, len(c.Floats), rows)
			}
			fields = append(fields, arrow.Field{Name: c.Name, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
		case ColumnCategorical, ColumnMulti:
			if c.Values == nil {
				return fmt.Errorf("column %q: nil value vocabulary", c.Name)
			}
			if err := checkCSR(c, rows); err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
			if vws[i], err = newIDWriter(c.Values); err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
			typ := vws[i].dataType()
			if c.Kind == ColumnMulti {
				typ = arrow.ListOf(typ)
			}
			fields = append(fields, arrow.Field{Name: c.Name, Type: typ, Nullable: true})
		default:
			return fmt.Errorf("column %q: invalid kind %d", c.Name, c.Kind)
		}
	}
	sc := arrow.NewSchema(fields, nil)
	return writeBatches(ctx, path, sc, rows, func(mem memory.Allocator, lo, hi int) (arrow.Record, error) {
		idx := make([]int32, hi-lo)
		for i := range idx {
			idx[i] = int32(lo + i)
		}
		cols := []arrow.Array{kw.build(mem, idx)}
		defer func() {
			for _, a := range cols {
				a.Release()
			}
		}()
		for i := range t.Columns {
			c := &t.Columns[i]
			a, err := buildColumn(mem, c, vws[i], lo, hi)
			if err != nil {
				return nil, err
			}
			cols = append(cols, a)
		}
		return array.NewRecord(sc, cols, int64(hi-lo)), nil
	}, opts)
}

func checkCSR(c *Column, rows int) error {
	if len(c.Offsets) != rows+1 || c.Offsets[0] != 0 {
		return fmt.Errorf("offsets: want %d entries starting at 0, have %d", rows+1, len(c.Offsets))
	}
	for r := 0; r < rows; r++ {
		if c.Offsets[r+1] < c.Offsets[r] {
			return fmt.Errorf("row %d: offsets decrease", r)
		}
		if c.Kind == ColumnCategorical && c.Offsets[r+1]-c.Offsets[r] > 1 {
			return fmt.Errorf("row %d: categorical row has %d values", r, c.Offsets[r+1]-c.Offsets[r])
		}
	}
	if int(c.Offsets[rows]) != len(c.Codes) {
		return fmt.Errorf("offsets end at %d but there are %d codes", c.Offsets[rows], len(c.Codes))
	}
	for i, code := range c.Codes {
		if code < 0 || int(code) >= c.Values.Len() {
			return fmt.Errorf("code %d at position %d outside vocabulary of %d", code, i, c.Values.Len())
		}
	}
	return nil
}

func buildColumn(mem memory.Allocator, c *Column, vw *idWriter, lo, hi int) (arrow.Array, error) {
	switch c.Kind {
	case ColumnContinuous:
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.Reserve(hi - lo)
		for _, x := range c.Floats[lo:hi] {
			if math.IsNaN(x) {
				b.AppendNull()
			} else {
				b.Append(x)
			}
		}
		return b.NewArray(), nil
	case ColumnCategorical:
		if vw.ints != nil {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			for r := lo; r < hi; r++ {
				if row := c.Row(r); len(row) == 0 {
					b.AppendNull()
				} else {
					b.Append(vw.ints[row[0]])
				}
			}
			return b.NewArray(), nil
		}
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for r := lo; r < hi; r++ {
			if row := c.Row(r); len(row) == 0 {
				b.AppendNull()
			} else {
				b.Append(c.Values.ids[row[0]])
			}
		}
		return b.NewArray(), nil
	case ColumnMulti:
		b := array.NewListBuilder(mem, vw.dataType())
		defer b.Release()
		switch vb := b.ValueBuilder().(type) {
		case *array.Int64Builder:
			for r := lo; r < hi; r++ {
				b.Append(true)
				for _, code := range c.Row(r) {
					vb.Append(vw.ints[code])
				}
			}
		case *array.StringBuilder:
			for r := lo; r < hi; r++ {
				b.Append(true)
				for _, code := range c.Row(r) {
					vb.Append(c.Values.ids[code])
				}
			}
		}
		return b.NewArray(), nil
	}
	return nil, fmt.Errorf("column %q: invalid kind %d", c.Name, c.Kind)
}
