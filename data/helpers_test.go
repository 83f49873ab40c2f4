package data

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// col is one test column: a name and a function building its array.
type col struct {
	name string
	arr  func(mem memory.Allocator) arrow.Array
}

func strCol(name string, vals ...any) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
			} else {
				b.Append(v.(string))
			}
		}
		return b.NewArray()
	}}
}

func i64Col(name string, vals ...any) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
			} else {
				b.Append(int64(v.(int)))
			}
		}
		return b.NewArray()
	}}
}

func i32Col(name string, vals ...int32) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewInt32Builder(mem)
		defer b.Release()
		b.AppendValues(vals, nil)
		return b.NewArray()
	}}
}

func f64Col(name string, vals ...any) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
			} else {
				b.Append(v.(float64))
			}
		}
		return b.NewArray()
	}}
}

func boolCol(name string, vals ...bool) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.AppendValues(vals, nil)
		return b.NewArray()
	}}
}

func tsCol(name string, unit arrow.TimeUnit, vals ...int64) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: unit})
		defer b.Release()
		for _, v := range vals {
			b.Append(arrow.Timestamp(v))
		}
		return b.NewArray()
	}}
}

// listStrCol builds list<string>; a nil row is a null list.
func listStrCol(name string, rows ...[]string) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewListBuilder(mem, arrow.BinaryTypes.String)
		defer b.Release()
		vb := b.ValueBuilder().(*array.StringBuilder)
		for _, r := range rows {
			if r == nil {
				b.AppendNull()
				continue
			}
			b.Append(true)
			for _, s := range r {
				vb.Append(s)
			}
		}
		return b.NewArray()
	}}
}

func listI64Col(name string, rows ...[]int64) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewListBuilder(mem, arrow.PrimitiveTypes.Int64)
		defer b.Release()
		vb := b.ValueBuilder().(*array.Int64Builder)
		for _, r := range rows {
			b.Append(true)
			vb.AppendValues(r, nil)
		}
		return b.NewArray()
	}}
}

func listF64Col(name string, rows ...[]float64) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		b := array.NewListBuilder(mem, arrow.PrimitiveTypes.Float64)
		defer b.Release()
		vb := b.ValueBuilder().(*array.Float64Builder)
		for _, r := range rows {
			b.Append(true)
			vb.AppendValues(r, nil)
		}
		return b.NewArray()
	}}
}

// dictStrCol builds dictionary<int32, string> from the values.
func dictStrCol(name string, vals ...string) col {
	return col{name, func(mem memory.Allocator) arrow.Array {
		dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
		b := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
		defer b.Release()
		for _, v := range vals {
			if err := b.AppendString(v); err != nil {
				panic(err)
			}
		}
		return b.NewArray()
	}}
}

// writeCols writes the columns as one record batch (or, with batches > 1,
// several equal slices) to path in the given format, bypassing the
// package's writers.
func writeCols(t testing.TB, path string, format Format, cols ...col) {
	t.Helper()
	mem := memory.NewGoAllocator()
	var fields []arrow.Field
	var arrs []arrow.Array
	for _, c := range cols {
		a := c.arr(mem)
		defer a.Release()
		fields = append(fields, arrow.Field{Name: c.name, Type: a.DataType(), Nullable: true})
		arrs = append(arrs, a)
	}
	sc := arrow.NewSchema(fields, nil)
	n := int64(0)
	if len(arrs) > 0 {
		n = int64(arrs[0].Len())
	}
	rec := array.NewRecord(sc, arrs, n)
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := newRecordWriter(f, format, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
}

// testClicks builds a small click log with the given id kinds.
func testClicks(userKind, itemKind IDKind, n int, nsTS bool) *Clicks {
	c := &Clicks{Users: NewVocab(userKind), Items: NewVocab(itemKind)}
	for i := 0; i < n; i++ {
		u := i * 7 % 13
		it := i * 5 % 11
		var us, is string
		if userKind == IDInt64 {
			us = itoa(-1000 + u*37)
		} else {
			us = "user-" + itoa(u)
		}
		if itemKind == IDInt64 {
			is = itoa(1 << 40 * (it + 1))
		} else {
			is = "ité" + itoa(it)
		}
		ts := int64(1_700_000_000+i*61) * 1e9
		if nsTS {
			ts += int64(i * 17)
		}
		c.User = append(c.User, c.Users.MustAdd(us))
		c.Item = append(c.Item, c.Items.MustAdd(is))
		c.TS = append(c.TS, ts)
	}
	return c
}

func itoa(i int) string { return strconv.Itoa(i) }

func tempPath(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name)
}
