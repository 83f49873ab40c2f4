package offline_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/offline"
)

// Score a user against items with a model folder written by `ralm train`.
func ExampleScoreItems() {
	ctx := context.Background()
	b, err := bundle.Open(ctx, "model")
	if err != nil {
		log.Fatal(err)
	}
	scores, err := offline.ScoreItems(ctx, b, "42", []string{"7", "19", "1003"}, offline.Options{})
	if err != nil {
		log.Fatal(err) // e.g. an *bundle.IDError matching bundle.ErrUnknownUser
	}
	for _, s := range scores {
		fmt.Println(s.ItemID, s.Score, s.Status) // Status: ok, cold or unknown_item
	}
}

// The 10,000 users who look most like an item's clickers, written as a
// Parquet table (user_id, score, rank).
func ExampleExpandItem() {
	ctx := context.Background()
	b, err := bundle.Open(ctx, "model")
	if err != nil {
		log.Fatal(err)
	}
	e, err := offline.ExpandItem(ctx, b, "7", 10000, offline.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Status, e.Seeds, "seeds; best user:", e.Users[0].UserID)
	if err := e.Write("audience.parquet"); err != nil {
		log.Fatal(err)
	}
}

// Expand any seed list, for example a campaign's converters.
func ExampleExpand() {
	ctx := context.Background()
	b, err := bundle.Open(ctx, "model")
	if err != nil {
		log.Fatal(err)
	}
	seeds := []string{"3", "17", "256", "1024"}
	e, err := offline.Expand(ctx, b, seeds, 100, offline.Options{MinSeeds: 3})
	if err != nil {
		log.Fatal(err)
	}
	for _, u := range e.Users[:5] {
		fmt.Println(u.UserID, u.Score)
	}
}
