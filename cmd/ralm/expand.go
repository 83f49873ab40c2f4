package main

// ralm expand: offline audience expansion from a model folder.

import (
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/offline"
)

// expandShow is the number of top users expand prints.
const expandShow = 5

func newExpandCmd() *cobra.Command {
	var (
		modelDir, item, seedsPath, out, attrs string
		n, minSeeds                           int
	)
	cmd := &cobra.Command{
		Use:   "expand --model DIR (--item ID | --seeds FILE) --n N --out FILE",
		Short: "Find the users who look most like an item's seeds (audience expansion)",
		Long: `Offline audience expansion, the classic look-alike job: score every user of the
model folder against a seed set and write the top --n, excluding the seeds
themselves.

The seeds are the item's clickers in the model's training clicks (--item), or the
user ids of a table (--seeds, Parquet or Arrow IPC with a user_id column, one row
per seed). With both, --seeds is read as a click log (user_id, item_id, ts, such
as the fresh_seeds.parquet of 'ralm split') and its clicks on --item are the
seeds: the way to expand an item the model was not trained on. Seeds without an
embedding in the model are ignored. With fewer than --min-seeds seeds the status
is cold: the scores are still the look-alike model's, over those few seeds. With
--item and --attributes, an item with fewer than --min-seeds seeds (or none) and
a row in the attributes table is expanded by the model's cold-start network
(status features: the users it scores highest, on the look-alike scale), as
the serving engine does; its seeds are left out.

A model trained with --propensity user (the default) adds each user's learned
click propensity to the look-alike score, so among users who look alike to the
seeds, those who click more rank higher (the paper's score alone: train with
--propensity off).

--out gets columns user_id (the model's id type), score (float32) and rank (int32,
1 = best), best first: by score, then by user id. Parquet, or Arrow IPC for a
.arrow, .ipc or .feather name; written atomically. It prints a summary and the
top 5 (nothing with --quiet; -o json prints the summary as one JSON object).`,
		Example: `  ralm expand --model model --item 19 --n 10000 --out audience.parquet
  ralm expand --model model --item 19 --n 100 --out top.parquet -o json
  ralm expand --model model --seeds campaign_users.parquet --n 50000 --out audience.parquet
  ralm expand --model model --seeds split/fresh_seeds.parquet --item 1203 --n 100 --out top.parquet
  ralm expand --model model --item 5000 --attributes data/items.parquet --n 100 --out top.parquet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mustBePositive("n", n); err != nil {
				return err
			}
			if err := mustBePositive("min-seeds", minSeeds); err != nil {
				return err
			}
			if modelDir == "" || out == "" {
				return errors.New("--model and --out must not be empty")
			}
			if err := checkOutputs(cmd); err != nil {
				return err
			}
			if attrs != "" && (item == "" || seedsPath != "") {
				return errors.New("--attributes needs --item without --seeds (a seed set has no item attributes)")
			}
			return runExpand(cmd, modelDir, item, seedsPath, out, attrs, n, minSeeds)
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "model folder written by 'ralm train'")
	f.StringVar(&item, "item", "", "expand this item's seeds")
	f.StringVar(&seedsPath, "seeds", "", "seed users: a user_id table (or, with --item, a click log)")
	f.IntVar(&n, "n", 1000, "number of users to write")
	f.StringVar(&out, "out", "", "output file (Parquet, or Arrow IPC for .arrow/.ipc/.feather)")
	f.IntVar(&minSeeds, "min-seeds", bundle.DefaultMinSeeds, "with fewer seeds the item is features (with --attributes) or cold (the look-alike model over its few seeds)")
	addAttributesFlag(cmd, &attrs)
	addOutputFlag(cmd)
	markOutputFile(cmd, "out")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("out")
	cmd.MarkFlagsOneRequired("item", "seeds")
	return cmd
}

func runExpand(cmd *cobra.Command, modelDir, item, seedsPath, out, attrsPath string, n, minSeeds int) error {
	ctx := cmd.Context()
	log := newLogger(cmd)
	bar := newProgress(ctx, cmd, 1, "opening "+modelDir)
	b, err := bundle.Open(ctx, modelDir)
	bar.Finish()
	if err != nil {
		return err
	}
	if item != "" {
		if item, err = normalizeID("item", b.Seeds.Items.Kind(), item); err != nil {
			return err
		}
	}
	attrs, err := readAttributes(cmd, attrsPath, b)
	if err != nil {
		return err
	}
	opt := offline.Options{MinSeeds: minSeeds, Attributes: attrs}
	var (
		e    *offline.Expansion
		what string
	)
	bar = newProgress(ctx, cmd, 1, "scoring users")
	switch {
	case seedsPath == "":
		what = fmt.Sprintf("item %s", item)
		e, err = offline.ExpandItem(ctx, b, item, n, opt)
		if errors.Is(err, bundle.ErrUnknownItem) {
			err = fmt.Errorf("unknown item %q: the model %s has no click on it (give its seeds with --seeds)", item, modelDir)
		}
	default:
		var seeds []string
		if seeds, what, err = readSeeds(cmd, seedsPath, item); err == nil {
			e, err = offline.Expand(ctx, b, seeds, n, opt)
		}
	}
	bar.Finish()
	if err != nil {
		return err
	}
	if e.UnknownSeeds > 0 {
		log.Warn("seeds without an embedding in the model are ignored", "seeds", e.UnknownSeeds)
	}
	removeStale(cmd, out)
	bar = newProgress(ctx, cmd, int64(len(e.Users)), "writing "+out)
	err = e.WriteContext(ctx, out, bar.rows().write("writing "+out))
	bar.Finish()
	if err != nil {
		return err
	}
	top := e.Users[:min(expandShow, len(e.Users))]
	if asJSON(cmd) {
		type user struct {
			Rank   int     `json:"rank"`
			UserID string  `json:"user_id"`
			Score  float64 `json:"score"`
		}
		s := struct {
			Expanded     string `json:"expanded"`
			Item         string `json:"item,omitempty"`
			Seeds        int    `json:"seeds"`
			UnknownSeeds int    `json:"unknown_seeds"`
			Status       string `json:"status"`
			Scored       int    `json:"users_scored"`
			Written      int    `json:"users_written"`
			Out          string `json:"out"`
			Top          []user `json:"top"`
		}{Expanded: what, Item: item, Seeds: e.Seeds, UnknownSeeds: e.UnknownSeeds, Status: string(e.Status),
			Scored: b.Embeddings.Users.Len() - e.Seeds, Written: len(e.Users), Out: out, Top: []user{}}
		for i, u := range top {
			s.Top = append(s.Top, user{Rank: i + 1, UserID: u.UserID, Score: float64(u.Score)})
		}
		return writeJSON(cmd, s)
	}
	w := summaryOut(cmd)
	fmt.Fprintf(w, "expanded %s: %d seeds (%s", what, e.Seeds, e.Status)
	if e.UnknownSeeds > 0 {
		fmt.Fprintf(w, ", %d without an embedding ignored", e.UnknownSeeds)
	}
	fmt.Fprintf(w, "), %d users scored\n", b.Embeddings.Users.Len()-e.Seeds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  rank\tuser_id\tscore\n")
	for i, u := range top {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", i+1, u.UserID, strconv.FormatFloat(float64(u.Score), 'f', 6, 32))
	}
	tw.Flush()
	fmt.Fprintf(w, "wrote the top %d users to %s\n", len(e.Users), out)
	return nil
}

// readSeeds reads seed user ids: the users of a user_id table, or, with an
// item, the clickers of the item in a click log.
func readSeeds(cmd *cobra.Command, path, item string) (seeds []string, what string, err error) {
	ctx := cmd.Context()
	if item == "" {
		t, err := data.ReadTable(ctx, path, data.ColUserID, data.TableOptions{Columns: []string{}})
		if err != nil {
			return nil, "", err
		}
		return t.Keys.IDs(), fmt.Sprintf("the seeds of %s", path), nil
	}
	c, err := data.ReadClicks(ctx, path, data.ReadOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("--seeds with --item: %w", err)
	}
	it, ok := c.Items.Index(item)
	if ok {
		seen := map[int32]bool{}
		for k, i := range c.Item {
			if u := c.User[k]; i == it && !seen[u] {
				seen[u] = true
				seeds = append(seeds, c.Users.ID(u))
			}
		}
	}
	if len(seeds) == 0 {
		return nil, "", fmt.Errorf("%s has no click on item %s", path, item)
	}
	return seeds, fmt.Sprintf("item %s (seeds from %s)", item, path), nil
}
