package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/synth"
)

// Names of the files ralm synth writes.
const (
	clicksFile = "clicks.parquet"
	usersFile  = "users.parquet"
	itemsFile  = "items.parquet"
)

func newSynthCmd() *cobra.Command {
	cfg := synth.DefaultConfig()
	var out string
	cmd := &cobra.Command{
		Use:   "synth --out DIR",
		Short: "Generate a synthetic click log with planted communities",
		Long: `Generate a synthetic data set with planted structure and write it as Parquet:

  DIR/clicks.parquet  user_id, item_id, ts (timestamp[s, UTC])
  DIR/users.parquet   user_id, age (float64), gender (string), region (int64),
                      interests (list<string>)
  DIR/items.parquet   item_id, category (string), tags (list<string>)

Users belong to latent interest communities that shape their demographics and
clicks; items belong to communities, have power-law popularity with a long tail
and appear over time (no click precedes its item). The same flags give the same
files.`,
		Example: `  ralm synth --out data
  ralm synth --users 1000000 --items 100000 --clicks-per-user 10 --communities 50 --out big`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkSynthFlags(cfg); err != nil {
				return err
			}
			if err := checkOutputs(cmd); err != nil {
				return err
			}
			_, err := runSynth(cmd.Context(), cmd, cfg, out, true)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Users, "users", cfg.Users, "number of users")
	f.IntVar(&cfg.Items, "items", cfg.Items, "number of items")
	f.Float64Var(&cfg.ClicksPerUser, "clicks-per-user", cfg.ClicksPerUser, "mean clicks per user")
	f.IntVar(&cfg.Communities, "communities", cfg.Communities, "number of latent interest communities")
	f.IntVar(&cfg.Days, "days", cfg.Days, "time span of the log in days")
	f.Float64Var(&cfg.Noise, "noise", cfg.Noise, "share of clicks that ignore interests, in [0,1]")
	f.Float64Var(&cfg.NewItems, "new-items", cfg.NewItems, "share of items released during the span, in [0,1)")
	f.Float64Var(&cfg.ActivitySkew, "activity-skew", cfg.ActivitySkew, "log-normal sigma of clicks per user, in [0,5] (0: the default 0.8; 2: heavy-tailed, the top 10% of users make about 70% of clicks)")
	f.BoolVar(&cfg.StringIDs, "string-ids", false, `write string ids ("u1", "i1") instead of int64`)
	addSeedFlag(cmd, &cfg.Seed)
	f.StringVar(&out, "out", "", "output directory (created if missing)")
	markReplacedDir(cmd, "out", clicksFile, usersFile, itemsFile)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func checkSynthFlags(cfg synth.Config) error {
	for _, err := range []error{
		mustBePositive("users", cfg.Users),
		mustBePositive("items", cfg.Items),
		mustBePositive("clicks-per-user", cfg.ClicksPerUser),
		mustBePositive("communities", cfg.Communities),
		mustBePositive("days", cfg.Days),
		mustBeFraction("noise", cfg.Noise),
	} {
		if err != nil {
			return err
		}
	}
	if !(cfg.NewItems >= 0 && cfg.NewItems < 1) {
		return fmt.Errorf("--new-items must be in [0,1), got %v", cfg.NewItems)
	}
	if err := cfg.Validate(); err != nil {
		return flagNames(err)
	}
	return nil
}

// flagNames rewrites synth.Config field names in an error into flag names.
func flagNames(err error) error {
	r := strings.NewReplacer(
		"ClicksPerUser", "--clicks-per-user", "Users", "--users", "Items", "--items",
		"Communities", "--communities", "Days", "--days", "NewItems", "--new-items", "Noise", "--noise",
		"ActivitySkew", "--activity-skew",
		"synth: ", "")
	return fmt.Errorf("%s", r.Replace(err.Error()))
}

// runSynth generates the data set for cfg and writes its three files to dir
// (the folder whole with replace, see writeFolder), printing a summary on
// the command's stdout.
func runSynth(ctx context.Context, cmd *cobra.Command, cfg synth.Config, dir string, replace bool) (*synth.Dataset, error) {
	log := newLogger(cmd)
	bar := newProgress(ctx, cmd, int64(cfg.Users), "generating users")
	cfg.Progress = func(done, _ int) { bar.Set(int64(done)) }
	ds, err := synth.Generate(ctx, cfg)
	bar.Finish()
	if err != nil {
		return nil, err
	}
	log.Info("generated", "users", cfg.Users, "items", cfg.Items, "clicks", ds.Clicks.Len(), "seed", cfg.Seed)
	if err := writeDataset(ctx, cmd, ds, dir, replace); err != nil {
		return nil, err
	}
	printDatasetSummary(summaryOut(cmd), ds, dir)
	return ds, nil
}

func writeDataset(ctx context.Context, cmd *cobra.Command, ds *synth.Dataset, dir string, replace bool) error {
	log := newLogger(cmd)
	bar := newProgress(ctx, cmd, int64(ds.Clicks.Len()+ds.Users.Rows()+ds.Items.Rows()), "writing "+clicksFile)
	defer bar.Finish()
	rows := bar.rows()
	writes := []struct {
		name  string
		write func(path string) error
	}{
		{clicksFile, func(p string) error {
			return data.WriteClicks(ctx, p, ds.Clicks, rows.write("writing "+clicksFile))
		}},
		{usersFile, func(p string) error {
			return data.WriteTable(ctx, p, data.ColUserID, ds.Users, rows.write("writing "+usersFile))
		}},
		{itemsFile, func(p string) error {
			return data.WriteTable(ctx, p, data.ColItemID, ds.Items, rows.write("writing "+itemsFile))
		}},
	}
	return writeFolder(ctx, cmd, dir, replace, func(d string) error {
		for _, w := range writes {
			if err := ctx.Err(); err != nil {
				return err
			}
			bar.Describe("writing " + w.name)
			if err := w.write(filepath.Join(d, w.name)); err != nil {
				return err
			}
			log.Info("wrote", "file", filepath.Join(dir, w.name))
		}
		return nil
	})
}

func printDatasetSummary(w io.Writer, ds *synth.Dataset, dir string) {
	names := func(t *data.Table) string {
		var s []string
		for _, c := range t.Columns {
			s = append(s, c.Name)
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintf(w, "wrote %s: %d clicks by %d users on %d items over %d days\n",
		filepath.Join(dir, clicksFile), ds.Clicks.Len(), ds.Clicks.Users.Len(), ds.Clicks.Items.Len(), ds.Config.Days)
	fmt.Fprintf(w, "wrote %s: %d users (%s)\n", filepath.Join(dir, usersFile), ds.Users.Rows(), names(ds.Users))
	fmt.Fprintf(w, "wrote %s: %d items (%s)\n", filepath.Join(dir, itemsFile), ds.Items.Rows(), names(ds.Items))
}
