// Command movielens evaluates RALM on the real MovieLens-100K data set with
// the held-out look-alike protocol and prints the comparison table.
//
// The data set's licence forbids redistribution, so it is not part of this
// repository: point -data at an unpacked ml-100k folder (default:
// ../shared/datasets/ml-100k beside the repository, when present).
//
//	go run ./examples/movielens -seed 1
//
// Every rating is a click. Users get age (float), gender, occupation and the
// first zip character; items their genre list and release year (-year=false:
// genres only). With -tables DIR the converted
// Parquet tables are also written, so the same evaluation can be run with
// `ralm eval --clicks DIR/clicks.parquet --users DIR/users.parquet --items
// DIR/items.parquet`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/eval"
	"github.com/ralmlab/ralm/userrep"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "movielens:", err)
		os.Exit(1)
	}
}

func defaultDataDir() string {
	for _, d := range []string{"../shared/datasets/ml-100k", "../../../shared/datasets/ml-100k"} {
		if _, err := os.Stat(filepath.Join(d, "u.data")); err == nil {
			return d
		}
	}
	return "../shared/datasets/ml-100k"
}

func run() error {
	dir := flag.String("data", defaultDataDir(), "folder holding the raw MovieLens-100K files (u.data, u.user, u.item, u.genre)")
	seed := flag.Int64("seed", 1, "seed of the split and of training")
	fresh := flag.Float64("fresh", split.DefaultFreshFraction, "share of eligible items made fresh")
	epochsUser := flag.Int("epochs-user", 20, "user-model epochs")
	epochsLA := flag.Int("epochs-la", 40, "look-alike epochs")
	merge := flag.String("merge", "", "user-model merge: "+string(userrep.MergeGated)+" (the default: attention-weighted concatenation), "+
		string(userrep.MergeAttention)+" (the paper's layer) or "+string(userrep.MergeConcat)+" (YouTube DNN)")
	report := flag.String("report", "", "write the JSON report here")
	plot := flag.String("plot", "", "write the AUC bar chart (PNG) here")
	tables := flag.String("tables", "", "also write the converted Parquet tables into this folder")
	year := flag.Bool("year", true, "give the items table the release year beside the genres (a categorical column; -year=false: genres only)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ml, err := loadMovieLens(*dir, *year)
	if err != nil {
		return err
	}
	log.Info("loaded MovieLens-100K", "clicks", ml.Clicks.Len(), "users", ml.Users.Rows(), "items", ml.Items.Rows())
	if *tables != "" {
		if err := os.MkdirAll(*tables, 0o755); err != nil {
			return err
		}
		if err := data.WriteClicks(ctx, filepath.Join(*tables, "clicks.parquet"), ml.Clicks); err != nil {
			return err
		}
		if err := data.WriteTable(ctx, filepath.Join(*tables, "users.parquet"), "user_id", ml.Users); err != nil {
			return err
		}
		if err := data.WriteTable(ctx, filepath.Join(*tables, "items.parquet"), "item_id", ml.Items); err != nil {
			return err
		}
	}

	cfg := eval.RunConfig{Split: split.Options{FreshFraction: *fresh, Seed: *seed}, Train: ralm.DefaultTrainConfig()}
	cfg.Train.UserRep.Epochs = *epochsUser
	cfg.Train.SetSeed(*seed)
	if *merge != "" {
		m, err := userrep.ParseMerge(*merge)
		if err != nil {
			return fmt.Errorf("--merge: %w", err)
		}
		cfg.Train.UserRep.Merge = m
	}
	cfg.Train.LookAlike.Epochs = *epochsLA
	start := time.Now()
	res, sp, _, err := eval.Run(ctx, ralm.TrainData{Clicks: ml.Clicks, Users: ml.Users, Items: ml.Items}, cfg,
		func(ctx context.Context, in ralm.TrainData, cfg ralm.TrainConfig) (*ralm.Trained, error) {
			return ralm.Train(ctx, in, cfg, ralm.TrainOptions{Logger: log})
		}, eval.Options{})
	if err != nil {
		return err
	}
	rep := eval.NewReport(res, map[string]any{
		"data": "MovieLens-100K", "seed": *seed, "epochs_user": *epochsUser, "epochs_la": *epochsLA, "merge": cfg.Train.UserRep.Merge,
	}, map[string]any{
		"fresh": *fresh, "train_clicks": sp.Train.Len(), "heldout_clicks": sp.Heldout.Len(),
		"warm_items": len(sp.WarmItems), "fresh_items": len(sp.FreshItems),
	})
	fmt.Printf("MovieLens-100K, seed %d, %s\n\n", *seed, time.Since(start).Round(time.Second))
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			return err
		}
		if err := rep.WriteJSON(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *plot != "" {
		return rep.WritePlot(*plot)
	}
	return nil
}
