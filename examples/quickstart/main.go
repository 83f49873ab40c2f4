// Command quickstart is ralm's first read: the whole RALM workflow through
// the library, with no command line tool involved.
//
//  1. generate a synthetic click log with planted interest communities,
//  2. train both stages (user model, then look-alike model),
//  3. save the model folder and open it again, as a server would,
//  4. score one user against a few items,
//  5. expand an item: find the users who look most like its clickers.
//
// Run it with
//
//	go run ./examples/quickstart
//
// It takes about a minute on two cores; -users and the -epochs flags trade
// time for quality.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/offline"
)

func main() {
	users := flag.Int("users", 4000, "synthetic users (items: 2/5 as many)")
	epochsUser := flag.Int("epochs-user", 5, "epochs of the user model")
	epochsLA := flag.Int("epochs-la", 8, "epochs of the look-alike model")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	if err := run(context.Background(), *users, *epochsUser, *epochsLA, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, users, epochsUser, epochsLA int, seed int64) error {
	// 1. Synthetic data: users and items belong to planted communities, and
	// users mostly click items of their own community.
	sc := synth.DefaultConfig()
	sc.Users, sc.Items, sc.ClicksPerUser, sc.Communities, sc.Seed = users, users*2/5, 20, 8, seed
	ds, err := synth.Generate(ctx, sc)
	if err != nil {
		return err
	}
	fmt.Printf("generated %d clicks by %d users on %d items\n", ds.Clicks.Len(), ds.Clicks.Users.Len(), ds.Clicks.Items.Len())

	// 2. Train both stages on the clicks and the users and items tables.
	cfg := ralm.DefaultTrainConfig()
	cfg.UserRep.Epochs, cfg.LookAlike.Epochs = epochsUser, epochsLA
	cfg.SetSeed(seed)
	// Progress prints a line per epoch of each stage: loss, validation metric,
	// examples/s and the time left.
	opts := ralm.TrainOptions{Stage: func(name string) { fmt.Println("training stage:", name) }, Progress: os.Stdout}
	t, err := ralm.Train(ctx, ralm.TrainData{Clicks: ds.Clicks, Users: ds.Users, Items: ds.Items}, cfg, opts)
	if err != nil {
		return err
	}

	// 3. A model folder holds both models, the embeddings and the seeds.
	dir, err := os.MkdirTemp("", "ralm-example-")
	if err != nil {
		return err
	}
	folder := filepath.Join(dir, "model")
	if err := bundle.WriteContext(ctx, folder, t.Bundle()); err != nil {
		return err
	}
	b, err := bundle.Open(ctx, folder)
	if err != nil {
		return err
	}
	fmt.Printf("model folder: %d users of dim %d, %d items\n", b.Users, b.EmbeddingDim, b.Items)

	// The planted communities tell us what a good score looks like.
	userComm := func(id string) int32 { u, _ := ds.Clicks.Users.Index(id); return ds.UserCommunity[u] }
	itemComm := func(id string) int32 { i, _ := ds.Clicks.Items.Index(id); return ds.ItemCommunity[i] }

	// 4. Score one user against the first items of two communities: its own
	// should score higher.
	user := b.Embeddings.Users.ID(0)
	var items []string
	same, other := 0, 0
	for i := range ds.Clicks.Items.Len() {
		id := ds.Clicks.Items.ID(int32(i))
		if itemComm(id) == userComm(user) && same < 3 {
			items, same = append(items, id), same+1
		} else if itemComm(id) != userComm(user) && other < 3 {
			items, other = append(items, id), other+1
		}
	}
	scores, err := offline.ScoreItems(ctx, b, user, items, offline.Options{})
	if err != nil {
		return err
	}
	fmt.Printf("\nuser %s (community %d):\n", user, userComm(user))
	for _, s := range scores {
		fmt.Printf("  item %-5s community %d  score %7.4f  %s\n", s.ItemID, itemComm(s.ItemID), s.Score, s.Status)
	}

	// 5. Audience expansion: the 10 users most like the item's clickers,
	// its seeds excluded.
	item := items[0]
	e, err := offline.ExpandItem(ctx, b, item, 10, offline.Options{})
	if err != nil {
		return err
	}
	fmt.Printf("\nitem %s (community %d, %d seeds): look-alike audience\n", item, itemComm(item), e.Seeds)
	for i, u := range e.Users {
		fmt.Printf("  %2d. user %-5s community %d  score %.4f\n", i+1, u.UserID, userComm(u.UserID), u.Score)
	}
	// The audience as a table (user_id, score, rank) for other tools.
	if err := e.Write(filepath.Join(dir, "audience.parquet")); err != nil {
		return err
	}
	fmt.Println("\nfiles in", dir)
	return nil
}
