package data

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// rowValues returns the external values of row r of a bag column.
func rowValues(c *Column, r int) []string {
	var out []string
	for _, code := range c.Row(r) {
		out = append(out, c.Values.ID(code))
	}
	return out
}

func TestReadTableKinds(t *testing.T) {
	ctx := context.Background()
	for _, f := range []Format{FormatParquet, FormatArrow} {
		t.Run(f.String(), func(t *testing.T) {
			path := tempPath(t, "users.data")
			writeCols(t, path, f,
				i64Col("user_id", 10, 20, 30),
				strCol("gender", "f", nil, "m"),
				i64Col("age_bucket", 3, 3, 5),
				boolCol("member", true, false, true),
				f64Col("income", 1.5, nil, 4.0),
				listStrCol("tags", []string{"a", "b"}, nil, []string{}),
				listI64Col("topics", []int64{7}, []int64{8, 7}, nil),
			)
			tab, err := ReadTable(ctx, path, "user_id", TableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tab.Rows() != 3 || tab.Keys.Kind() != IDInt64 || tab.Keys.ID(2) != "30" {
				t.Fatalf("keys %v kind %v", tab.Keys.IDs(), tab.Keys.Kind())
			}
			want := []struct {
				name string
				kind ColumnKind
				vk   IDKind
				rows [][]string
			}{
				{"gender", ColumnCategorical, IDString, [][]string{{"f"}, nil, {"m"}}},
				{"age_bucket", ColumnCategorical, IDInt64, [][]string{{"3"}, {"3"}, {"5"}}},
				{"member", ColumnCategorical, IDString, [][]string{{"true"}, {"false"}, {"true"}}},
				{"income", ColumnContinuous, 0, nil},
				{"tags", ColumnMulti, IDString, [][]string{{"a", "b"}, nil, nil}},
				{"topics", ColumnMulti, IDInt64, [][]string{{"7"}, {"8", "7"}, nil}},
			}
			if len(tab.Columns) != len(want) {
				t.Fatalf("%d columns, want %d", len(tab.Columns), len(want))
			}
			for i, w := range want {
				c := &tab.Columns[i]
				if c.Name != w.name || c.Kind != w.kind {
					t.Errorf("column %d: %s %v, want %s %v", i, c.Name, c.Kind, w.name, w.kind)
					continue
				}
				if w.kind == ColumnContinuous {
					if c.Floats[0] != 1.5 || !math.IsNaN(c.Floats[1]) || c.Floats[2] != 4 {
						t.Errorf("income %v", c.Floats)
					}
					continue
				}
				if c.Values.Kind() != w.vk {
					t.Errorf("%s: value kind %v, want %v", c.Name, c.Values.Kind(), w.vk)
				}
				for r, wr := range w.rows {
					if got := rowValues(c, r); !slices.Equal(got, wr) {
						t.Errorf("%s row %d: %v, want %v", c.Name, r, got, wr)
					}
				}
			}
			if tab.Column("tags") != &tab.Columns[4] || tab.Column("nope") != nil {
				t.Error("Column lookup")
			}

			sel, err := ReadTable(ctx, path, "user_id", TableOptions{Columns: []string{"tags", "gender"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(sel.Columns) != 2 || sel.Columns[0].Name != "tags" || sel.Columns[1].Name != "gender" {
				t.Errorf("selected columns %v", sel.Columns)
			}
		})
	}
}

func sameTable(t *testing.T, a, b *Table) {
	t.Helper()
	if !slices.Equal(a.Keys.IDs(), b.Keys.IDs()) || a.Keys.Kind() != b.Keys.Kind() {
		t.Fatalf("keys %v (%v) != %v (%v)", a.Keys.IDs(), a.Keys.Kind(), b.Keys.IDs(), b.Keys.Kind())
	}
	if len(a.Columns) != len(b.Columns) {
		t.Fatalf("%d columns != %d", len(a.Columns), len(b.Columns))
	}
	for i := range a.Columns {
		ca, cb := &a.Columns[i], &b.Columns[i]
		if ca.Name != cb.Name || ca.Kind != cb.Kind {
			t.Fatalf("column %d: %s/%v != %s/%v", i, ca.Name, ca.Kind, cb.Name, cb.Kind)
		}
		for r := 0; r < a.Rows(); r++ {
			if ca.Kind == ColumnContinuous {
				x, y := ca.Floats[r], cb.Floats[r]
				if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
					t.Errorf("%s row %d: %v != %v", ca.Name, r, x, y)
				}
				continue
			}
			if !slices.Equal(rowValues(ca, r), rowValues(cb, r)) {
				t.Errorf("%s row %d: %v != %v", ca.Name, r, rowValues(ca, r), rowValues(cb, r))
			}
		}
		if ca.Values != nil && ca.Values.Kind() != cb.Values.Kind() {
			t.Errorf("%s: value kind %v != %v", ca.Name, ca.Values.Kind(), cb.Values.Kind())
		}
	}
}

func TestTableRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := tempPath(t, "items.parquet")
	writeCols(t, src, FormatParquet,
		strCol("item_id", "i1", "i2", "i3", "i4"),
		listStrCol("genres", []string{"comedy", "drama"}, []string{"drama"}, nil, []string{"horror", "comedy", "comedy"}),
		i64Col("year", 1999, nil, 2001, 1999),
		f64Col("price", 0.5, 2.0, nil, math.Inf(1)),
		listI64Col("ids", []int64{-1}, nil, []int64{1 << 50}, []int64{}),
	)
	tab, err := ReadTable(ctx, src, "item_id", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rt.parquet", "rt.arrow"} {
		path := filepath.Join(t.TempDir(), name)
		if err := WriteTable(context.Background(), path, "item_id", tab); err != nil {
			t.Fatal(err)
		}
		got, err := ReadTable(ctx, path, "item_id", TableOptions{BatchSize: 3})
		if err != nil {
			t.Fatal(err)
		}
		sameTable(t, tab, got)
	}
}

func TestReadTableErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cols := func(name string, format Format, cs ...col) string {
		p := filepath.Join(dir, name)
		writeCols(t, p, format, cs...)
		return p
	}
	good := cols("good.parquet", FormatParquet, strCol("user_id", "a", "b"), strCol("g", "x", "y"))
	raw, _ := os.ReadFile(good)
	trunc := filepath.Join(dir, "trunc.parquet")
	os.WriteFile(trunc, raw[:len(raw)-3], 0o644)
	for _, tc := range []struct {
		name  string
		path  string
		opt   TableOptions
		frags []string
	}{
		{"missing file", filepath.Join(dir, "none.parquet"), TableOptions{}, []string{"no such file"}},
		{"truncated", trunc, TableOptions{}, []string{"truncated or corrupt Parquet file"}},
		{"missing key", cols("nokey.parquet", FormatParquet, strCol("id", "a")), TableOptions{}, []string{`missing column "user_id"`}},
		{"missing selected column", good, TableOptions{Columns: []string{"age"}}, []string{`missing column "age"`}},
		{"key as feature", good, TableOptions{Columns: []string{"user_id"}}, []string{`column "user_id" is the key`}},
		{"duplicate key rows", cols("dup.parquet", FormatParquet, strCol("user_id", "a", "b", "c", "b")), TableOptions{},
			[]string{`column "user_id" row 3: duplicate key "b" (first at row 1)`}},
		{"duplicate key rows across batches", cols("dup.arrow", FormatArrow, i64Col("user_id", 1, 2, 3, 4, 5, 6, 7, 1)), TableOptions{BatchSize: 3},
			[]string{`column "user_id" row 7: duplicate key "1" (first at row 0)`}},
		{"null key", cols("nullkey.arrow", FormatArrow, strCol("user_id", "a", nil)), TableOptions{}, []string{`column "user_id" row 1: null id`}},
		{"float key", cols("fkey.parquet", FormatParquet, f64Col("user_id", 1.0)), TableOptions{}, []string{`column "user_id": type float64 cannot hold ids`}},
		{"unsupported column", cols("ts.parquet", FormatParquet, strCol("user_id", "a"), tsCol("seen", 0, 1)), TableOptions{},
			[]string{`column "seen": unsupported type timestamp`}},
		{"list of floats", cols("lf.arrow", FormatArrow, strCol("user_id", "a"), listF64Col("v", []float64{1, 2})), TableOptions{},
			[]string{`column "v": unsupported type list<item: float64`}},
		{"empty", cols("empty.parquet", FormatParquet, strCol("user_id"), strCol("g")), TableOptions{}, []string{"no rows (empty table)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := ReadTable(ctx, tc.path, "user_id", tc.opt)
			if tab != nil {
				t.Error("non-nil table with an error")
			}
			wantErr(t, err, tc.path, append([]string{"read table "}, tc.frags...)...)
		})
	}
	t.Run("empty allowed", func(t *testing.T) {
		tab, err := ReadTable(ctx, filepath.Join(dir, "empty.parquet"), "user_id", TableOptions{AllowEmpty: true})
		if err != nil || tab.Rows() != 0 || len(tab.Columns) != 1 {
			t.Fatalf("%v %v", tab, err)
		}
	})
}

func TestWriteTableErrors(t *testing.T) {
	dir := t.TempDir()
	keys := NewVocab(IDString)
	keys.MustAdd("a")
	keys.MustAdd("b")
	vals := NewVocab(IDString)
	vals.MustAdd("x")
	for _, tc := range []struct {
		name string
		col  Column
		frag string
	}{
		{"two values in a categorical row", Column{Name: "g", Kind: ColumnCategorical, Values: vals, Offsets: []int32{0, 2, 2}, Codes: []int32{0, 0}}, `column "g": row 0: categorical row has 2 values`},
		{"code outside vocabulary", Column{Name: "g", Kind: ColumnMulti, Values: vals, Offsets: []int32{0, 1, 2}, Codes: []int32{0, 5}}, "outside vocabulary"},
		{"short offsets", Column{Name: "g", Kind: ColumnMulti, Values: vals, Offsets: []int32{0, 1}, Codes: []int32{0}}, "offsets"},
		{"short floats", Column{Name: "f", Kind: ColumnContinuous, Floats: []float64{1}}, `column "f": 1 values for 2 rows`},
		{"key column name reused", Column{Name: "user_id", Kind: ColumnContinuous, Floats: []float64{1, 2}}, "duplicate column name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "t.parquet")
			err := WriteTable(context.Background(), path, "user_id", &Table{Keys: keys, Columns: []Column{tc.col}})
			wantErr(t, err, path, "write table", tc.frag)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Error("failed write left a file")
			}
		})
	}
}
