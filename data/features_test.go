package data

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// featureFixture writes and reads back small clicks, users and items files.
func featureFixture(t testing.TB) (*Clicks, *Table, *Table) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	clicks := filepath.Join(dir, "clicks.parquet")
	writeCols(t, clicks, FormatParquet,
		strCol("user_id", "u1", "u1", "u2", "u3", "u4"),
		i64Col("item_id", 100, 200, 300, 100, 400),
		i64Col("ts", 1, 2, 3, 4, 5))
	users := filepath.Join(dir, "users.parquet")
	writeCols(t, users, FormatParquet,
		strCol("user_id", "u1", "u2", "u3", "u9"),
		strCol("gender", "f", "m", nil, "x"),
		f64Col("age", 20.0, 40.0, nil, 60.0),
		listStrCol("langs", []string{"en", "fr"}, nil, []string{"de"}, []string{"en"}))
	items := filepath.Join(dir, "items.arrow")
	writeCols(t, items, FormatArrow,
		i64Col("item_id", 300, 100, 200, 999),
		listStrCol("genres", []string{"drama"}, []string{"comedy", "drama"}, []string{"comedy"}, []string{"horror"}),
		f64Col("len", 100.0, 200.0, nil, 300.0))
	c, err := ReadClicks(ctx, clicks, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := ReadTable(ctx, users, ColUserID, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := ReadTable(ctx, items, ColItemID, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c, u, it
}

// bagNames decodes bag field f of x through the vocabulary v.
func bagNames(x *Features, f int, v *Vocab) []string {
	var out []string
	for _, c := range x.Bags[f] {
		out = append(out, v.ID(c))
	}
	return out
}

func approx(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-6 }

func TestFeatureSetFields(t *testing.T) {
	c, users, items := featureFixture(t)
	fs, err := NewFeatureSet(c, users, items)
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{
		{"items", FieldBag, 4},
		{"items.genres", FieldBag, 3},
		{"items.len", FieldContinuous, 0},
		{"users.gender", FieldBag, 3},
		{"users.age", FieldContinuous, 0},
		{"users.langs", FieldBag, 3},
	}
	if !slices.Equal(fs.Fields(), want) {
		t.Fatalf("fields %v, want %v", fs.Fields(), want)
	}
	if fs.Items() != c.Items {
		t.Error("Items() is not the clicks' item vocabulary")
	}
	if got := fs.UserColumns(); !slices.Equal(got, []string{"gender", "age", "langs"}) {
		t.Errorf("UserColumns %v", got)
	}

	onlyItems, err := NewFeatureSet(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(onlyItems.Fields(), want[:1]) {
		t.Errorf("fields without tables: %v", onlyItems.Fields())
	}
}

func TestFeatureSetBuild(t *testing.T) {
	c, users, items := featureFixture(t)
	fs, err := NewFeatureSet(c, users, items)
	if err != nil {
		t.Fatal(err)
	}
	idx := func(id string) int32 {
		i, ok := c.Items.Index(id)
		if !ok {
			t.Fatalf("no item %s", id)
		}
		return i
	}
	genres := items.Column("genres").Values
	gender := users.Column("gender").Values
	langs := users.Column("langs").Values
	// Scaling of items.len over the items table: min 100, max 300.
	// Scaling of users.age over the users table: min 20, max 60; mean of
	// scaled values (0, 0.5, 1) = 0.5.
	for _, tc := range []struct {
		name    string
		user    string
		clicked []int32
		items   []string
		genres  []string
		itemLen float32
		gender  []string
		age     float32
		langs   []string
	}{
		{"known user, two items", "u1", []int32{idx("100"), idx("200")}, []string{"100", "200"},
			[]string{"comedy", "drama", "comedy"}, 0.5, []string{"f"}, 0, []string{"en", "fr"}},
		{"repeat clicks weigh double", "u2", []int32{idx("300"), idx("300")}, []string{"300", "300"},
			[]string{"drama", "drama"}, 0, []string{"m"}, 0.5, nil},
		{"null cells get defaults", "u3", []int32{idx("100")}, []string{"100"},
			[]string{"comedy", "drama"}, 0.5, nil, 0.5, []string{"de"}},
		{"user without a row, item without a row", "u4", []int32{idx("400")}, []string{"400"},
			nil, 0.5, nil, 0.5, nil},
		{"no clicks, out-of-range indices dropped", "nobody", []int32{-1, 99}, nil,
			nil, 0.5, nil, 0.5, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var x Features
			fs.Build(tc.user, tc.clicked, &x)
			if len(x.Bags) != 6 || len(x.Values) != 6 {
				t.Fatalf("sizes %d/%d", len(x.Bags), len(x.Values))
			}
			if got := bagNames(&x, 0, c.Items); !slices.Equal(got, tc.items) {
				t.Errorf("items %v, want %v", got, tc.items)
			}
			if got := bagNames(&x, 1, genres); !slices.Equal(got, tc.genres) {
				t.Errorf("genres %v, want %v", got, tc.genres)
			}
			if !approx(x.Values[2], tc.itemLen) {
				t.Errorf("items.len %v, want %v", x.Values[2], tc.itemLen)
			}
			if got := bagNames(&x, 3, gender); !slices.Equal(got, tc.gender) {
				t.Errorf("gender %v, want %v", got, tc.gender)
			}
			if !approx(x.Values[4], tc.age) {
				t.Errorf("age %v, want %v", x.Values[4], tc.age)
			}
			if got := bagNames(&x, 5, langs); !slices.Equal(got, tc.langs) {
				t.Errorf("langs %v, want %v", got, tc.langs)
			}
			for f, fd := range fs.Fields() {
				if fd.Kind == FieldContinuous && len(x.Bags[f]) != 0 {
					t.Errorf("continuous field %d has a bag", f)
				}
				if fd.Kind == FieldBag && x.Values[f] != 0 {
					t.Errorf("bag field %d has a value", f)
				}
				for _, id := range x.Bags[f] {
					if id < 0 || int(id) >= fd.Size {
						t.Errorf("field %d: id %d outside size %d", f, id, fd.Size)
					}
				}
			}
		})
	}
}

func TestFeatureSetBuildReusesDst(t *testing.T) {
	c, users, items := featureFixture(t)
	fs, err := NewFeatureSet(c, users, items)
	if err != nil {
		t.Fatal(err)
	}
	clicked := []int32{0, 1, 2, 3}
	var x Features
	fs.Build("u1", clicked, &x)
	allocs := testing.AllocsPerRun(100, func() {
		fs.Build("u1", clicked, &x)
		fs.Build("u2", clicked[:2], &x)
	})
	if allocs != 0 {
		t.Errorf("Build allocates %.1f times per call pair on a reused dst", allocs)
	}
	// A previous, longer build leaves nothing behind.
	fs.Build("nobody", nil, &x)
	for f := range x.Bags {
		if len(x.Bags[f]) != 0 {
			t.Errorf("field %d keeps %v", f, x.Bags[f])
		}
	}
}

func TestFeatureSetScalingClamps(t *testing.T) {
	keys := NewVocab(IDString)
	for _, k := range []string{"a", "b", "c"} {
		keys.MustAdd(k)
	}
	users := &Table{Keys: keys, Columns: []Column{
		{Name: "x", Kind: ColumnContinuous, Floats: []float64{-2, 2, 0}},
		{Name: "const", Kind: ColumnContinuous, Floats: []float64{7, 7, 7}},
		{Name: "empty", Kind: ColumnContinuous, Floats: []float64{math.NaN(), math.NaN(), math.NaN()}},
	}}
	c := &Clicks{Users: keys, Items: NewVocab(IDString)}
	fs, err := NewFeatureSet(c, users, nil)
	if err != nil {
		t.Fatal(err)
	}
	newKeys := NewVocab(IDString)
	newKeys.MustAdd("n1")
	newKeys.MustAdd("n2")
	inf := &Table{Keys: newKeys, Columns: []Column{
		{Name: "x", Kind: ColumnContinuous, Floats: []float64{100, -100}},
		{Name: "const", Kind: ColumnContinuous, Floats: []float64{1, math.NaN()}},
	}}
	fs2, err := fs.WithUsers(inf)
	if err != nil {
		t.Fatal(err)
	}
	var x Features
	for _, tc := range []struct {
		fs    *FeatureSet
		user  string
		wantX float32
		wantC float32
		wantE float32
	}{
		{fs, "a", 0, 0.5, 0.5},
		{fs, "b", 1, 0.5, 0.5},
		{fs, "c", 0.5, 0.5, 0.5},
		{fs2, "n1", 1, 0.5, 0.5},  // clamped above
		{fs2, "n2", 0, 0.5, 0.5},  // clamped below; NaN → default
		{fs2, "a", 0.5, 0.5, 0.5}, // not in the new table: training mean
	} {
		tc.fs.Build(tc.user, nil, &x)
		if !approx(x.Values[1], tc.wantX) || !approx(x.Values[2], tc.wantC) || !approx(x.Values[3], tc.wantE) {
			t.Errorf("user %s: values %v, want x=%v const=%v empty=%v", tc.user, x.Values, tc.wantX, tc.wantC, tc.wantE)
		}
	}
}

func TestFeatureSetWithUsers(t *testing.T) {
	c, users, items := featureFixture(t)
	fs, err := NewFeatureSet(c, users, items)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "new_users.parquet")
	// gender is now multi-valued with an unseen value; langs is missing;
	// an extra column is ignored; keys are integers.
	writeCols(t, path, FormatParquet,
		i64Col("user_id", 7, 8),
		listStrCol("gender", []string{"m", "zz", "f"}, nil),
		f64Col("age", 30.0, 80.0),
		strCol("extra", "a", "b"))
	nu, err := ReadTable(context.Background(), path, ColUserID, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fs2, err := fs.WithUsers(nu)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fs2.Fields(), fs.Fields()) {
		t.Fatal("fields changed")
	}
	var x Features
	fs2.Build("7", []int32{0}, &x)
	if got := bagNames(&x, 3, users.Column("gender").Values); !slices.Equal(got, []string{"m", "f"}) {
		t.Errorf("re-encoded gender %v", got)
	}
	if !approx(x.Values[4], 0.25) {
		t.Errorf("age %v, want 0.25 with training scaling", x.Values[4])
	}
	if len(x.Bags[5]) != 0 {
		t.Errorf("missing column gives %v", x.Bags[5])
	}
	fs2.Build("8", nil, &x)
	if !approx(x.Values[4], 1) {
		t.Errorf("age %v, want clamp to 1", x.Values[4])
	}
	// The original is unchanged.
	fs.Build("u1", nil, &x)
	if got := bagNames(&x, 3, users.Column("gender").Values); !slices.Equal(got, []string{"f"}) {
		t.Errorf("original changed: %v", got)
	}

	bad := &Table{Keys: nu.Keys, Columns: []Column{{Name: "age", Kind: ColumnCategorical, Values: NewVocab(IDString), Offsets: []int32{0, 0, 0}}}}
	if _, err := fs.WithUsers(bad); err == nil || !strings.Contains(err.Error(), `column "age" is categorical but was continuous in training`) {
		t.Errorf("kind change: %v", err)
	}
}

func TestFeatureSetBuildRaw(t *testing.T) {
	c, users, items := featureFixture(t)
	fs, err := NewFeatureSet(c, users, items)
	if err != nil {
		t.Fatal(err)
	}
	var raw, viaTable Features
	err = fs.BuildRaw(map[string]any{"gender": "f", "age": 20, "users.langs": []any{"en", "fr", nil, "klingon"}}, []int32{1}, &raw)
	if err != nil {
		t.Fatal(err)
	}
	fs.Build("u1", []int32{1}, &viaTable)
	if !sameFeatures(&raw, &viaTable) {
		t.Errorf("BuildRaw %v differs from Build %v", raw, viaTable)
	}
	// Missing values and nil get the defaults.
	if err := fs.BuildRaw(map[string]any{"gender": nil}, nil, &raw); err != nil {
		t.Fatal(err)
	}
	fs.Build("nobody", nil, &viaTable)
	if !sameFeatures(&raw, &viaTable) {
		t.Errorf("defaults differ: %v vs %v", raw, viaTable)
	}
	for _, tc := range []struct {
		vals map[string]any
		frag string
	}{
		{map[string]any{"agee": 3.0}, `unknown user column "agee"`},
		{map[string]any{"age": "old"}, `column "age": value old of type string is not a number`},
		{map[string]any{"gender": 1.5}, `column "gender": value 1.5 of type float64 is not a string, bool or integer`},
		{map[string]any{"langs": []any{struct{}{}}}, `column "langs"`},
	} {
		err := fs.BuildRaw(tc.vals, nil, &raw)
		if err == nil || !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("BuildRaw(%v): %v, want %q", tc.vals, err, tc.frag)
		}
	}
}

func sameFeatures(a, b *Features) bool {
	if len(a.Bags) != len(b.Bags) || !slices.Equal(a.Values, b.Values) {
		return false
	}
	for i := range a.Bags {
		if !slices.Equal(a.Bags[i], b.Bags[i]) {
			return false
		}
	}
	return true
}

func TestFeatureSetBinary(t *testing.T) {
	c, users, items := featureFixture(t)
	for _, tc := range []struct {
		name         string
		users, items *Table
	}{
		{"all tables", users, items},
		{"no tables", nil, nil},
		{"users only", users, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := NewFeatureSet(c, tc.users, tc.items)
			if err != nil {
				t.Fatal(err)
			}
			b, err := fs.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got FeatureSet
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Fields(), fs.Fields()) || !slices.Equal(got.Items().IDs(), fs.Items().IDs()) {
				t.Fatal("fields or items differ")
			}
			b2, _ := got.MarshalBinary()
			if string(b) != string(b2) {
				t.Error("re-encoding differs")
			}
			var x, y Features
			for _, u := range []string{"u1", "u2", "u3", "u4", "u9", "nobody"} {
				for _, clicked := range [][]int32{nil, {0}, {0, 1, 2, 3, 3}} {
					fs.Build(u, clicked, &x)
					got.Build(u, clicked, &y)
					if !sameFeatures(&x, &y) {
						t.Fatalf("user %s %v: %v != %v", u, clicked, x, y)
					}
				}
			}
			for i := 0; i < len(b); i++ {
				cb := slices.Clone(b)
				cb[i] ^= 0x10
				if err := new(FeatureSet).UnmarshalBinary(cb); err == nil {
					t.Fatalf("corruption at byte %d not detected", i)
				}
			}
			for n := 0; n < len(b); n++ {
				if err := new(FeatureSet).UnmarshalBinary(b[:n]); err == nil {
					t.Fatalf("prefix of %d bytes decoded", n)
				}
			}
		})
	}
}

func TestNewFeatureSetErrors(t *testing.T) {
	c, users, _ := featureFixture(t)
	if _, err := NewFeatureSet(nil, nil, nil); err == nil {
		t.Error("nil clicks accepted")
	}
	broken := &Table{Keys: users.Keys, Columns: []Column{{Name: "f", Kind: ColumnContinuous, Floats: []float64{1}}}}
	_, err := NewFeatureSet(c, broken, nil)
	if err == nil || !strings.Contains(err.Error(), `users column "f": 1 values for 4 rows`) {
		t.Errorf("got %v", err)
	}
}

// TestFeatureSetConcurrentBuild runs Build and BuildRaw from several
// goroutines on one FeatureSet (as the serving engine does); run with -race.
func TestFeatureSetConcurrentBuild(t *testing.T) {
	c, users, items := featureFixture(t)
	fs, err := NewFeatureSet(c, users, items)
	if err != nil {
		t.Fatal(err)
	}
	userIDs := []string{"u1", "u2", "u3", "u4", "u9", "nobody"}
	want := make([]Features, len(userIDs))
	for i, u := range userIDs {
		fs.Build(u, []int32{int32(i % 4), 3}, &want[i])
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var x Features
			for k := 0; k < 200; k++ {
				i := (g + k) % len(userIDs)
				fs.Build(userIDs[i], []int32{int32(i % 4), 3}, &x)
				if !sameFeatures(&x, &want[i]) {
					errs <- userIDs[i]
					return
				}
				if err := fs.BuildRaw(map[string]any{"gender": "m", "age": 33.0}, []int32{1}, &x); err != nil {
					errs <- err.Error()
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent Build differs or fails: %s", e)
	}
}
