package eval

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/ralmlab/ralm/internal/auc"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// Bucket names of the report. Warm items are also reported by seed count:
// tail (10–49 seeds), torso (50–199) and head (200+).
const (
	BucketWarm  = "warm"
	BucketFresh = "fresh"
	BucketTail  = "tail"
	BucketTorso = "torso"
	BucketHead  = "head"
)

// Buckets lists the report's buckets in display order.
var Buckets = []string{BucketWarm, BucketFresh, BucketTail, BucketTorso, BucketHead}

// SeedBucket returns the seed-count bucket of a warm item with n seeds.
func SeedBucket(n int) string {
	switch {
	case n >= 200:
		return BucketHead
	case n >= 50:
		return BucketTorso
	default:
		return BucketTail
	}
}

// Universe is the set of users an evaluation scores.
type Universe struct {
	// Known lists the known users (at least one training click).
	Known []int32
	// TieRank gives, per user index, the user's position in ascending
	// external-id order; recall@K orders tied scores by it.
	TieRank []int32
}

// ItemResult is one model's metrics on one item.
type ItemResult struct {
	Model      string
	Item       string
	Fresh      bool
	Bucket     string // seed bucket for warm items, "fresh" for fresh ones
	Seeds      int
	Positives  int
	Candidates int
	AUC        float64
	R10        float64
	R50        float64
}

// Metrics are per-item metrics averaged over the items of a bucket.
type Metrics struct {
	AUC    float64 `json:"auc"`
	R10    float64 `json:"r10"`
	R50    float64 `json:"r50"`
	NItems int     `json:"n_items"`
}

// ScoreSink receives every scored candidate of every (model, item), for
// writing the raw scores out. It is called from several goroutines, but
// never concurrently for the same (model, item).
type ScoreSink func(model string, c *Case, candidates []int32, scores []float32, positive []bool) error

// Options configures Evaluate.
type Options struct {
	Workers  int                   // items scored in parallel; 0 = GOMAXPROCS
	Sink     ScoreSink             // optional
	Progress func(done, total int) // optional; called after each item
	// Candidates, when positive, scores each item on all its positives
	// and only this many sampled negatives (see sampleNegatives for the
	// bias this brings); 0 scores every known non-seed user (exact).
	Candidates int
	Seed       int64 // seeds the negative sampling
	// MaxSeeds caps the seeds every seed-based model sees (centroid, knn
	// and the look-alike models) at each item's latest MaxSeeds (see
	// latestSeeds), the serving engine's rule; 0 means
	// bundle.DefaultMaxSeeds. Candidates still exclude every seed.
	MaxSeeds int
}

// maxSeeds is o.MaxSeeds or its default.
func (o Options) maxSeeds() int {
	if o.MaxSeeds > 0 {
		return o.MaxSeeds
	}
	return bundle.DefaultMaxSeeds
}

// Result is the outcome of an evaluation.
type Result struct {
	Models []string                      // model names in the order given
	Table  map[string]map[string]Metrics // model → bucket → metrics
	Items  []ItemResult                  // per (model, item), in case order then model order
	// Scoring says how candidates were chosen (Options.Scoring).
	Scoring string
	// MaxSeeds is the cap on the seeds the seed-based models saw per item
	// (Options.MaxSeeds or its default).
	MaxSeeds int
}

// Evaluate scores every case's candidates (known users minus the item's
// seeds, or their positives and sampled negatives with opt.Candidates) with every model and averages the per-item AUC and recall@10/50.
// Cases without a known positive are skipped. A model that cannot score a
// case (itemvec on a fresh item) gets no row for it.
func Evaluate(ctx context.Context, u Universe, cases []Case, models []Scorer, opt Options) (*Result, error) {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rows := make([][]ItemResult, len(cases))
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r, err := evaluateCase(ctx, u, &cases[i], models, opt)
				if err != nil {
					errs <- err
					cancel()
					return
				}
				rows[i] = r
				if opt.Progress != nil {
					mu.Lock()
					done++
					opt.Progress(done, len(cases))
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range cases {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	res := &Result{Table: map[string]map[string]Metrics{}, Scoring: opt.Scoring(), MaxSeeds: opt.maxSeeds()}
	for _, m := range models {
		res.Models = append(res.Models, m.Name())
	}
	for _, r := range rows {
		res.Items = append(res.Items, r...)
	}
	res.Table = Aggregate(res.Items)
	return res, nil
}

func evaluateCase(ctx context.Context, u Universe, c *Case, models []Scorer, opt Options) ([]ItemResult, error) {
	sink := opt.Sink
	candidates, positive, tie, nPos, ok := sampledCandidates(opt, u, c)
	if !ok {
		candidates, positive, tie, nPos = allCandidates(u, c)
	}
	if nPos == 0 || nPos == len(candidates) {
		return nil, nil
	}
	bucket := BucketFresh
	switch {
	case c.ZeroSeed:
		bucket = BucketZeroSeed
	case !c.Fresh:
		bucket = SeedBucket(len(c.Seeds))
	}
	scores := make([]float32, len(candidates))
	seen := *c // what the models see: the latest seeds
	seen.Seeds, seen.SeedTS = latestSeeds(c.Seeds, c.SeedTS, opt.maxSeeds())
	ctx = withItemMemo(ctx)
	var out []ItemResult
	for _, m := range models {
		if !m.Scores(c) || (c.ZeroSeed && !scoresZeroSeed(m)) {
			continue
		}
		if err := m.Score(ctx, &seen, candidates, scores); err != nil {
			return nil, fmt.Errorf("evaluate %s on item %s: %w", m.Name(), c.Item, err)
		}
		for i, s := range scores {
			if math.IsNaN(float64(s)) {
				return nil, fmt.Errorf("evaluate %s on item %s: NaN score for candidate %d", m.Name(), c.Item, candidates[i])
			}
		}
		rec, err := RecallAtK(scores, positive, tie, []int{10, 50})
		if err != nil {
			return nil, err
		}
		if sink != nil {
			if err := sink(m.Name(), c, candidates, scores, positive); err != nil {
				return nil, fmt.Errorf("evaluate %s on item %s: write scores: %w", m.Name(), c.Item, err)
			}
		}
		out = append(out, ItemResult{
			Model: m.Name(), Item: c.Item, Fresh: c.Fresh, Bucket: bucket,
			Seeds: len(c.Seeds), Positives: nPos, Candidates: len(candidates),
			AUC: auc.Labeled(scores, positive), R10: rec[0], R50: rec[1],
		})
	}
	return out, nil
}

// Aggregate averages per-item results into model → bucket → metrics; each
// item counts once. Warm items count in "warm" and in their seed bucket.
func Aggregate(items []ItemResult) map[string]map[string]Metrics {
	type acc struct {
		auc, r10, r50 float64
		n             int
	}
	sums := map[string]map[string]*acc{}
	add := func(model, bucket string, r ItemResult) {
		if sums[model] == nil {
			sums[model] = map[string]*acc{}
		}
		a := sums[model][bucket]
		if a == nil {
			a = &acc{}
			sums[model][bucket] = a
		}
		a.auc += r.AUC
		a.r10 += r.R10
		a.r50 += r.R50
		a.n++
	}
	for _, r := range items {
		if r.Bucket == BucketZeroSeed {
			add(r.Model, BucketZeroSeed, r)
			continue
		}
		if r.Fresh {
			add(r.Model, BucketFresh, r)
			continue
		}
		add(r.Model, BucketWarm, r)
		add(r.Model, r.Bucket, r)
	}
	out := map[string]map[string]Metrics{}
	for model, byBucket := range sums {
		out[model] = map[string]Metrics{}
		for b, a := range byBucket {
			n := float64(a.n)
			out[model][b] = Metrics{AUC: a.auc / n, R10: a.r10 / n, R50: a.r50 / n, NItems: a.n}
		}
	}
	return out
}

// allCandidates lists every known user who is not a seed of c, in Known
// order, whether each is a positive, its tie rank, and the number of
// positives among them.
func allCandidates(u Universe, c *Case) (candidates []int32, positive []bool, tie []int32, nPos int) {
	isSeed := make(map[int32]bool, len(c.Seeds))
	for _, s := range c.Seeds {
		isSeed[s] = true
	}
	isPos := make(map[int32]bool, len(c.Positives))
	for _, p := range c.Positives {
		isPos[p] = true
	}
	candidates = make([]int32, 0, len(u.Known))
	positive = make([]bool, 0, len(u.Known))
	tie = make([]int32, 0, len(u.Known))
	for _, k := range u.Known {
		if isSeed[k] {
			continue
		}
		candidates = append(candidates, k)
		positive = append(positive, isPos[k])
		tie = append(tie, u.TieRank[k])
		if isPos[k] {
			nPos++
		}
	}
	return candidates, positive, tie, nPos
}

// latestSeeds returns the seeds a seed-based model sees, and their times:
// all of seeds when there are at most max, else the latest max of them, in
// their order in seeds. Latest is by time (ts; nil means seeds are oldest
// first), ties broken by the place in seeds (click-log order). This is the
// serving engine's rule: it imports the training clicks oldest first
// (stable in click-log order) and keeps each item's latest MaxSeeds
// distinct users, a user's place being its first click. seeds must be
// distinct.
func latestSeeds(seeds []int32, ts []int64, max int) ([]int32, []int64) {
	if len(seeds) <= max {
		return seeds, ts
	}
	order := make([]int, len(seeds))
	for i := range order {
		order[i] = i
	}
	if ts != nil {
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ts[a], ts[b]) })
	}
	keep := order[len(order)-max:]
	slices.Sort(keep)
	out := make([]int32, len(keep))
	var outTS []int64
	if ts != nil {
		outTS = make([]int64, len(keep))
	}
	for i, j := range keep {
		out[i] = seeds[j]
		if ts != nil {
			outTS[i] = ts[j]
		}
	}
	return out, outTS
}
