package data

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

func TestCanonicalID(t *testing.T) {
	long := strings.Repeat("é", MaxIDBytes/2) // exactly MaxIDBytes bytes
	tests := []struct {
		kind    IDKind
		in, out string
		err     string // part of the error message; "" for a valid id
	}{
		{IDInt64, "007", "7", ""},
		{IDInt64, "-12", "-12", ""},
		{IDInt64, "x1", "", "is not an int64"},
		{IDInt64, "99999999999999999999", "", "out of the int64 range"},
		{IDInt64, "", "", "empty id"},
		{IDInt64, strings.Repeat("0", MaxIDBytes) + "1", "", "257 bytes long (max 256)"},
		{IDString, "007", "007", ""},
		{IDString, "", "", "empty id"},
		{IDString, long, long, ""},
		{IDString, long + "x", "", "257 bytes long"},
		{IDString, "a\xffb", "", "not valid UTF-8"},
		{IDString, "a\x00b", "", "control character"},
		{IDString, "tab\there", "", "control character"},
		{IDString, "line\u2028sep", "line\u2028sep", ""}, // a separator, not a control character
	}
	for _, tc := range tests {
		got, err := CanonicalID(tc.kind, tc.in)
		if got != tc.out || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CanonicalID(%v, %.40q) = %q, %v; want %q, error with %q", tc.kind, tc.in, got, err, tc.out, tc.err)
		}
		if err != nil && len(err.Error()) > 120 {
			t.Errorf("CanonicalID(%v, %.40q): message %d bytes long", tc.kind, tc.in, len(err.Error()))
		}
	}
	if _, err := CanonicalID(IDInt64, "99999999999999999999"); !errors.Is(err, ErrIDRange) {
		t.Errorf("out of range: %v does not match ErrIDRange", err)
	}
	if _, err := CanonicalID(IDInt64, "x"); errors.Is(err, ErrIDRange) {
		t.Errorf("syntax error %v matches ErrIDRange", err)
	}
}

func TestVocabOrder(t *testing.T) {
	tests := []struct {
		kind IDKind
		ids  []string
		want []string // ids in id order
	}{
		{IDInt64, []string{"10", "9", "-3", "100"}, []string{"-3", "9", "10", "100"}},
		{IDString, []string{"10", "9", "b", "B", "100"}, []string{"10", "100", "9", "B", "b"}},
	}
	for _, tc := range tests {
		v := NewVocab(tc.kind)
		for _, id := range tc.ids {
			v.MustAdd(id)
		}
		rank, err := v.Ranks()
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, v.Len())
		for i, r := range rank {
			got[r] = v.ID(int32(i))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: Ranks order %v, want %v", tc.kind, got, tc.want)
		}
		idx := []int32{0, 1, 2, 3}
		slices.SortFunc(idx, v.Compare)
		for k := 1; k < len(idx); k++ {
			if rank[idx[k-1]] >= rank[idx[k]] {
				t.Errorf("%v: Compare and Ranks disagree on %v", tc.kind, idx)
			}
		}
	}
	bad := NewVocab(IDInt64)
	bad.ids = append(bad.ids, "x") // Add and addOwned refuse it (TestVocabAddKind): a corrupt vocabulary, for Ranks' own check
	if _, err := bad.Ranks(); err == nil {
		t.Error("Ranks accepted a non-integer id in an int64 vocabulary")
	}
}

func TestAppendID(t *testing.T) {
	mem := memory.NewGoAllocator()
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	tests := []struct {
		b    array.Builder
		kind IDKind
		id   string
		bad  bool
	}{
		{ib, IDInt64, "42", false},
		{ib, IDInt64, "x", true},
		{ib, IDString, "42", true},
		{sb, IDString, "x", false},
		{sb, IDInt64, "42", true},
	}
	for _, tc := range tests {
		if err := AppendID(tc.b, tc.kind, tc.id); (err != nil) != tc.bad {
			t.Errorf("AppendID(%T, %v, %q): %v", tc.b, tc.kind, tc.id, err)
		}
	}
	if ib.Len() != 1 || sb.Len() != 1 {
		t.Fatalf("appended %d int64 and %d string ids, want 1 each", ib.Len(), sb.Len())
	}
}

// TestVocabAddKind: an int64 vocabulary refuses an id that is not a decimal
// int64 (naming it, unchanged), and holds ids in canonical form; a string
// vocabulary takes any id.
func TestVocabAddKind(t *testing.T) {
	for _, tc := range []struct {
		kind    IDKind
		id      string
		want    string // the id held, or "" for an error
		wantErr string
	}{
		{IDInt64, "42", "42", ""},
		{IDInt64, "-7", "-7", ""},
		{IDInt64, "007", "7", ""},
		{IDInt64, "abc", "", `"abc"`},
		{IDInt64, "", "", "empty id"},
		{IDInt64, "1.5", "", `"1.5"`},
		{IDInt64, "99999999999999999999", "", `"99999999999999999999" is out of the int64 range`},
		{IDString, "abc", "abc", ""},
		{IDString, "007", "007", ""},
		{IDString, "", "", ""},
	} {
		v := NewVocab(tc.kind)
		i, err := v.Add(tc.id)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || v.Len() != 0 {
				t.Errorf("%v Add(%q) = %d, %v (len %d); want an error with %s and no id added", tc.kind, tc.id, i, err, v.Len(), tc.wantErr)
			}
			continue
		}
		if err != nil || i != 0 || v.ID(0) != tc.want {
			t.Fatalf("%v Add(%q) = %d, %v; want index 0 holding %q", tc.kind, tc.id, i, err, tc.want)
		}
		if j, err := v.Add(tc.id); err != nil || j != 0 || v.Len() != 1 {
			t.Errorf("%v Add(%q) again = %d, %v, len %d; want the same index", tc.kind, tc.id, j, err, v.Len())
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `"abc"`) {
			t.Errorf("MustAdd(abc) on an int64 vocabulary: recovered %v, want a panic naming the id", r)
		}
	}()
	NewVocab(IDInt64).MustAdd("abc")
}

// TestVocabIndex: an int64 vocabulary, indexed by value, finds an id by
// its canonical spelling only (as Add stores it), and truncate leaves an
// index that knows exactly the ids kept.
func TestVocabIndex(t *testing.T) {
	v := NewVocab(IDInt64)
	for _, id := range []string{"7", "-3", "0", "9223372036854775807", "-9223372036854775808"} {
		v.MustAdd(id)
	}
	for _, tc := range []struct {
		id   string
		want int32 // -1: not found
	}{
		{"7", 0}, {"-3", 1}, {"0", 2}, {"9223372036854775807", 3}, {"-9223372036854775808", 4},
		{"007", -1}, {"+7", -1}, {"-0", -1}, {"-", -1}, {"", -1}, {"7 ", -1}, {"x", -1},
		{"99999999999999999999", -1}, {"8", -1},
	} {
		i, ok := v.Index(tc.id)
		if ok != (tc.want >= 0) || (ok && i != tc.want) {
			t.Errorf("Index(%q) = %d, %v; want %d", tc.id, i, ok, tc.want)
		}
	}
	if i, err := v.Add("007"); err != nil || i != 0 || v.Len() != 5 {
		t.Errorf(`Add("007") = %d, %v (len %d); want 0, the index of "7"`, i, err, v.Len())
	}
	for i := 0; i < 5000; i++ { // past a few resizes of the table
		v.MustAdd(strconv.Itoa(1000 + i))
	}
	v.truncate(3)
	if v.Len() != 3 {
		t.Fatalf("len %d after truncate(3)", v.Len())
	}
	for _, id := range []string{"9223372036854775807", "1000", "5999"} {
		if i, ok := v.Index(id); ok {
			t.Errorf("Index(%q) = %d after truncate", id, i)
		}
	}
	if i, ok := v.Index("0"); !ok || i != 2 {
		t.Errorf(`Index("0") = %d, %v after truncate; want 2`, i, ok)
	}
	if i := v.MustAdd("1000"); i != 3 {
		t.Errorf("re-added id got index %d, want 3", i)
	}
}

// TestReadRefusesBadStringIDs: the readers of id columns (clicks, a table's
// keys, embeddings; plain, dictionary-encoded and in a later Arrow IPC
// batch) apply
// the one id validator, CanonicalID, to every string id they add, with an
// error naming the file, the column and the row; a table's feature values
// are not ids and are taken as they are.
func TestReadRefusesBadStringIDs(t *testing.T) {
	ctx := t.Context()
	long := strings.Repeat("x", MaxIDBytes+1)
	tests := []struct {
		name string
		cols []col
		read func(path string) error
		want string // "" for a read that must succeed
		ipc  bool   // write Arrow IPC instead of Parquet
	}{
		{"clicks user", []col{strCol("user_id", "a", "b", "c\x00d"), strCol("item_id", "i", "j", "k"), tsCol("ts", arrow.Second, 1, 2, 3)},
			readClicksErr, `column "user_id" row 2: id "c\x00d" holds a control character`, false},
		{"clicks item empty", []col{strCol("user_id", "a", "b"), strCol("item_id", "i", ""), tsCol("ts", arrow.Second, 1, 2)},
			readClicksErr, `column "item_id" row 1: empty id`, false},
		{"clicks dictionary", []col{dictStrCol("user_id", "u1", "u2", "u1", "tab\there"), dictStrCol("item_id", "i", "i", "i", "i"), tsCol("ts", arrow.Second, 1, 2, 3, 4)},
			readClicksErr, `column "user_id" row 3: id "tab\there" holds a control character`, false},
		{"clicks later batch", []col{strCol("user_id", "a", "b", "c", "d", "e\n"), strCol("item_id", "i", "i", "i", "i", "i"), tsCol("ts", arrow.Second, 1, 2, 3, 4, 5)},
			func(p string) error { _, err := ReadClicks(ctx, p, ReadOptions{BatchSize: 2}); return err },
			`column "user_id" row 4: id "e\n" holds a control character`, true},
		{"clicks valid", []col{strCol("user_id", "a", "line\u2028sep"), strCol("item_id", "i", "é"), tsCol("ts", arrow.Second, 1, 2)},
			readClicksErr, "", false},
		{"table key too long", []col{strCol("item_id", "a", long), strCol("category", "c1", "c2")},
			readTableErr, `column "item_id" row 1: id is 257 bytes long (max 256)`, false},
		{"table key invalid UTF-8", []col{strCol("item_id", "a\xffb"), strCol("category", "c1")},
			readTableErr, `column "item_id" row 0: id is not valid UTF-8`, false},
		{"table values are not ids", []col{strCol("item_id", "a", "b"), strCol("category", "", "tab\there")},
			readTableErr, "", false},
		{"embeddings user", []col{strCol("user_id", "a", "b\x7f"), listF64Col("embedding", []float64{1, 2}, []float64{3, 4})},
			func(p string) error { _, err := ReadEmbeddings(ctx, p); return err },
			`column "user_id" row 1: id "b\x7f" holds a control character`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, format := tempPath(t, "ids.parquet"), FormatParquet
			if tc.ipc {
				path, format = tempPath(t, "ids.arrow"), FormatArrow
			}
			writeCols(t, path, format, tc.cols...)
			err := tc.read(path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, path, tc.want)
		})
	}
}

func readClicksErr(path string) error {
	_, err := ReadClicks(context.Background(), path, ReadOptions{})
	return err
}

func readTableErr(path string) error {
	_, err := ReadTable(context.Background(), path, ColItemID, TableOptions{})
	return err
}
