package main

// The model flags that several commands share: one definition of each
// user-model and look-alike flag, its name and its help.

import (
	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/userrep"
)

// addUserModelFlags registers the user-model flags of ralm train and ralm
// train userrep (--dim, --hidden, --negatives, --merge, --patience), bound to
// cfg; help prefixes every help text ("user model: " where the command
// trains both stages).
func addUserModelFlags(cmd *cobra.Command, cfg *userrep.Config, help string) {
	fl := cmd.Flags()
	fl.IntVar(&cfg.Dim, "dim", cfg.Dim, help+"field embedding dimension m")
	fl.IntSliceVar(&cfg.Hidden, "hidden", cfg.Hidden, help+"MLP layer sizes; the last is the user embedding size")
	fl.IntVar(&cfg.Negatives, "negatives", cfg.Negatives, help+"sampled negatives per positive")
	fl.Var(&cfg.Merge, "merge", help+"field merge: attention (the paper's layer), concat (YouTube DNN) or gated (attention-weighted concatenation)")
	fl.IntVar(&cfg.Patience, "patience", cfg.Patience, help+"stop after this many epochs without a better held-out AUC (0: never)")
}

// addLookAlikeFlags registers the look-alike flags of ralm train and ralm
// train lookalike (--pooling, --propensity, --k, --hidden, --negatives,
// --min-clickers), bound to cfg. suffix is appended to the names that clash
// with user-model flags (--hidden, --negatives: "-la" where the command
// trains both stages) and help prefixes every help text.
func addLookAlikeFlags(cmd *cobra.Command, cfg *lookalike.Config, suffix, help string) {
	fl := cmd.Flags()
	fl.Var(&cfg.Pooling, "pooling", help+"attention or avg (average of the centroids)")
	addPropensityFlag(cmd, &cfg.Propensity, help)
	fl.IntVar(&cfg.K, "k", cfg.K, help+"seed clusters per item")
	fl.IntVar(&cfg.Hidden, "hidden"+suffix, 0, help+"width of the shared transform (0: the user embedding size)")
	fl.IntVar(&cfg.Negatives, "negatives"+suffix, cfg.Negatives, help+"random non-clickers per positive")
	fl.IntVar(&cfg.MinClickers, "min-clickers", cfg.MinClickers, help+"items with fewer clickers are not trained on")
}
