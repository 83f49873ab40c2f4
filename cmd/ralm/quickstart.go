package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/eval"
	"github.com/ralmlab/ralm/ralm/offline"
)

// quickstartState is what the quickstart steps share. Later steps (train,
// evaluate) read what earlier ones left here and add their own results.
type quickstartState struct {
	ctx  context.Context
	cmd  *cobra.Command
	dir  string // where every file goes
	seed int64
	opt  quickstartOptions

	synth    *synth.Dataset // step "generate"
	clicks   *data.Clicks   // the click log read back from clicksFile
	split    *split.Result  // step "split"
	modelDir string         // step "train": the model folder
	model    *bundle.Bundle // step "train": the model folder, opened
}

// quickstartOptions are the quickstart's size and training flags.
type quickstartOptions struct {
	users      int // synthetic users; items are 2/5 of them
	epochsUser int
	epochsLA   int
}

// Quickstart defaults: about a minute or two on two idle cores in all.
const (
	quickstartUsers      = 5000
	quickstartEpochsUser = 8
	quickstartEpochsLA   = 12
)

// quickstartStep is one stage of the quickstart. Steps run in order; each
// prints its own summary on stdout.
type quickstartStep struct {
	name string
	run  func(s *quickstartState) error
}

// quickstartSteps lists the stages, run in order.
func quickstartSteps() []quickstartStep {
	return []quickstartStep{
		{"generate synthetic data", quickstartGenerate},
		{"split for evaluation", quickstartSplit},
		{"train the user model and the look-alike model", quickstartTrain},
		{"evaluate against the baselines on held-out clicks", quickstartEvaluate},
		{"score a user against items", quickstartScore},
		{"expand a fresh item", quickstartExpand},
	}
}

// quickstartConfig is the embedded default data set: small enough to run in
// seconds, large enough for every protocol threshold to matter.
func quickstartConfig(seed int64, users int) synth.Config {
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.ClicksPerUser, cfg.Communities = users, max(1, users*2/5), 20, 8
	cfg.Seed = seed
	return cfg
}

// quickstartTrainConfig is the training configuration of the quickstart:
// the defaults with fewer epochs.
func quickstartTrainConfig(seed int64, o quickstartOptions) ralm.TrainConfig {
	cfg := ralm.DefaultTrainConfig()
	cfg.UserRep.Epochs, cfg.LookAlike.Epochs = o.epochsUser, o.epochsLA
	cfg.SetSeed(seed)
	return cfg
}

func newQuickstartCmd() *cobra.Command {
	var (
		out  string
		seed int64
		opt  quickstartOptions
	)
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run the whole pipeline on a small synthetic data set",
		Long: `Run the pipeline end to end on an embedded default: generate a synthetic data set
(5,000 users, 2,000 items, about 100,000 clicks), write it as Parquet, read the
click log back and split it for evaluation; train both RALM stages on the
training part (with fewer epochs than 'ralm train') into a model folder; score
one user against a few items ('ralm score') and find the users who look most
like a fresh item's seeds ('ralm expand'). Each step prints what it made; the
whole run takes a minute or two.

Files go to --out, or to a new temporary directory that is kept (its path is
printed) so you can look at them.`,
		Example: `  ralm quickstart
  ralm quickstart --out /tmp/ralm-demo --seed 7
  ralm quickstart --users 20000 --epochs-user 10 --epochs-la 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, err := range []error{
				mustBePositive("users", opt.users),
				mustBePositive("epochs-user", opt.epochsUser),
				mustBePositive("epochs-la", opt.epochsLA),
			} {
				if err != nil {
					return err
				}
			}
			if opt.users < 100 {
				return fmt.Errorf("--users must be at least 100, got %d", opt.users)
			}
			if out == "" {
				d, err := os.MkdirTemp("", "ralm-quickstart-")
				if err != nil {
					return fmt.Errorf("create temporary directory: %w", err)
				}
				out = d
			} else if err := checkOutputs(cmd); err != nil {
				return err
			} else if err := checkModelOut(filepath.Join(out, quickstartModelDir)); err != nil {
				return err
			} else if err := makeOutDir(out); err != nil {
				return err
			}
			s := &quickstartState{ctx: cmd.Context(), cmd: cmd, dir: out, seed: seed, opt: opt}
			w := summaryOut(cmd)
			fmt.Fprintf(w, "ralm quickstart: files in %s\n", out)
			steps := quickstartSteps()
			for i, st := range steps {
				if err := s.ctx.Err(); err != nil {
					return err
				}
				fmt.Fprintf(w, "\n[%d/%d] %s\n", i+1, len(steps), st.name)
				if err := st.run(s); err != nil {
					return fmt.Errorf("%s: %w", st.name, err)
				}
			}
			fmt.Fprintf(w, "\ndone: files in %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output directory (default: a new temporary directory)")
	cmd.Flags().IntVar(&opt.users, "users", quickstartUsers, "synthetic users (items: 2/5 as many)")
	cmd.Flags().IntVar(&opt.epochsUser, "epochs-user", quickstartEpochsUser, "epochs of the user model")
	cmd.Flags().IntVar(&opt.epochsLA, "epochs-la", quickstartEpochsLA, "epochs of the look-alike model")
	addSeedFlag(cmd, &seed)
	markOutputDir(cmd, "out", clicksFile, usersFile, itemsFile, trainFile, heldoutFile, freshSeedsFile, freshHeldoutFile,
		quickstartModelDir, "train.jsonl", "expand.parquet")
	return cmd
}

func quickstartGenerate(s *quickstartState) error {
	ds, err := runSynth(s.ctx, s.cmd, quickstartConfig(s.seed, s.opt.users), s.dir, false)
	if err != nil {
		return err
	}
	s.synth = ds
	return nil
}

func quickstartSplit(s *quickstartState) error {
	c, err := data.ReadClicks(s.ctx, filepath.Join(s.dir, clicksFile), data.ReadOptions{})
	if err != nil {
		return err
	}
	s.clicks = c
	opt := split.DefaultOptions()
	opt.Seed = s.seed
	r, err := runSplit(s.ctx, s.cmd, c, opt, s.dir, false)
	if err != nil {
		return err
	}
	s.split = r
	return nil
}

// quickstartModelDir is the model folder's name inside the quickstart's
// directory.
const quickstartModelDir = "model"

func quickstartTrain(s *quickstartState) error {
	s.modelDir = filepath.Join(s.dir, quickstartModelDir)
	if err := checkModelOut(s.modelDir); err != nil {
		return err
	}
	in := ralm.TrainData{Clicks: s.split.Train, Users: s.synth.Users, Items: s.synth.Items}
	t, err := trainStages(s.cmd, in, quickstartTrainConfig(s.seed, s.opt), 0, filepath.Join(s.dir, "train.jsonl"), trainRun{})
	if err != nil {
		return err
	}
	b, err := writeModel(s.cmd, s.modelDir, t)
	if err != nil {
		return err
	}
	if err := printTrainSummary(s.cmd, t, b, s.modelDir); err != nil {
		return err
	}
	fmt.Fprintf(summaryOut(s.cmd), "training log: %s\n", filepath.Join(s.dir, "train.jsonl"))
	// Reopen the folder as score, expand and serve do: it is self-contained.
	if s.model, err = bundle.Open(s.ctx, s.modelDir); err != nil {
		return err
	}
	return nil
}

// userCommunity returns the planted community of a user id, or -1.
func (s *quickstartState) userCommunity(id string) int32 {
	if u, ok := s.synth.Clicks.Users.Index(id); ok {
		return s.synth.UserCommunity[u]
	}
	return -1
}

// itemCommunity returns the planted community of an item id, or -1.
func (s *quickstartState) itemCommunity(id string) int32 {
	if i, ok := s.synth.Clicks.Items.Index(id); ok {
		return s.synth.ItemCommunity[i]
	}
	return -1
}

// quickstartScore scores one user against warm items of the user's own
// community and of others, an item with few seeds (cold) and a fresh item
// the model has never seen (unknown_item).
func quickstartScore(s *quickstartState) error {
	b, tr := s.model, s.split.Train
	// clickers per item and the items of each user in the training clicks
	clickers := make([]int, tr.Items.Len())
	seen := map[[2]int32]bool{}
	for k := range tr.User {
		if key := [2]int32{tr.User[k], tr.Item[k]}; !seen[key] {
			seen[key] = true
			clickers[tr.Item[k]]++
		}
	}
	// the first user (in id order of the model) with an embedding and a community
	user := b.Embeddings.Users.ID(0)
	uc := s.userCommunity(user)
	uidx, _ := tr.Users.Index(user)
	clicked := map[int32]bool{}
	for k, u := range tr.User {
		if u == uidx {
			clicked[tr.Item[k]] = true
		}
	}
	// warm items by popularity, not clicked by the user
	warm := slices.Clone(s.split.WarmItems)
	slices.SortStableFunc(warm, func(a, b int32) int { return cmp.Compare(clickers[b], clickers[a]) })
	var items []string
	same, other := 0, 0
	for _, it := range warm {
		if clicked[it] {
			continue
		}
		id := tr.Items.ID(it)
		if c := s.itemCommunity(id); c == uc && same < 3 {
			items, same = append(items, id), same+1
		} else if c != uc && other < 3 {
			items, other = append(items, id), other+1
		}
	}
	for it, n := range clickers {
		if n > 0 && n < bundle.DefaultMinSeeds && !clicked[int32(it)] {
			items = append(items, tr.Items.ID(int32(it)))
			break
		}
	}
	if len(s.split.FreshItems) > 0 {
		items = append(items, tr.Items.ID(s.split.FreshItems[0]))
	}
	res, err := offline.ScoreItems(s.ctx, b, user, items, offline.Options{})
	if err != nil {
		return err
	}
	w := summaryOut(s.cmd)
	fmt.Fprintf(w, "user %s (planted community %d); the same as: ralm score --model %s --user %s --items ...\n", user, uc, s.modelDir, user)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  item_id\tcommunity\tseeds\tscore\tstatus\n")
	for _, r := range res {
		c := s.itemCommunity(r.ItemID)
		mark := ""
		if c == uc {
			mark = " (same)"
		}
		seeds, score := 0, "-"
		if it, ok := tr.Items.Index(r.ItemID); ok {
			seeds = clickers[it]
		}
		if r.Status != bundle.StatusUnknownItem {
			score = fmt.Sprintf("%.4f", r.Score)
		}
		fmt.Fprintf(tw, "  %s\t%d%s\t%d\t%s\t%s\n", r.ItemID, c, mark, seeds, score, r.Status)
	}
	return tw.Flush()
}

// quickstartExpandN is the audience size of the quickstart's expansion.
const quickstartExpandN = 100

// quickstartExpand expands the fresh item with the most seeds: the model
// never saw it, its seeds come from fresh_seeds.parquet, and its held-out
// clickers (fresh_heldout.parquet) show how many the expansion finds.
func quickstartExpand(s *quickstartState) error {
	w := summaryOut(s.cmd)
	r := s.split
	if len(r.FreshItems) == 0 {
		fmt.Fprintln(w, "no fresh item in this split: nothing to expand")
		return nil
	}
	seedsOf := func(c *data.Clicks) map[int32][]string {
		m := map[int32][]string{}
		for k, it := range c.Item {
			m[it] = append(m[it], c.Users.ID(c.User[k]))
		}
		return m
	}
	fs, fh := seedsOf(r.FreshSeeds), seedsOf(r.FreshHeldout)
	item := r.FreshItems[0]
	for _, it := range r.FreshItems {
		if len(fs[it]) > len(fs[item]) {
			item = it
		}
	}
	id := r.FreshSeeds.Items.ID(item)
	e, err := offline.Expand(s.ctx, s.model, fs[item], quickstartExpandN, offline.Options{})
	if err != nil {
		return err
	}
	out := filepath.Join(s.dir, "expand.parquet")
	if err := e.WriteContext(s.ctx, out); err != nil {
		return err
	}
	ic := s.itemCommunity(id)
	hidden := map[string]bool{}
	for _, u := range fh[item] {
		hidden[u] = true
	}
	found, sameComm := 0, 0
	for _, u := range e.Users {
		if hidden[u.UserID] {
			found++
		}
		if s.userCommunity(u.UserID) == ic {
			sameComm++
		}
	}
	cands := s.model.Embeddings.Users.Len() - e.Seeds
	fmt.Fprintf(w, "fresh item %s (planted community %d): %d seeds from %s, scored %s\n", id, ic, e.Seeds, freshSeedsFile, e.Status)
	fmt.Fprintf(w, "top %d of %d users: %d of the item's %d hidden clickers (random: %.1f), %d in its community\n",
		len(e.Users), cands, found, len(hidden), float64(len(hidden)*len(e.Users))/float64(max(cands, 1)), sameComm)
	fmt.Fprintf(w, "wrote %s; the same as: ralm expand --model %s --seeds %s --item %s --n %d --out %s\n",
		out, s.modelDir, filepath.Join(s.dir, freshSeedsFile), id, quickstartExpandN, out)
	return nil
}

// quickstartEvaluate evaluates the trained model folder on the split, as
// 'ralm eval --model DIR --split DIR' does, and prints the table.
func quickstartEvaluate(s *quickstartState) error {
	var bar *progress
	defer func() { bar.Finish() }()
	res, _, err := eval.RunModel(s.ctx, s.modelDir, s.dir, eval.Options{Progress: func(done, total int) {
		if bar == nil {
			bar = newProgress(s.ctx, s.cmd, int64(total), "evaluating items")
		}
		bar.Set(int64(done))
	}})
	if err != nil {
		return err
	}
	bar.Finish()
	w := summaryOut(s.cmd)
	if err := eval.NewReport(res, nil, nil).WriteTable(w); err != nil {
		return err
	}
	fmt.Fprintln(w, "AUC: how well each model ranks an item's held-out clickers above other users (0.5 = chance).")
	return nil
}
