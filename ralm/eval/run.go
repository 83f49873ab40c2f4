package eval

import (
	"context"
	"errors"
	"fmt"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm"
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
}

// Scorers builds the protocol's models, in report order (activity, centroid,
// knn, itemvec, ralm-avg, ralm), over the protocol's user and item
// vocabularies (users and items). Models that are nil are left out.
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
	for _, la := range []struct {
		name  string
		model *lookalike.Model
	}{{"ralm-avg", m.Avg}, {"ralm", m.RALM}} {
		if la.model == nil {
			continue
		}
		if la.model.Dim() != d {
			return nil, fmt.Errorf("scorers: %s model takes width %d, embeddings have %d", la.name, la.model.Dim(), d)
		}
		out = append(out, LookAlike{ModelName: la.name, Model: la.model, Emb: emb})
	}
	return out, nil
}

// RunConfig configures an end-to-end evaluation.
type RunConfig struct {
	Split split.Options
	Train ralm.TrainConfig // WithAvg is forced on: the report has ralm-avg
}

// Run splits the clicks by the protocol, trains every model on the training
// part only, and evaluates them on the warm and fresh items.
func Run(ctx context.Context, in ralm.TrainData, cfg RunConfig, topt ralm.TrainOptions, eopt Options) (*Result, *split.Result, *ralm.Trained, error) {
	sp, err := split.Split(in.Clicks, cfg.Split)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eval: split: %w", err)
	}
	p, err := BuildProtocol(sp.Train, sp.Heldout, sp.FreshSeeds, sp.FreshHeldout, sp.WarmItems)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eval: %w", err)
	}
	tcfg := cfg.Train
	tcfg.WithAvg = true
	tr, err := ralm.Train(ctx, ralm.TrainData{Clicks: sp.Train, Users: in.Users, Items: in.Items}, tcfg, topt)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eval: %w", err)
	}
	sc, err := Scorers(p, sp.Train.Users, sp.Train.Items, Models{User: tr.User, Embeddings: tr.Embeddings, RALM: tr.LookAlike, Avg: tr.Avg})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eval: %w", err)
	}
	res, err := Evaluate(ctx, p.Universe, p.Cases, sc, eopt)
	if err != nil {
		return nil, nil, nil, err
	}
	return res, sp, tr, nil
}
