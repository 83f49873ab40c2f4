package main

// ralm train userrep and ralm embed: the user representation model.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/atomicfile"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/userrep"
)

// Files ralm train userrep writes into its --out directory.
const (
	userrepModelFile  = "userrep.model"
	userrepReportFile = "userrep_report.json"
)

// userrepInputs are the --clicks, --users and --items flags.
type userrepInputs struct{ clicks, users, items string }

func (in *userrepInputs) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&in.clicks, "clicks", "", "click log (Parquet or Arrow IPC) with user_id, item_id, ts")
	f.StringVar(&in.users, "users", "", "optional users table keyed by user_id")
	f.StringVar(&in.items, "items", "", "optional items table keyed by item_id")
	_ = cmd.MarkFlagRequired("clicks")
}

// read reads the click log (with a progress bar) and the optional users
// and items tables.
func (in *userrepInputs) read(cmd *cobra.Command) (ralm.TrainData, error) {
	bar := newProgress(cmd.Context(), cmd, 1, "reading "+filepath.Base(in.clicks))
	clicks, err := data.ReadClicks(cmd.Context(), in.clicks, data.ReadOptions{})
	bar.Finish()
	if err != nil {
		return ralm.TrainData{}, err
	}
	users, items, err := in.readTables(cmd)
	if err != nil {
		return ralm.TrainData{}, err
	}
	if err := checkTablesMatch(cmd, *in, clicks, users, items); err != nil {
		return ralm.TrainData{}, err
	}
	return ralm.TrainData{Clicks: clicks, Users: users, Items: items}, nil
}

// readTables reads the optional users and items tables.
func (in *userrepInputs) readTables(cmd *cobra.Command) (users, items *data.Table, err error) {
	ctx := cmd.Context()
	if in.users != "" {
		if users, err = data.ReadTable(ctx, in.users, data.ColUserID, data.TableOptions{}); err != nil {
			return nil, nil, err
		}
	}
	if in.items != "" {
		if items, err = data.ReadTable(ctx, in.items, data.ColItemID, data.TableOptions{}); err != nil {
			return nil, nil, err
		}
	}
	return users, items, nil
}

func newTrainUserrepCmd() *cobra.Command {
	var (
		in      userrepInputs
		out     string
		logPath string
		cfg     = userrep.DefaultConfig()
		threads int
	)
	cmd := &cobra.Command{
		Use:   "userrep --clicks FILE [--users FILE] [--items FILE] --out DIR",
		Short: "Train the user representation model (YouTube DNN with an attention merge)",
		Long: `Train the first RALM stage: a YouTube-DNN-style model that turns each user's
fields (the bag of clicked items, bags of item attributes over those clicks, and
every users-table column) into one embedding. Each field is embedded and
mean-pooled (or, for a float column, passed through a dense layer), merged by the
attention merge layer (--merge attention, after a per-field dense layer), by
concatenation (--merge concat, the YouTube-DNN baseline) or by an attention-
weighted concatenation (--merge gated), and fed to an MLP
(--dim → 128 ReLU → 64 linear). The loss is a sampled softmax over items with
--negatives log-uniform negatives; a click's item is removed from the inputs of
the example that predicts it.

The last click of every user with at least 3 distinct clicked items is held out;
training stops when its AUC (the share of unclicked items the model ranks below
it) has not improved for --patience epochs and keeps the best epoch. The same data, flags, --seed and --threads give a byte-identical model
(--threads N: data-parallel workers, default 0: every core).

Writes DIR/userrep.model (config, vocabularies, feature encoding, all weights and
a checksum) and DIR/userrep_report.json (per-epoch loss and held-out metrics).
--log writes one JSON object per line: {"type":"step",...} for every step and
{"type":"epoch",...} for every epoch.`,
		Example: `  ralm train userrep --clicks data/clicks.parquet --users data/users.parquet \
      --items data/items.parquet --out model
  ralm train userrep --clicks split/train.parquet --out model --merge concat \
      --epochs 30 --log train.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			if in.clicks == "" {
				return errors.New("--clicks must not be empty")
			}
			if threads < 0 {
				return fmt.Errorf("--threads must not be negative, got %d", threads)
			}
			if err := checkOutputs(cmd); err != nil {
				return err
			}
			if err := makeOutDir(out); err != nil {
				return err
			}
			return runTrainUserrep(cmd, &in, cfg, out, logPath, threads)
		},
	}
	in.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output directory (created if missing)")
	f.StringVar(&logPath, "log", "", "write a JSON-lines training log to this file")
	f.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "maximum number of epochs")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "examples per step")
	addUserModelFlags(cmd, &cfg, "")
	f.IntVar(&cfg.MaxPositivesPerUser, "max-positives", cfg.MaxPositivesPerUser, "at most this many positives per user per epoch")
	f.Var(&cfg.FieldFC, "field-fc", "per-field dense layer before the merge: none, linear, tanh or relu")
	f.IntVar(&cfg.AttDim, "att-dim", cfg.AttDim, "attention layer width k_att")
	f.IntVar(&cfg.Heads, "heads", cfg.Heads, "attention heads (their merged vectors are concatenated)")
	f.Float64Var(&cfg.Temperature, "temperature", cfg.Temperature, "attention softmax temperature")
	f.BoolVar(&cfg.FieldNorm, "field-norm", cfg.FieldNorm, "L2-normalise field vectors before the merge")
	f.Float64Var(&cfg.FieldDropout, "field-dropout", cfg.FieldDropout, "probability of dropping a whole field in training")
	f.BoolVar(&cfg.LogQ, "logq", cfg.LogQ, "apply the log-uniform sampling correction to the sampled softmax")
	addSeedFlag(cmd, &cfg.Seed)
	markOutputDir(cmd, "out", userrepModelFile, userrepReportFile)
	markOutputFile(cmd, "log")
	f.IntVar(&threads, "threads", 0, "data-parallel training workers (0: every core)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// runTrainUserrep reads the inputs, trains and writes the model and report.
func runTrainUserrep(cmd *cobra.Command, in *userrepInputs, cfg userrep.Config, out, logPath string, threads int) (err error) {
	ctx := cmd.Context()
	log := newLogger(cmd)
	td, err := in.read(cmd)
	if err != nil {
		return err
	}
	clicks := td.Clicks
	fs, err := data.NewFeatureSet(clicks, td.Users, td.Items)
	if err != nil {
		return err
	}
	log.Info("training user model", "users", clicks.Users.Len(), "items", clicks.Items.Len(), "clicks", clicks.Len(), "fields", len(fs.Fields()), "merge", cfg.Merge)

	var (
		m   *userrep.Model
		rep *userrep.TrainReport
	)
	err = withTrainLog(logPath, func(jl *jsonLog, bar **progress) (err error) {
		up := &urProgress{cmd: cmd, log: log, bar: bar, epochs: cfg.Epochs,
			logStep:  func(s userrep.StepStats, _ float64) { jl.writeTyped("step", s) },
			logEpoch: func(e userrep.EpochStats) { jl.writeTyped("epoch", e) },
		}
		opts := up.options()
		opts.Threads = threads
		m, rep, err = userrep.Train(ctx, fs, clicks, cfg, opts)
		return err
	})
	if err != nil {
		return err
	}
	modelPath := filepath.Join(out, userrepModelFile)
	if err := m.Save(modelPath); err != nil {
		return err
	}
	rj, err := json.MarshalIndent(struct {
		Config userrep.Config       `json:"config"`
		Fields []data.Field         `json:"fields"`
		Report *userrep.TrainReport `json:"report"`
	}{cfg, fs.Fields(), rep}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode training report: %w", err)
	}
	if err := atomicfile.WriteBytes(ctx, filepath.Join(out, userrepReportFile), append(rj, '\n')); err != nil {
		return fmt.Errorf("write training report: %w", err)
	}
	w := summaryOut(cmd)
	fmt.Fprintf(w, "trained user model: %d users, %d items, %d fields, %s merge, dim %d\n",
		clicks.Users.Len(), clicks.Items.Len(), len(fs.Fields()), cfg.Merge, m.Dim())
	best := rep.Epochs[rep.BestEpoch-1]
	stop := ""
	if rep.StoppedEarly {
		stop = ", stopped early"
	}
	fmt.Fprintf(w, "epochs: %d (best %d%s), %.0f examples/s\n", len(rep.Epochs), rep.BestEpoch, stop, float64(rep.Examples)/rep.Duration.Seconds())
	if rep.HeldOutUsers > 0 {
		fmt.Fprintf(w, "held-out AUC %.4f, recall@10 %.4f (most popular: %.4f, %.4f) over %d users\n",
			best.HeldOutAUC, best.HeldOutRecall10, rep.PopularAUC, rep.PopularRecall10, rep.HeldOutUsers)
	}
	fmt.Fprintf(w, "wrote %s and %s\n", modelPath, filepath.Join(out, userrepReportFile))
	return nil
}

func newEmbedCmd() *cobra.Command {
	var (
		in        userrepInputs
		modelPath string
		out       string
		shardFlag string
	)
	cmd := &cobra.Command{
		Use:   "embed --model DIR --clicks FILE [--users FILE] --out FILE [--shard i/N]",
		Short: "Write the user embeddings of a trained user model",
		Long: `Embed every user with at least one click in --clicks, from all of the user's
clicks, with the user model in --model (a directory written by 'ralm train
userrep', or the model file itself). Clicks on items the model was not trained on
are ignored. --users replaces the training users table (columns are matched by
name and encoded with the training vocabularies); item attributes always come
from the model, so --items is only accepted for symmetry with training.

Writes a Parquet (or, for .arrow/.ipc/.feather, Arrow IPC) file with columns
user_id and embedding (fixed_size_list<float32>), one row per user. The same
model and input give a byte-identical file.

--shard i/N embeds only shard i of N (users split into N contiguous ranges, on
multiples of 64 users, of their order of first appearance in --clicks): --out
is then a folder and the shard writes its part in it
(part-00002-of-00004.parquet for 2/4). The N shards are independent (run them
on any machines against the same inputs); 'ralm train lookalike --embeddings
DIR' reads the folder as one data set, whose rows are those of the unsharded
file, in order, bit for bit.`,
		Example: `  ralm embed --model model --clicks data/clicks.parquet --users data/users.parquet \
      --out embeddings.parquet
  ralm embed --model model --clicks data/clicks.parquet --out emb --shard 0/4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.clicks == "" || modelPath == "" || out == "" {
				return errors.New("--model, --clicks and --out must not be empty")
			}
			sh, err := parseShard(shardFlag)
			if err != nil {
				return err
			}
			if sh.N > 1 { // a folder of parts
				markOutputDir(cmd, "out", "part-*")
			}
			if err := checkOutputs(cmd); err != nil {
				return err
			}
			return runEmbed(cmd, &in, modelPath, out, sh)
		},
	}
	in.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&modelPath, "model", "", "model directory (or "+userrepModelFile+" file)")
	f.StringVar(&out, "out", "", "embeddings file to write (a folder of parts with --shard)")
	f.StringVar(&shardFlag, "shard", "", "embed only shard `i/N` of the users and write it as a part in the --out folder")
	markOutputFile(cmd, "out")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// runEmbed loads the model, embeds the users of the click log and writes them.
func runEmbed(cmd *cobra.Command, in *userrepInputs, modelPath, out string, sh shard) error {
	ctx := cmd.Context()
	log := newLogger(cmd)
	if st, err := os.Stat(modelPath); err == nil && st.IsDir() {
		modelPath = filepath.Join(modelPath, userrepModelFile)
	}
	m, err := userrep.Load(modelPath)
	if err != nil {
		return err
	}
	fs, ok := m.Features().(*data.FeatureSet)
	if !ok {
		return fmt.Errorf("model %s has no feature set: it was not trained by ralm", modelPath)
	}
	users, items, err := in.readTables(cmd)
	if err != nil {
		return err
	}
	if users != nil {
		if fs, err = fs.WithUsers(users); err != nil {
			return err
		}
	}
	if items != nil {
		log.Warn("--items is ignored: item attributes come from the model's training items table", "items", in.items)
	}
	bar := newProgress(ctx, cmd, 1, "reading "+filepath.Base(in.clicks))
	// a copy of the model's item vocabulary: known items keep their index
	clicks, err := data.ReadClicks(ctx, in.clicks, data.ReadOptions{Items: m.Items().Clone()})
	bar.Finish()
	if err != nil {
		return err
	}
	if err := checkTablesMatch(cmd, *in, clicks, users, nil); err != nil {
		return err
	}
	if unknown := clicks.Items.Len() - m.Items().Len(); unknown > 0 {
		log.Warn("clicks on items the model does not know are ignored", "unknown_items", unknown)
	}
	bar = newProgress(ctx, cmd, 1, "embedding users")
	emb, err := m.EmbedUsersWith(ctx, fs, sh.filter(clicks))
	bar.Finish()
	if err != nil {
		return err
	}
	if sh.N > 1 {
		if err := os.MkdirAll(out, atomicfile.DirMode); err != nil {
			return fmt.Errorf("--out %s: %w", out, err)
		}
		out = filepath.Join(out, data.PartName(sh.I, sh.N, ".parquet"))
	}
	removeStale(cmd, out)
	bar = newProgress(ctx, cmd, int64(emb.Users.Len()), "writing "+out)
	err = data.WriteEmbeddings(ctx, out, emb.Users, emb.Dim, emb.Vecs, bar.rows().write("writing "+out))
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(summaryOut(cmd), "embedded %d users (dim %d) into %s\n", emb.Users.Len(), emb.Dim, out)
	return nil
}

// writeTyped appends v, which must encode as a JSON object, as one line
// with a leading "type" member (the records of ralm train userrep's log);
// the first error is kept for close.
func (l *jsonLog) writeTyped(typ string, v any) {
	if l == nil || l.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil && (len(b) < 2 || b[0] != '{') {
		err = fmt.Errorf("log record %T is not a JSON object", v)
	}
	if err != nil {
		l.err = err
		return
	}
	t, _ := json.Marshal(typ)
	line := append([]byte(`{"type":`), t...)
	if len(b) > 2 {
		line = append(line, ',')
	}
	l.write(json.RawMessage(append(line, b[1:]...)))
}
