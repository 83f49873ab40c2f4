package eval

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/lookalike/coldstart"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/userrep"
)

// Models are the trained models an evaluation scores with, besides the
// activity baseline: the user model (for itemvec), the user embeddings (for
// centroid, knn and the look-alike models) and the look-alike models.
type Models struct {
	User       *userrep.Model   // optional: itemvec needs it
	Embeddings *data.Embeddings // required
	RALM       *lookalike.Model // optional
	Avg        *lookalike.Model // optional: ralm-avg
	ColdStart  *coldstart.Model // optional: ralm-features (zero-seed cases)
}

// Scorers builds the protocol's models, in report order (activity, centroid,
// knn, itemvec, ralm-avg, ralm-paper, ralm), over the protocol's user and item
// vocabularies (users and items). Models that are nil are left out;
// ralm-paper (the RALM model without its propensity term: the paper's
// score) is there only when the RALM model has the term.
func Scorers(p *Protocol, users, items *data.Vocab, m Models) ([]Scorer, error) {
	if m.Embeddings == nil {
		return nil, errors.New("scorers: no user embeddings")
	}
	d := m.Embeddings.Dim
	emb := make([]float32, users.Len()*d)
	for _, u := range p.Universe.Known {
		r, ok := m.Embeddings.Users.Index(users.ID(u))
		if !ok {
			return nil, fmt.Errorf("scorers: known user %s has no embedding", users.ID(u))
		}
		copy(emb[int(u)*d:], m.Embeddings.Vecs[int(r)*d:(int(r)+1)*d])
	}
	vec, err := NewVectors(emb, d)
	if err != nil {
		return nil, fmt.Errorf("scorers: %w", err)
	}
	out := []Scorer{Activity{Clicks: p.TrainClicks}, Centroid{Vectors: vec}, KNN{Vectors: vec, K: 10}}
	if m.User != nil {
		if m.User.Dim() != d {
			return nil, fmt.Errorf("scorers: user model width %d, embeddings width %d", m.User.Dim(), d)
		}
		src, iv := m.User.Items(), m.User.ItemVectors()
		rows := make([]float32, items.Len()*d)
		for i := 0; i < items.Len(); i++ {
			if r, ok := src.Index(items.ID(int32(i))); ok {
				copy(rows[i*d:], iv[int(r)*d:(int(r)+1)*d])
			}
		}
		out = append(out, ItemVec{Users: emb, Items: rows, Dim: d})
	}
	type named struct {
		name           string
		model, builder *lookalike.Model
	}
	las := []named{{"ralm-avg", m.Avg, nil}}
	if m.RALM != nil && m.RALM.HasPropensity() {
		// the same model, the paper's score, over the same item states
		las = append(las, named{"ralm-paper", m.RALM.Paper(), m.RALM})
	}
	las = append(las, named{"ralm", m.RALM, nil})
	for _, la := range las {
		if la.model == nil {
			continue
		}
		if la.model.Dim() != d {
			return nil, fmt.Errorf("scorers: %s model takes width %d, embeddings have %d", la.name, la.model.Dim(), d)
		}
		out = append(out, LookAlike{ModelName: la.name, Model: la.model, Builder: la.builder, Emb: emb, TieRank: p.Universe.TieRank})
	}
	if m.ColdStart != nil {
		if m.ColdStart.Dim() != d {
			return nil, fmt.Errorf("scorers: cold-start model takes width %d, embeddings have %d", m.ColdStart.Dim(), d)
		}
		out = append(out, ColdStart{Model: m.ColdStart, Emb: emb})
	}
	return out, nil
}

// RunConfig configures an end-to-end evaluation.
type RunConfig struct {
	Split split.Options
	// Train configures the pipeline; WithAvg is set from NoAvg.
	Train ralm.TrainConfig
	// NoAvg leaves out the ralm-avg row: the avg-pooling look-alike model
	// is not trained, so the look-alike stage is trained once, not twice
	// (for large logs). By default the report has ralm-avg.
	NoAvg bool
}

// TrainFunc trains the pipeline on a split's training part; ralm.Train with
// progress callbacks, typically.
type TrainFunc func(ctx context.Context, in ralm.TrainData, cfg ralm.TrainConfig) (*ralm.Trained, error)

// Run splits the clicks by the protocol, trains every model on the training
// part only (with train, or ralm.Train without progress when nil), and
// evaluates them on the warm and fresh items.
func Run(ctx context.Context, in ralm.TrainData, cfg RunConfig, train TrainFunc, eopt Options) (*Result, *split.Result, *ralm.Trained, error) {
	if train == nil {
		train = func(ctx context.Context, in ralm.TrainData, cfg ralm.TrainConfig) (*ralm.Trained, error) {
			return ralm.Train(ctx, in, cfg, ralm.TrainOptions{})
		}
	}
	sp, err := split.Split(in.Clicks, cfg.Split)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eval: split: %w", err)
	}
	p, err := BuildProtocol(sp.Train, sp.Heldout, sp.FreshSeeds, sp.FreshHeldout, sp.WarmItems)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eval: %w", err)
	}
	tcfg := cfg.Train
	tcfg.WithAvg = !cfg.NoAvg
	// Train on the training clicks alone, vocabularies included (sp.Train
	// shares the whole log's, with fresh and held-out-only ids): the same
	// models `ralm train` fits on the split's train.parquet.
	tr, err := train(ctx, ralm.TrainData{Clicks: sp.Train.Compact(), Users: in.Users, Items: in.Items}, tcfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eval: %w", err)
	}
	sc, err := Scorers(p, sp.Train.Users, sp.Train.Items, Models{User: tr.User, Embeddings: tr.Embeddings, RALM: tr.LookAlike, Avg: tr.Avg, ColdStart: tr.ColdStart})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eval: %w", err)
	}
	if in.Items != nil {
		// The zero-seed bucket: fresh items from their attributes alone,
		// with activity, the per-attribute popularity baseline and the
		// cold-start model (when trained).
		var enc *coldstart.Encoder
		if tr.ColdStart != nil {
			enc = tr.ColdStart.Encoder()
		} else if enc, err = coldstart.NewEncoder(in.Items, 0); err != nil {
			return nil, nil, nil, fmt.Errorf("eval: zero-seed bucket: %w", err)
		}
		zc, err := ZeroSeedCases(p, sp.Train, sp.FreshSeeds, sp.FreshHeldout, enc, in.Items)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("eval: %w", err)
		}
		p.Cases = append(p.Cases, zc...)
		pop, err := NewPopularity(sp.Train, enc, in.Items)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("eval: %w", err)
		}
		sc = append(sc[:1], append([]Scorer{pop}, sc[1:]...)...) // after activity
	}
	res, err := Evaluate(ctx, p.Universe, p.Cases, sc, eopt)
	if err != nil {
		return nil, nil, nil, err
	}
	return res, sp, tr, nil
}

// Split file names written by `ralm split` and read by RunModel.
const (
	SplitTrainFile        = "train.parquet"
	SplitHeldoutFile      = "heldout.parquet"
	SplitFreshSeedsFile   = "fresh_seeds.parquet"
	SplitFreshHeldoutFile = "fresh_heldout.parquet"
)

// SplitFiles is a split read back from the files `ralm split` writes; all
// four click logs share one user and one item vocabulary.
type SplitFiles struct {
	Train, Heldout, FreshSeeds, FreshHeldout *data.Clicks
}

// ReadSplit reads the four files of a split folder.
func ReadSplit(ctx context.Context, dir string) (*SplitFiles, error) {
	train, err := data.ReadClicks(ctx, filepath.Join(dir, SplitTrainFile), data.ReadOptions{})
	if err != nil {
		return nil, err
	}
	s := &SplitFiles{Train: train}
	for _, f := range []struct {
		name string
		dst  **data.Clicks
	}{{SplitHeldoutFile, &s.Heldout}, {SplitFreshSeedsFile, &s.FreshSeeds}, {SplitFreshHeldoutFile, &s.FreshHeldout}} {
		c, err := data.ReadClicks(ctx, filepath.Join(dir, f.name), data.ReadOptions{Users: train.Users, Items: train.Items, AllowEmpty: true})
		if err != nil {
			return nil, err
		}
		*f.dst = c
	}
	return s, nil
}

// ErrFingerprint is returned by RunModel when the model was not trained on
// the split's training clicks.
var ErrFingerprint = errors.New("the model was not trained on this split's train.parquet (training-clicks fingerprints differ)")

// RunModel evaluates an already trained model folder on a split folder: the
// baselines plus the models the folder holds. It refuses a model whose
// training-clicks fingerprint differs from the split's train.parquet, so a
// report never mixes in models fitted on held-out clicks.
func RunModel(ctx context.Context, modelDir, splitDir string, opt Options) (*Result, *SplitFiles, error) {
	sf, err := ReadSplit(ctx, splitDir)
	if err != nil {
		return nil, nil, fmt.Errorf("eval: %w", err)
	}
	b, err := bundle.Open(ctx, modelDir)
	if err != nil {
		return nil, nil, fmt.Errorf("eval: %w", err)
	}
	if fp, err := b.FingerprintOf(sf.Train); err != nil || fp != b.ClicksFingerprint {
		return nil, nil, fmt.Errorf("eval: model %s, split %s: %w", modelDir, splitDir, ErrFingerprint)
	}
	warm, err := split.WarmItems(sf.Train, sf.Heldout)
	if err != nil {
		return nil, nil, fmt.Errorf("eval: %w", err)
	}
	p, err := BuildProtocol(sf.Train, sf.Heldout, sf.FreshSeeds, sf.FreshHeldout, warm)
	if err != nil {
		return nil, nil, fmt.Errorf("eval: %w", err)
	}
	sc, err := Scorers(p, sf.Train.Users, sf.Train.Items, Models{User: b.UserModel, Embeddings: b.Embeddings, RALM: b.LookAlike})
	if err != nil {
		return nil, nil, fmt.Errorf("eval: %w", err)
	}
	res, err := Evaluate(ctx, p.Universe, p.Cases, sc, opt)
	if err != nil {
		return nil, nil, err
	}
	return res, sf, nil
}
