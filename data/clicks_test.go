package data

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// sameClicks fails unless a and b hold the same clicks by external id.
func sameClicks(t *testing.T, a, b *Clicks) {
	t.Helper()
	if a.Len() != b.Len() {
		t.Fatalf("len %d != %d", a.Len(), b.Len())
	}
	if a.Users.Kind() != b.Users.Kind() || a.Items.Kind() != b.Items.Kind() {
		t.Fatalf("kinds %v/%v != %v/%v", a.Users.Kind(), a.Items.Kind(), b.Users.Kind(), b.Items.Kind())
	}
	for i := 0; i < a.Len(); i++ {
		if a.Users.ID(a.User[i]) != b.Users.ID(b.User[i]) || a.Items.ID(a.Item[i]) != b.Items.ID(b.Item[i]) || a.TS[i] != b.TS[i] {
			t.Fatalf("row %d: (%s,%s,%d) != (%s,%s,%d)", i,
				a.Users.ID(a.User[i]), a.Items.ID(a.Item[i]), a.TS[i],
				b.Users.ID(b.User[i]), b.Items.ID(b.Item[i]), b.TS[i])
		}
	}
}

func TestClicksRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		user, item IDKind
		ns         bool
		file       string
		wantUnit   arrow.TimeUnit
	}{
		// Parquet has no seconds unit: the library stores timestamp[s] as ms.
		{"string ids parquet", IDString, IDString, false, "c.parquet", arrow.Millisecond},
		{"int ids parquet ns", IDInt64, IDInt64, true, "c.parquet", arrow.Nanosecond},
		{"mixed ids arrow", IDInt64, IDString, false, "c.arrow", arrow.Second},
		{"mixed ids arrow ns", IDString, IDInt64, true, "c.feather", arrow.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClicks(tc.user, tc.item, 500, tc.ns)
			path := tempPath(t, tc.file)
			if err := WriteClicks(context.Background(), path, c); err != nil {
				t.Fatal(err)
			}
			var st ReadStats
			got, err := ReadClicks(ctx, path, ReadOptions{Stats: &st, BatchSize: 64})
			if err != nil {
				t.Fatal(err)
			}
			sameClicks(t, c, got)
			if want := FormatFromPath(path); st.Format != want || st.Rows != 500 || st.Kept != 500 {
				t.Errorf("stats %+v, want format %v and 500 rows", st, want)
			}
			// Indices are assigned in order of first appearance, as testClicks did.
			if !slices.Equal(got.User, c.User) || !slices.Equal(got.Item, c.Item) {
				t.Error("indices differ from first-appearance order")
			}
			// The stored schema says which unit was chosen.
			src, err := openSource(path, 10)
			if err != nil {
				t.Fatal(err)
			}
			defer src.close()
			tt := src.schema.Field(fieldIndex(src.schema, ColTS)).Type.(*arrow.TimestampType)
			if tt.Unit != tc.wantUnit {
				t.Errorf("ts unit %v, want %v", tt.Unit, tc.wantUnit)
			}
		})
	}
}

func TestReadClicksColumnTypes(t *testing.T) {
	ctx := context.Background()
	const s = int64(1_600_000_000)
	for _, tc := range []struct {
		name   string
		format Format
		cols   []col
		users  []string
		items  []string
		ts     []int64 // ns
	}{
		{"int32 ids, int64 seconds, extra column", FormatParquet,
			[]col{i32Col("user_id", 5, 6, 5), i32Col("item_id", 1, 1, 2), i64Col("ts", 10, 20, 30), strCol("note", "a", "b", "c")},
			[]string{"5", "6", "5"}, []string{"1", "1", "2"}, []int64{10e9, 20e9, 30e9}},
		{"string ids, timestamp ms", FormatArrow,
			[]col{strCol("item_id", "x", "y", "x"), tsCol("ts", arrow.Millisecond, s*1000, s*1000+1, s*1000+2), strCol("user_id", "a", "b", "c")},
			[]string{"a", "b", "c"}, []string{"x", "y", "x"}, []int64{s * 1e9, s*1e9 + 1e6, s*1e9 + 2e6}},
		{"dictionary ids, timestamp us", FormatArrow,
			[]col{dictStrCol("user_id", "u1", "u2", "u1"), dictStrCol("item_id", "i9", "i9", "i8"), tsCol("ts", arrow.Microsecond, 1, 2, 3)},
			[]string{"u1", "u2", "u1"}, []string{"i9", "i9", "i8"}, []int64{1e3, 2e3, 3e3}},
		{"timestamp s and ns in parquet", FormatParquet,
			[]col{strCol("user_id", "a", "b"), i64Col("item_id", -3, 4), tsCol("ts", arrow.Nanosecond, 7, 8)},
			[]string{"a", "b"}, []string{"-3", "4"}, []int64{7, 8}},
		{"int32 seconds", FormatParquet,
			[]col{strCol("user_id", "a"), strCol("item_id", "b"), i32Col("ts", 42)},
			[]string{"a"}, []string{"b"}, []int64{42e9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The name says nothing about the format: detection is by content.
			path := tempPath(t, "clicks.bin")
			writeCols(t, path, tc.format, tc.cols...)
			c, err := ReadClicks(ctx, path, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.users {
				if c.Users.ID(c.User[i]) != tc.users[i] || c.Items.ID(c.Item[i]) != tc.items[i] || c.TS[i] != tc.ts[i] {
					t.Errorf("row %d: got (%s,%s,%d), want (%s,%s,%d)", i, c.Users.ID(c.User[i]), c.Items.ID(c.Item[i]), c.TS[i], tc.users[i], tc.items[i], tc.ts[i])
				}
			}
			if c.Len() != len(tc.users) {
				t.Errorf("len %d, want %d", c.Len(), len(tc.users))
			}
		})
	}
}

func TestReadClicksUnknownPolicies(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t, "c.parquet")
	writeCols(t, path, FormatParquet,
		strCol("user_id", "a", "b", "zz", "a"),
		strCol("item_id", "x", "new", "y", "y"),
		i64Col("ts", 1, 2, 3, 4))
	base := func() (*Vocab, *Vocab) {
		u, it := NewVocab(IDString), NewVocab(IDString)
		u.MustAdd("b")
		u.MustAdd("a")
		it.MustAdd("y")
		it.MustAdd("x")
		return u, it
	}

	t.Run("add extends in place", func(t *testing.T) {
		u, it := base()
		c, err := ReadClicks(ctx, path, ReadOptions{Users: u, Items: it})
		if err != nil {
			t.Fatal(err)
		}
		if c.Users != u || u.Len() != 3 || it.Len() != 3 {
			t.Fatalf("vocabularies not extended in place: %v %v", u.IDs(), it.IDs())
		}
		if want := []int32{1, 0, 2, 1}; !slices.Equal(c.User, want) {
			t.Errorf("users %v, want %v", c.User, want)
		}
		if want := []int32{1, 2, 0, 0}; !slices.Equal(c.Item, want) {
			t.Errorf("items %v, want %v", c.Item, want)
		}
	})
	t.Run("skip counts", func(t *testing.T) {
		u, it := base()
		var st ReadStats
		c, err := ReadClicks(ctx, path, ReadOptions{Users: u, Items: it, UnknownUsers: UnknownSkip, UnknownItems: UnknownSkip, Stats: &st})
		if err != nil {
			t.Fatal(err)
		}
		if u.Len() != 2 || it.Len() != 2 {
			t.Fatal("skip changed the vocabularies")
		}
		if want := []int64{1e9, 4e9}; !slices.Equal(c.TS, want) {
			t.Errorf("kept ts %v, want %v", c.TS, want)
		}
		want := ReadStats{Format: FormatParquet, Rows: 4, Kept: 2, Skipped: 2, UnknownUserRows: 1, UnknownItemRows: 1}
		if st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
	})
	t.Run("error names row and id", func(t *testing.T) {
		u, it := base()
		_, err := ReadClicks(ctx, path, ReadOptions{Users: u, Items: it, UnknownItems: UnknownError})
		wantErr(t, err, path, `column "item_id" row 1: unknown id "new"`)
	})
	t.Run("kind mismatch", func(t *testing.T) {
		_, err := ReadClicks(ctx, path, ReadOptions{Users: NewVocab(IDInt64)})
		wantErr(t, err, path, `column "user_id" holds string ids but the user vocabulary holds int64 ids`)
	})
	t.Run("all skipped is empty", func(t *testing.T) {
		_, err := ReadClicks(ctx, path, ReadOptions{Users: NewVocab(IDString), UnknownUsers: UnknownSkip})
		wantErr(t, err, path, "no rows left")
		c, err := ReadClicks(ctx, path, ReadOptions{Users: NewVocab(IDString), UnknownUsers: UnknownSkip, AllowEmpty: true})
		if err != nil || c.Len() != 0 {
			t.Fatalf("AllowEmpty: %v, %v", c, err)
		}
	})
}

// wantErr fails unless err mentions the file and every fragment.
func wantErr(t *testing.T, err error, path string, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", fragments)
	}
	msg := err.Error()
	if path != "" && !strings.Contains(msg, path) {
		t.Errorf("error %q does not name the file %s", msg, path)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error %q does not contain %q", msg, f)
		}
	}
}

func TestReadClicksErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	if err := WriteClicks(context.Background(), good, testClicks(IDString, IDInt64, 200, false)); err != nil {
		t.Fatal(err)
	}
	goodArrow := filepath.Join(dir, "good.arrow")
	if err := WriteClicks(context.Background(), goodArrow, testClicks(IDString, IDInt64, 200, false)); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	rawArrow, _ := os.ReadFile(goodArrow)
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cols := func(name string, format Format, cs ...col) string {
		p := filepath.Join(dir, name)
		writeCols(t, p, format, cs...)
		return p
	}
	for _, tc := range []struct {
		name  string
		path  string
		frags []string
	}{
		{"missing file", filepath.Join(dir, "nope.parquet"), []string{"no such file"}},
		{"directory", dir, []string{"is a directory"}},
		{"not parquet", file("text.parquet", []byte("user_id,item_id,ts\n1,2,3\n")), []string{"not a Parquet or Arrow IPC file"}},
		{"empty file", file("empty.parquet", nil), []string{"empty file"}},
		{"truncated parquet", file("trunc.parquet", raw[:len(raw)/2]), []string{"truncated or corrupt Parquet file"}},
		{"truncated arrow", file("trunc.arrow", rawArrow[:len(rawArrow)-20]), []string{"truncated or corrupt Arrow IPC file"}},
		{"parquet footer cut", file("cut.parquet", append(append([]byte{}, raw[:len(raw)-9]...), "PAR1"...)), []string{"corrupt"}},
		{"missing column", cols("nots.parquet", FormatParquet, strCol("user_id", "a"), strCol("item_id", "b")),
			[]string{`missing column "ts"`, `"user_id", "item_id"`}},
		{"wrong id type", cols("fid.parquet", FormatParquet, f64Col("user_id", 1.5), strCol("item_id", "b"), i64Col("ts", 1)),
			[]string{`column "user_id": type float64 cannot hold ids`}},
		{"bool id", cols("bid.arrow", FormatArrow, boolCol("user_id", true), strCol("item_id", "b"), i64Col("ts", 1)),
			[]string{`column "user_id": type bool cannot hold ids`}},
		{"wrong ts type", cols("sts.parquet", FormatParquet, strCol("user_id", "a"), strCol("item_id", "b"), strCol("ts", "2020-01-01")),
			[]string{`column "ts": type utf8 is not an integer (Unix seconds) or a timestamp`}},
		{"null user id", cols("nullu.parquet", FormatParquet, strCol("user_id", "a", "b", nil), strCol("item_id", "x", "y", "z"), i64Col("ts", 1, 2, 3)),
			[]string{`column "user_id" row 2: null id`}},
		{"null item id", cols("nulli.arrow", FormatArrow, strCol("user_id", "a", "b"), i64Col("item_id", nil, 3), i64Col("ts", 1, 2)),
			[]string{`column "item_id" row 0: null id`}},
		// Several bad columns at once: the user column is reported first,
		// then the item column, then the times (the id columns are encoded
		// concurrently).
		{"null user and item ids", cols("nullui.parquet", FormatParquet, i64Col("user_id", 1, 2, nil), i64Col("item_id", nil, 3, 4), i64Col("ts", 1, 2, nil)),
			[]string{`column "user_id" row 2: null id`}},
		{"null item id and ts", cols("nullits.parquet", FormatParquet, i64Col("user_id", 1, 2, 3), i64Col("item_id", 5, nil, 4), i64Col("ts", nil, 2, 3)),
			[]string{`column "item_id" row 1: null id`}},
		{"null ts", cols("nullts.parquet", FormatParquet, strCol("user_id", "a", "b"), strCol("item_id", "x", "y"), i64Col("ts", 1, nil)),
			[]string{`column "ts" row 1: null timestamp`}},
		{"ts overflow", cols("bigts.parquet", FormatParquet, strCol("user_id", "a"), strCol("item_id", "x"), i64Col("ts", 1<<60)),
			[]string{`column "ts" row 0:`, "out of range"}},
		{"empty table", cols("none.parquet", FormatParquet, strCol("user_id"), strCol("item_id"), i64Col("ts")),
			[]string{"no rows (empty table)"}},
		{"empty arrow table", cols("none.arrow", FormatArrow, strCol("user_id"), strCol("item_id"), i64Col("ts")),
			[]string{"no rows (empty table)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ReadClicks(ctx, tc.path, ReadOptions{})
			if c != nil {
				t.Error("non-nil clicks with an error")
			}
			wantErr(t, err, tc.path, append([]string{"read clicks "}, tc.frags...)...)
		})
	}
	t.Run("missing file is fs.ErrNotExist", func(t *testing.T) {
		_, err := ReadClicks(ctx, filepath.Join(dir, "nope.parquet"), ReadOptions{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v is not ErrNotExist", err)
		}
	})
}

func TestReadClicksRowNumbersAcrossBatches(t *testing.T) {
	users := make([]any, 40)
	items := make([]any, 40)
	ts := make([]any, 40)
	for i := range users {
		users[i], items[i], ts[i] = "u"+itoa(i%3), "i"+itoa(i%5), i
	}
	users[37] = nil
	for _, f := range []Format{FormatParquet, FormatArrow} {
		path := tempPath(t, "c."+f.String())
		writeCols(t, path, f, strCol("user_id", users...), strCol("item_id", items...), i64Col("ts", ts...))
		_, err := ReadClicks(context.Background(), path, ReadOptions{BatchSize: 8})
		wantErr(t, err, path, `column "user_id" row 37: null id`)
	}
}

func TestReadClicksCancelled(t *testing.T) {
	path := tempPath(t, "c.parquet")
	if err := WriteClicks(context.Background(), path, testClicks(IDInt64, IDInt64, 100, false)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ReadClicks(ctx, path, ReadOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestWriteClicksAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.parquet")
	old := []byte("previous content")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := testClicks(IDString, IDString, 10, false)
	bad.Item[7] = 99 // outside the vocabulary
	err := WriteClicks(context.Background(), path, bad)
	wantErr(t, err, path, "write clicks", "row 7: item index 99 outside vocabulary")
	if b, _ := os.ReadFile(path); string(b) != string(old) {
		t.Error("failed write changed the existing file")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}

	badInt := testClicks(IDString, IDString, 10, false)
	badInt.Users = NewVocab(IDInt64)
	for i := 0; i < 13; i++ {
		// Add and addOwned refuse it: a corrupt vocabulary, for the
		// writer's own check.
		badInt.Users.ids = append(badInt.Users.ids, "not-a-number-"+itoa(i))
	}
	wantErr(t, WriteClicks(context.Background(), path, badInt), path, "user vocabulary", "not an integer")

	err = WriteClicks(context.Background(), filepath.Join(dir, "no", "such", "dir.parquet"), testClicks(IDString, IDString, 3, false))
	wantErr(t, err, "dir.parquet", "write clicks")

	mismatch := testClicks(IDString, IDString, 5, false)
	mismatch.TS = mismatch.TS[:4]
	wantErr(t, WriteClicks(context.Background(), path, mismatch), path, "column lengths differ")
}

func TestWriteClicksEmpty(t *testing.T) {
	for _, name := range []string{"e.parquet", "e.arrow"} {
		path := tempPath(t, name)
		c := &Clicks{Users: NewVocab(IDString), Items: NewVocab(IDInt64)}
		if err := WriteClicks(context.Background(), path, c); err != nil {
			t.Fatal(err)
		}
		got, err := ReadClicks(context.Background(), path, ReadOptions{AllowEmpty: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.Len() != 0 || got.Users.Kind() != IDString || got.Items.Kind() != IDInt64 {
			t.Errorf("got %d clicks with kinds %v/%v", got.Len(), got.Users.Kind(), got.Items.Kind())
		}
	}
}

// TestReadClicksWriterVariants reads click files written with the
// settings other tools use: no stored Arrow schema (Spark, DuckDB), other
// codecs, data page v2, no dictionary, many small row groups, microsecond
// timestamps with a time zone (pandas via pyarrow) and large strings.
func TestReadClicksWriterVariants(t *testing.T) {
	ctx := context.Background()
	want := testClicks(IDString, IDInt64, 300, false)
	for _, tc := range []struct {
		name  string
		props []parquet.WriterProperty
		store bool
		unit  arrow.TimeUnit
		large bool
	}{
		{"plain parquet schema, zstd, page v2", []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDataPageVersion(parquet.DataPageV2)}, false, arrow.Microsecond, false},
		{"gzip, no dictionary, small row groups", []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Gzip), parquet.WithDictionaryDefault(false), parquet.WithMaxRowGroupLength(7)}, true, arrow.Millisecond, true},
		{"uncompressed, tiny pages", []parquet.WriterProperty{parquet.WithDataPageSize(64), parquet.WithBatchSize(5)}, false, arrow.Nanosecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewGoAllocator()
			ut := arrow.DataType(arrow.BinaryTypes.String)
			if tc.large {
				ut = arrow.BinaryTypes.LargeString
			}
			tsType := &arrow.TimestampType{Unit: tc.unit, TimeZone: "Europe/Paris"}
			sc := arrow.NewSchema([]arrow.Field{
				{Name: "ts", Type: tsType, Nullable: true},
				{Name: "user_id", Type: ut, Nullable: true},
				{Name: "item_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			}, nil)
			b := array.NewRecordBuilder(mem, sc)
			defer b.Release()
			div := map[arrow.TimeUnit]int64{arrow.Microsecond: 1e3, arrow.Millisecond: 1e6, arrow.Nanosecond: 1}[tc.unit]
			for i := 0; i < want.Len(); i++ {
				b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(want.TS[i] / div))
				u := want.Users.ID(want.User[i])
				if tc.large {
					b.Field(1).(*array.LargeStringBuilder).Append(u)
				} else {
					b.Field(1).(*array.StringBuilder).Append(u)
				}
				x, _ := want.Items.Int64(want.Item[i])
				b.Field(2).(*array.Int64Builder).Append(x)
			}
			rec := b.NewRecord()
			defer rec.Release()
			path := tempPath(t, "variant.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			var aprops pqarrow.ArrowWriterProperties
			if tc.store {
				aprops = pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
			} else {
				aprops = pqarrow.DefaultWriterProps()
			}
			w, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(tc.props...), aprops)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := ReadClicks(ctx, path, ReadOptions{BatchSize: 33})
			if err != nil {
				t.Fatal(err)
			}
			sameClicks(t, want, got)
		})
	}
}

func TestReadClicksFailureKeepsVocabularies(t *testing.T) {
	path := tempPath(t, "c.parquet")
	users := make([]any, 30)
	for i := range users {
		users[i] = "new" + itoa(i)
	}
	users[25] = nil
	items := make([]any, 30)
	ts := make([]any, 30)
	for i := range items {
		items[i], ts[i] = "x", i
	}
	writeCols(t, path, FormatParquet, strCol("user_id", users...), strCol("item_id", items...), i64Col("ts", ts...))
	u, it := NewVocab(IDString), NewVocab(IDString)
	u.MustAdd("old")
	_, err := ReadClicks(context.Background(), path, ReadOptions{Users: u, Items: it, BatchSize: 10})
	wantErr(t, err, path, `column "user_id" row 25: null id`)
	if u.Len() != 1 || it.Len() != 0 {
		t.Fatalf("failed read changed the vocabularies: %v %v", u.IDs(), it.IDs())
	}
	if _, ok := u.Index("new3"); ok {
		t.Fatal("rolled-back id still indexed")
	}
	if i, ok := u.Index("old"); !ok || i != 0 {
		t.Fatal("existing id lost")
	}
}

// TestReadClicksCompressedArrow reads Arrow IPC files with LZ4 and ZSTD
// compressed bodies (as pyarrow's Feather v2 writes by default) and with
// several record batches sharing one dictionary.
func TestReadClicksCompressedArrow(t *testing.T) {
	want := testClicks(IDString, IDString, 1000, true)
	for _, tc := range []struct {
		name string
		opt  ipc.Option
	}{{"lz4", ipc.WithLZ4()}, {"zstd", ipc.WithZstd()}} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewGoAllocator()
			dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
			sc := arrow.NewSchema([]arrow.Field{
				{Name: "user_id", Type: dt},
				{Name: "item_id", Type: arrow.BinaryTypes.String},
				{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ns},
			}, nil)
			path := tempPath(t, "c.feather")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w, err := ipc.NewFileWriter(f, ipc.WithSchema(sc), tc.opt, ipc.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			// The dictionary holds every user (the file format allows one
			// dictionary per field, without deltas).
			db := array.NewStringBuilder(mem)
			for _, id := range want.Users.IDs() {
				db.Append(id)
			}
			dict := db.NewArray()
			for lo := 0; lo < want.Len(); lo += 300 {
				hi := min(lo+300, want.Len())
				ib := array.NewInt16Builder(mem)
				sb := array.NewStringBuilder(mem)
				tb := array.NewTimestampBuilder(mem, arrow.FixedWidthTypes.Timestamp_ns.(*arrow.TimestampType))
				for i := lo; i < hi; i++ {
					ib.Append(int16(want.User[i]))
					sb.Append(want.Items.ID(want.Item[i]))
					tb.Append(arrow.Timestamp(want.TS[i]))
				}
				idx := ib.NewArray()
				ua := array.NewDictionaryArray(dt, idx, dict)
				rec := array.NewRecord(sc, []arrow.Array{ua, sb.NewArray(), tb.NewArray()}, int64(hi-lo))
				if err := w.Write(rec); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			got, err := ReadClicks(context.Background(), path, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sameClicks(t, want, got)
		})
	}
}

func TestDetectFormat(t *testing.T) {
	dir := t.TempDir()
	c := testClicks(IDInt64, IDInt64, 5, false)
	for _, tc := range []struct {
		name string
		want Format
	}{{"a.parquet", FormatParquet}, {"a.arrow", FormatArrow}, {"b.feather", FormatArrow}, {"c.IPC", FormatArrow}, {"noext", FormatParquet}} {
		p := filepath.Join(dir, tc.name)
		if err := WriteClicks(context.Background(), p, c); err != nil {
			t.Fatal(err)
		}
		if got, err := DetectFormat(p); err != nil || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
		// Renaming does not change the detected format.
		q := filepath.Join(dir, tc.name+".data")
		os.Rename(p, q)
		if got, err := DetectFormat(q); err != nil || got != tc.want {
			t.Errorf("%s renamed: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
	p := filepath.Join(dir, "x.csv")
	os.WriteFile(p, []byte("a,b\n"), 0o644)
	_, err := DetectFormat(p)
	wantErr(t, err, p, "not a Parquet or Arrow IPC file")
}

// TestReadClicksProgress reads in small batches and checks the progress
// calls count up to the file's rows.
func TestReadClicksProgress(t *testing.T) {
	c := testClicks(IDInt64, IDString, 1000, false)
	path := tempPath(t, "c.parquet")
	if err := WriteClicks(context.Background(), path, c); err != nil {
		t.Fatal(err)
	}
	var calls, last int64
	_, err := ReadClicks(context.Background(), path, ReadOptions{BatchSize: 300, Progress: func(done, total int64, rate float64) {
		calls++
		if done <= last || total != 1000 || rate <= 0 {
			t.Errorf("progress %d/%d at %g rows/s after %d", done, total, rate, last)
		}
		last = done
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 4 || last != 1000 {
		t.Errorf("%d calls ending at %d, want 4 ending at 1000", calls, last)
	}
}

func TestNewClicksErrors(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name  string
		users []string
		items []int64
		times []time.Time
		want  string
	}{
		{"lengths", []string{"a"}, []int64{1, 2}, []time.Time{t0}, "lengths differ: users 1, items 2, times 1"},
		{"empty id", []string{"a", ""}, []int64{1, 2}, []time.Time{t0, t0}, "users[1]: empty id"},
		{"control character", []string{"a", "b", "c\x00"}, []int64{1, 2, 3}, []time.Time{t0, t0, t0}, `users[2]: id "c\x00" holds a control character`},
		{"zero time", []string{"a"}, []int64{1}, []time.Time{{}}, "times[0]: zero time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClicks(tt.users, tt.items, tt.times)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	c, err := NewClicks([]int64{7, 8, 7}, []string{"x", "y", "y"}, []time.Time{t0, t0, t0})
	if err != nil {
		t.Fatal(err)
	}
	if c.Users.Kind() != IDInt64 || c.Items.Kind() != IDString || !slices.Equal(c.User, []int32{0, 1, 0}) || !slices.Equal(c.Item, []int32{0, 1, 1}) || c.TS[0] != t0.UnixNano() {
		t.Fatalf("got %+v", c)
	}
}
