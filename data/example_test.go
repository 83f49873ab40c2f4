package data_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/ralmlab/ralm/data"
)

// exampleClicks is a tiny click log with string user ids and int64 item ids.
func exampleClicks() *data.Clicks {
	c := &data.Clicks{Users: data.NewVocab(data.IDString), Items: data.NewVocab(data.IDInt64)}
	for _, r := range []struct {
		user, item string
		ts         int64 // Unix seconds
	}{
		{"alice", "10", 1_700_000_000}, {"bob", "20", 1_700_000_060}, {"alice", "30", 1_700_000_120},
	} {
		c.User = append(c.User, c.Users.MustAdd(r.user))
		c.Item = append(c.Item, c.Items.MustAdd(r.item))
		c.TS = append(c.TS, r.ts*1e9)
	}
	return c
}

func ExampleReadClicks() {
	dir, err := os.MkdirTemp("", "ralm-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "clicks.parquet")
	if err := data.WriteClicks(context.Background(), path, exampleClicks()); err != nil {
		log.Fatal(err)
	}

	var stats data.ReadStats
	c, err := data.ReadClicks(context.Background(), path, data.ReadOptions{Stats: &stats})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stats.Format, "rows:", stats.Rows)
	for i := 0; i < c.Len(); i++ {
		fmt.Println(c.Users.ID(c.User[i]), c.Items.ID(c.Item[i]), c.TS[i]/1e9)
	}
	// Output:
	// parquet rows: 3
	// alice 10 1700000000
	// bob 20 1700000060
	// alice 30 1700000120
}

func ExampleReadOptions() {
	dir, err := os.MkdirTemp("", "ralm-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "clicks.arrow") // Arrow IPC file format
	if err := data.WriteClicks(context.Background(), path, exampleClicks()); err != nil {
		log.Fatal(err)
	}

	// Encode new clicks through a trained model's vocabularies: keep its
	// indices, skip clicks on items it has never seen.
	items := data.NewVocab(data.IDInt64)
	items.MustAdd("30")
	items.MustAdd("10")
	var stats data.ReadStats
	c, err := data.ReadClicks(context.Background(), path, data.ReadOptions{
		Items:        items,
		UnknownItems: data.UnknownSkip,
		Stats:        &stats,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("kept", stats.Kept, "skipped", stats.Skipped)
	fmt.Println("item indices", c.Item)
	// Output:
	// kept 2 skipped 1
	// item indices [1 0]
}

func ExampleReadTable() {
	dir, err := os.MkdirTemp("", "ralm-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users.parquet")

	keys := data.NewVocab(data.IDString)
	keys.MustAdd("alice")
	keys.MustAdd("bob")
	gender := data.NewVocab(data.IDString)
	gender.MustAdd("f")
	users := &data.Table{Keys: keys, Columns: []data.Column{
		// alice is "f", bob's gender is unknown (null).
		{Name: "gender", Kind: data.ColumnCategorical, Values: gender, Offsets: []int32{0, 1, 1}, Codes: []int32{0}},
		{Name: "age", Kind: data.ColumnContinuous, Floats: []float64{31, math.NaN()}},
	}}
	if err := data.WriteTable(context.Background(), path, data.ColUserID, users); err != nil {
		log.Fatal(err)
	}

	t, err := data.ReadTable(context.Background(), path, data.ColUserID, data.TableOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, col := range t.Columns {
		fmt.Println(col.Name, col.Kind)
	}
	fmt.Println(t.Column("gender").Row(1), t.Column("age").Floats)
	// Output:
	// gender categorical
	// age continuous
	// [] [31 NaN]
}

func ExampleWriteEmbeddings() {
	dir, err := os.MkdirTemp("", "ralm-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "embeddings.parquet")

	users := data.NewVocab(data.IDInt64)
	users.MustAdd("7")
	users.MustAdd("9")
	vecs := []float32{1, 0, 0.5, 0.5} // row-major, dim 2
	if err := data.WriteEmbeddings(context.Background(), path, users, 2, vecs); err != nil {
		log.Fatal(err)
	}

	e, err := data.ReadEmbeddings(context.Background(), path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Dim, e.Users.ID(1), e.Vec(1))
	// Output:
	// 2 9 [0.5 0.5]
}

func ExampleNewFeatureSet() {
	clicks := exampleClicks()

	// An items table with a multi-valued genres column, keyed by item_id.
	keys := data.NewVocab(data.IDInt64)
	for _, id := range []string{"10", "20", "30"} {
		keys.MustAdd(id)
	}
	genres := data.NewVocab(data.IDString)
	comedy, drama := genres.MustAdd("comedy"), genres.MustAdd("drama")
	items := &data.Table{Keys: keys, Columns: []data.Column{{
		Name: "genres", Kind: data.ColumnMulti, Values: genres,
		Offsets: []int32{0, 2, 3, 4}, Codes: []int32{comedy, drama, drama, comedy},
	}}}

	fs, err := data.NewFeatureSet(clicks, nil, items)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range fs.Fields() {
		fmt.Println(f.Name, f.Size)
	}

	// Features of alice from her clicks on items 10 and 30.
	i10, _ := fs.Items().Index("10")
	i30, _ := fs.Items().Index("30")
	var x data.Features
	fs.Build("alice", []int32{i10, i30}, &x)
	for _, g := range x.Bags[1] {
		fmt.Print(genres.ID(g), " ")
	}
	fmt.Println()
	// Output:
	// items 3
	// items.genres 2
	// comedy drama comedy
}

func ExampleFeatureSet_BuildRaw() {
	clicks := exampleClicks()
	keys := data.NewVocab(data.IDString)
	keys.MustAdd("alice")
	keys.MustAdd("bob")
	users := &data.Table{Keys: keys, Columns: []data.Column{
		{Name: "age", Kind: data.ColumnContinuous, Floats: []float64{20, 60}},
	}}
	fs, err := data.NewFeatureSet(clicks, users, nil)
	if err != nil {
		log.Fatal(err)
	}
	// A user created at serving time, described by raw values.
	var x data.Features
	if err := fs.BuildRaw(map[string]any{"age": 30}, nil, &x); err != nil {
		log.Fatal(err)
	}
	fmt.Println(fs.Fields()[1].Name, x.Values[1])
	// Output:
	// users.age 0.25
}

func ExampleFeatureSet_MarshalBinary() {
	fs, err := data.NewFeatureSet(exampleClicks(), nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	b, err := fs.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	var loaded data.FeatureSet
	if err := loaded.UnmarshalBinary(b); err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded.Fields()[0].Name, loaded.Items().Len())
	// Output:
	// items 3
}

func ExampleVocab_MarshalBinary() {
	v := data.NewVocab(data.IDString)
	v.MustAdd("alice")
	v.MustAdd("bob")
	b, err := v.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	var w data.Vocab
	if err := w.UnmarshalBinary(b); err != nil {
		log.Fatal(err)
	}
	i, ok := w.Index("bob")
	fmt.Println(w.Kind(), w.Len(), i, ok)
	// Output:
	// string 2 1 true
}

func ExampleNewClicks() {
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	c, err := data.NewClicks(
		[]string{"alice", "bob", "alice"},
		[]int64{10, 20, 30},
		[]time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)},
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Len(), "clicks,", c.Users.Len(), "users,", c.Items.Len(), "items")
	fmt.Println(c.Users.ID(c.User[2]), "clicked", c.Items.ID(c.Item[2]), "at", time.Unix(0, c.TS[2]).UTC().Format(time.RFC3339))
	// Output:
	// 3 clicks, 2 users, 3 items
	// alice clicked 30 at 2024-03-01T12:02:00Z
}
