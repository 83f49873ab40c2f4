package main

// ralm score: one user against items, offline, from a model folder.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/offline"
)

func newScoreCmd() *cobra.Command {
	var (
		modelDir string
		user     string
		items    []string
		attrs    string
		minSeeds int
	)
	cmd := &cobra.Command{
		Use:   "score --model DIR --user ID --items ID,ID,...",
		Short: "Score one user against items with a trained model",
		Long: `Score how much a user looks like each item's seeds (the item's clickers in the
model folder's training clicks), and print one line per item, in the order given:

  item_id  score  status

status is ok (at least --min-seeds seeds with an embedding: scored by the
look-alike model), features (fewer seeds, or none, and a row in --attributes:
scored by the model folder's cold-start network), cold (fewer seeds and no
attributes: scored by the look-alike model over those few seeds, so the
estimate rests on little evidence) or unknown_item (no click and no attributes:
score "-"). Every status's score is on one scale, the look-alike model's (the
features network's click logit is mapped onto it): for one user, ok, cold and
features scores sort together, and a higher score is a higher estimated click
probability whatever the status; the serving engine gives the same scores and
statuses for the same folder. A user without an embedding in the model is an error,
and so is an empty --items element or, on a model with int64 ids, one that is not
an integer (the error names the element).
These lines are the result: they are printed also with --quiet. -o json prints
them as a JSON array of {"item_id", "score" (null for unknown_item), "status"}.

A model trained with --propensity user (the default) adds the user's learned
click propensity to every ok and cold score: the same amount for all of the
user's items, so the order of those items is the paper's and only the level
moves.`,
		Example: `  ralm score --model model --user 42 --items 3,19,42
  ralm score --model model --user u42 --items i7 --items i19 --min-seeds 20
  ralm score --model model --user 42 --items 3,19 -o json
  ralm score --model model --user 42 --items 3,19,5000 --attributes data/items.parquet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mustBePositive("min-seeds", minSeeds); err != nil {
				return err
			}
			if modelDir == "" {
				return errors.New("--model must not be empty")
			}
			if len(items) == 0 {
				return errors.New("--items must list at least one item id")
			}
			return runScore(cmd, modelDir, user, items, attrs, minSeeds)
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "model folder written by 'ralm train'")
	f.StringVar(&user, "user", "", "user id")
	f.StringSliceVar(&items, "items", nil, "item ids, comma-separated (or the flag repeated)")
	f.IntVar(&minSeeds, "min-seeds", bundle.DefaultMinSeeds, "items with fewer seeds are features (with --attributes) or cold (the look-alike model over their few seeds)")
	addAttributesFlag(cmd, &attrs)
	addOutputFlag(cmd)
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("user")
	_ = cmd.MarkFlagRequired("items")
	return cmd
}

func runScore(cmd *cobra.Command, modelDir, user string, items []string, attrsPath string, minSeeds int) error {
	ctx := cmd.Context()
	bar := newProgress(ctx, cmd, 1, "opening "+modelDir)
	b, err := bundle.Open(ctx, modelDir)
	bar.Finish()
	if err != nil {
		return err
	}
	uid, err := normalizeID("user", b.Embeddings.Users.Kind(), user)
	if err != nil {
		return err
	}
	// every element must be an id of the model's kind: a typo ("1,,2",
	// "1,abc" on int64 ids) is an error, never an unknown_item row
	ids := make([]string, len(items))
	for i, it := range items {
		if ids[i], err = normalizeID("item", b.Seeds.Items.Kind(), it); err != nil {
			return fmt.Errorf("--items element %d of %d: %w", i+1, len(items), err)
		}
	}
	attrs, err := readAttributes(cmd, attrsPath, b)
	if err != nil {
		return err
	}
	res, err := offline.ScoreItems(ctx, b, uid, ids, offline.Options{MinSeeds: minSeeds, Attributes: attrs})
	if errors.Is(err, bundle.ErrUnknownUser) {
		return fmt.Errorf("unknown user %q: the model %s has no embedding for it", uid, modelDir)
	}
	if err != nil {
		return err
	}
	if asJSON(cmd) {
		type row struct {
			ItemID string   `json:"item_id"`
			Score  *float64 `json:"score"` // null for unknown_item
			Status string   `json:"status"`
		}
		rows := make([]row, len(res))
		for i, r := range res {
			rows[i] = row{ItemID: r.ItemID, Status: string(r.Status)}
			if r.Status != bundle.StatusUnknownItem {
				rows[i].Score = finite(float64(r.Score))
			}
		}
		return writeJSON(cmd, rows)
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	for _, r := range res {
		score := "-"
		if r.Status != bundle.StatusUnknownItem {
			score = strconv.FormatFloat(float64(r.Score), 'f', 6, 32)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ItemID, score, r.Status)
	}
	return tw.Flush()
}

// normalizeID checks an id given on the command line against the model's id
// kind with the one id validator, data.CanonicalID: an int64 id is parsed
// and written canonically ("007" → "7").
func normalizeID(what string, kind data.IDKind, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", fmt.Errorf("empty %s id", what)
	}
	c, err := data.CanonicalID(kind, id)
	switch {
	case err != nil && kind == data.IDInt64:
		return "", fmt.Errorf("%s id %.64q is not an integer (the model's %s ids are int64): %w", what, id, what, err)
	case err != nil:
		return "", fmt.Errorf("%s id %.64q: %w", what, id, err)
	}
	return c, nil
}

// addAttributesFlag adds --attributes (an items table for the cold-start
// model) to score or expand.
func addAttributesFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "attributes", "", "items table (item_id + attribute columns, as for 'ralm train --items'): items with fewer than --min-seeds seeds and a row in it are scored by the model's cold-start network (status features)")
}

// readAttributes reads the --attributes items table ("" for none). A model
// folder without a cold-start model, or a table whose item ids are of
// another kind than the model's, is an error: the attributes would be
// silently unused.
func readAttributes(cmd *cobra.Command, path string, b *bundle.Bundle) (*data.Table, error) {
	if path == "" {
		return nil, nil
	}
	if b.ColdStart == nil {
		return nil, fmt.Errorf("--attributes %s: the model folder has no cold-start model (train with --items and --cold-start)", path)
	}
	t, err := data.ReadTable(cmd.Context(), path, data.ColItemID, data.TableOptions{AllowEmpty: true})
	if err != nil {
		return nil, fmt.Errorf("--attributes: %w", err)
	}
	if k, want := t.Keys.Kind(), b.Seeds.Items.Kind(); k != want {
		return nil, fmt.Errorf("--attributes %s: item ids are %v, the model's are %v", path, k, want)
	}
	return t, nil
}
