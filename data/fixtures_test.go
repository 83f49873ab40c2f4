package data

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Run `go test ./data -run TestFixtures -update-fixtures` to regenerate
// the files in ../testdata from fixtureData.
var updateFixtures = flag.Bool("update-fixtures", false, "rewrite the fixture files in ../testdata")

const fixtureDir = "../testdata"

// fixtureData is the content of the shared fixtures: 12 users (string ids)
// in 3 interest groups, 9 items (int64 ids) with genres and a year, 60
// clicks over 5 days where users mostly click items of their group.
func fixtureData() (*Clicks, *Table, *Table) {
	c := &Clicks{Users: NewVocab(IDString), Items: NewVocab(IDInt64)}
	for i := 0; i < 60; i++ {
		u := i % 12
		group := u % 3
		it := group*3 + (i/12+u)%3 // items of the user's group
		if i%10 == 9 {
			it = (it + 4) % 9 // some noise
		}
		c.User = append(c.User, c.Users.MustAdd("u"+strconv.Itoa(u)))
		c.Item = append(c.Item, c.Items.MustAdd(strconv.Itoa(1000+it)))
		c.TS = append(c.TS, int64(1_700_000_000+i*7200)*1e9)
	}

	ukeys := NewVocab(IDString)
	gender, langs := NewVocab(IDString), NewVocab(IDString)
	users := &Table{Keys: ukeys, Columns: []Column{
		{Name: "gender", Kind: ColumnCategorical, Values: gender, Offsets: []int32{0}},
		{Name: "age", Kind: ColumnContinuous},
		{Name: "langs", Kind: ColumnMulti, Values: langs, Offsets: []int32{0}},
	}}
	for u := 0; u < 11; u++ { // u11 has no row: features default
		ukeys.MustAdd("u" + strconv.Itoa(u))
		g := &users.Columns[0]
		if u != 4 { // u4's gender is null
			g.Codes = append(g.Codes, gender.MustAdd([]string{"f", "m"}[u%2]))
		}
		g.Offsets = append(g.Offsets, int32(len(g.Codes)))
		users.Columns[1].Floats = append(users.Columns[1].Floats, float64(18+u*4+(u%3)*10))
		l := &users.Columns[2]
		l.Codes = append(l.Codes, langs.MustAdd([]string{"en", "fr", "de"}[u%3]))
		if u%4 == 0 {
			l.Codes = append(l.Codes, langs.MustAdd("en"))
		}
		l.Offsets = append(l.Offsets, int32(len(l.Codes)))
	}

	ikeys := NewVocab(IDInt64)
	genres, years := NewVocab(IDString), NewVocab(IDInt64)
	items := &Table{Keys: ikeys, Columns: []Column{
		{Name: "genres", Kind: ColumnMulti, Values: genres, Offsets: []int32{0}},
		{Name: "year", Kind: ColumnCategorical, Values: years, Offsets: []int32{0}},
	}}
	names := []string{"comedy", "drama", "horror"}
	for it := 0; it < 9; it++ {
		ikeys.MustAdd(strconv.Itoa(1000 + it))
		g := &items.Columns[0]
		g.Codes = append(g.Codes, genres.MustAdd(names[it/3]))
		if it%3 == 2 {
			g.Codes = append(g.Codes, genres.MustAdd(names[(it/3+1)%3]))
		}
		g.Offsets = append(g.Offsets, int32(len(g.Codes)))
		y := &items.Columns[1]
		y.Codes = append(y.Codes, years.MustAdd(strconv.Itoa(1990+it*3)))
		y.Offsets = append(y.Offsets, int32(len(y.Codes)))
	}
	return c, users, items
}

// TestFixtures checks that the shared fixture files in ../testdata hold
// exactly fixtureData (and rewrites them with -update-fixtures).
func TestFixtures(t *testing.T) {
	c, users, items := fixtureData()
	files := map[string]func(string) error{
		"clicks.parquet": func(p string) error { return WriteClicks(context.Background(), p, c) },
		"clicks.arrow":   func(p string) error { return WriteClicks(context.Background(), p, c) },
		"users.parquet":  func(p string) error { return WriteTable(context.Background(), p, ColUserID, users) },
		"items.parquet":  func(p string) error { return WriteTable(context.Background(), p, ColItemID, items) },
	}
	if *updateFixtures {
		for name, write := range files {
			if err := write(filepath.Join(fixtureDir, name)); err != nil {
				t.Fatal(err)
			}
		}
		good, err := os.ReadFile(filepath.Join(fixtureDir, "clicks.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fixtureDir, "truncated.parquet"), good[:len(good)/2], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The files are what the writers produce today (writes are deterministic).
	for name, write := range files {
		fresh := filepath.Join(t.TempDir(), name)
		if err := write(fresh); err != nil {
			t.Fatal(err)
		}
		a, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			t.Fatalf("%v (run with -update-fixtures)", err)
		}
		b, _ := os.ReadFile(fresh)
		if !bytes.Equal(a, b) {
			t.Errorf("%s is stale: run go test ./data -run TestFixtures -update-fixtures", name)
		}
	}
	ctx := context.Background()
	for _, name := range []string{"clicks.parquet", "clicks.arrow"} {
		got, err := ReadClicks(ctx, filepath.Join(fixtureDir, name), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sameClicks(t, c, got)
	}
	gu, err := ReadTable(ctx, filepath.Join(fixtureDir, "users.parquet"), ColUserID, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, users, gu)
	gi, err := ReadTable(ctx, filepath.Join(fixtureDir, "items.parquet"), ColItemID, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, items, gi)
	_, err = ReadClicks(ctx, filepath.Join(fixtureDir, "truncated.parquet"), ReadOptions{})
	wantErr(t, err, "truncated.parquet", "truncated or corrupt Parquet file")
}
