package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
)

// ErrUnavailable matches the errors of a Replica whose shared store (Redis)
// does not answer: writes are refused (the HTTP layer answers 503) while
// reads keep answering from the replica's in-memory state.
var ErrUnavailable = errors.New("ralm: the shared store (Redis) is unavailable")

// Defaults for ReplicaOptions.
const (
	// DefaultAudienceUsers bounds the local copy of user vectors that the
	// audience scan of a Replica reads.
	DefaultAudienceUsers = 1_000_000
	// DefaultAudienceRefresh is how long that copy is reused before the
	// next audience request reloads it.
	DefaultAudienceRefresh = 30 * time.Second
)

// ReplicaOptions configure a Replica. Zero values select the defaults.
type ReplicaOptions struct {
	// Redis says how to reach the shared state (required).
	Redis redisstore.Config
	// Workers is the number of re-cluster workers this replica runs in the
	// consumer group (0: a pure reader; another replica must run workers).
	Workers int
	// MaxSeeds, MinSeeds and ReclusterInterval are as in Options (the
	// workers of every replica on one Redis must agree on them).
	MaxSeeds          int
	MinSeeds          int
	ReclusterInterval time.Duration
	// ClaimIdle is how long a click entry stays pending with a dead worker
	// before another claims it (default redisstore.DefaultClaimIdle).
	ClaimIdle time.Duration
	// WorkerBatch is the number of click entries a worker reads at once
	// (default 1,000).
	WorkerBatch int
	// AudienceUsers bounds the users an audience scan copies from Redis
	// (default 1,000,000); above it Audience fails.
	AudienceUsers int
	// AudienceRefresh is how long the copy is reused (default 30 s).
	AudienceRefresh time.Duration
	// MirrorBlock is how long one read of the event stream waits (default
	// 200 ms).
	MirrorBlock time.Duration
	// Hooks receive events for metrics.
	Hooks Hooks
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger

	// buildFault, if set, is a test hook: a non-nil error it returns for
	// an item fails that item's re-cluster by this replica's workers.
	buildFault func(itemID string) error
}

func (o ReplicaOptions) withDefaults() (ReplicaOptions, error) {
	if err := seedBounds("replica options", &o.MaxSeeds, &o.MinSeeds, &o.ReclusterInterval, &o.Logger); err != nil {
		return o, err
	}
	if o.WorkerBatch == 0 {
		o.WorkerBatch = 1000
	}
	if o.AudienceUsers == 0 {
		o.AudienceUsers = DefaultAudienceUsers
	}
	if o.AudienceRefresh == 0 {
		o.AudienceRefresh = DefaultAudienceRefresh
	}
	switch {
	case o.Workers < 0:
		return o, fmt.Errorf("replica options: Workers %d must not be negative", o.Workers)
	case o.AudienceUsers < 1:
		return o, fmt.Errorf("replica options: AudienceUsers %d must be positive", o.AudienceUsers)
	}
	return o, nil
}

// rworld is the model a Replica serves one generation with.
type rworld struct {
	served
	gen int64
}

func newRWorld(b *bundle.Bundle, gen int64) *rworld { return &rworld{served: newServed(b), gen: gen} }

// rItem caches the scoring state restored from one mirrored item state.
type rItem struct {
	st *redisstore.State
	li *lookalike.Item
}

// audienceCopy is the local copy of one generation's user vectors.
type audienceCopy struct {
	gen  int64
	at   time.Time
	ids  []string
	rows lookalike.UserRows
	byID map[string]int32
}

// Replica is one stateless serving replica on the shared state in Redis
// (package redisstore): the Redis-mode counterpart of Engine, with the same
// methods. It scores from a mirror of the item states, fetches the request
// user's vector from Redis (with a bounded local cache invalidated by user
// events), appends clicks to the Redis click stream, and optionally runs
// re-cluster workers whose Builder is lookalike.Model.NewItem, the item state
// of the embedded engine. Any number of replicas may serve one Redis; each
// may start, stop or crash at any time.
//
// A model generation is switched to only once every item has a state of it:
// until then the replica keeps serving the previous generation (its user
// vectors and states), so no response mixes two models. An item whose
// build failed on any replica's worker has a failed state in Redis
// (redisstore.State.Failed), which counts for the switch: every replica
// reports it failed with the reason, scored with its last state of the
// served generation, or with score 0 when it has none.
type Replica struct {
	opts     ReplicaOptions
	modelDir string // guarded by worldMu
	log      *slog.Logger
	store    *redisstore.Store
	mirror   *redisstore.Mirror
	workers  []*redisstore.Worker

	cur      atomic.Pointer[rworld] // the generation served
	next     atomic.Pointer[rworld] // a newer published generation, not yet switched to
	worldMu  sync.Mutex             // loads of next, modelDir
	modelErr atomic.Pointer[error]  // the newest generation cannot be loaded

	items sync.Map // item id → *rItem

	audMu sync.Mutex
	aud   *audienceCopy

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	once   sync.Once

	nAccepted atomic.Uint64
	nRejected atomic.Uint64
}

// OpenReplica connects to Redis, loads the model folder and waits for the
// mirror's first full load (Redis first, so that an unreachable one fails
// before the model folder, which can take seconds to load, is read). When
// Redis has no model yet, it publishes the folder's user vectors and
// training seeds (as `ralm publish` does); when Redis serves another model,
// it fails and names both.
func OpenReplica(ctx context.Context, modelDir string, opts ReplicaOptions) (*Replica, error) {
	opts, store, err := connectReplica(ctx, opts)
	if err != nil {
		return nil, err
	}
	b, err := bundle.Open(ctx, modelDir)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("open replica: %w", err)
	}
	return openReplicaOn(ctx, b, modelDir, opts, store)
}

// openReplica opens a replica on an opened bundle (modelDir is where Reload
// and new generations read the model from).
func openReplica(ctx context.Context, b *bundle.Bundle, modelDir string, opts ReplicaOptions) (*Replica, error) {
	opts, store, err := connectReplica(ctx, opts)
	if err != nil {
		return nil, err
	}
	return openReplicaOn(ctx, b, modelDir, opts, store)
}

// connectReplica fills in opts's defaults and connects to its Redis.
func connectReplica(ctx context.Context, opts ReplicaOptions) (ReplicaOptions, *redisstore.Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return opts, nil, fmt.Errorf("open replica: %w", err)
	}
	store, err := redisstore.Open(ctx, opts.Redis)
	if err != nil {
		return opts, nil, fmt.Errorf("open replica: %w", err)
	}
	return opts, store, nil
}

// openReplicaOn is openReplica on an open store (options with defaults),
// which it owns: a failure closes it.
func openReplicaOn(ctx context.Context, b *bundle.Bundle, modelDir string, opts ReplicaOptions, store *redisstore.Store) (*Replica, error) {
	r := &Replica{opts: opts, modelDir: modelDir, log: opts.Logger, store: store}
	fail := func(err error) (*Replica, error) {
		store.Close()
		return nil, fmt.Errorf("open replica: %w", err)
	}
	m, err := store.CurrentModel(ctx)
	if err != nil {
		return fail(err)
	}
	if m.Gen == 0 {
		if m, err = publishFirst(ctx, store, b, opts.Logger); err != nil {
			return fail(err)
		}
	}
	if m.ID != b.ID {
		return fail(fmt.Errorf("redis serves model %s (generation %d) but %s holds model %s: publish the folder with `ralm publish --model %s`, or serve the published one", m.ID, m.Gen, modelDir, b.ID, modelDir))
	}
	if m.Dim != b.Embeddings.Dim {
		return fail(fmt.Errorf("redis model %s has dim %d, the folder's embeddings have %d", m.ID, m.Dim, b.Embeddings.Dim))
	}
	r.cur.Store(newRWorld(b, m.Gen))
	r.mirror = redisstore.NewMirror(store, redisstore.MirrorOptions{Block: opts.MirrorBlock, Logger: opts.Logger})
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for i := range opts.Workers {
		w, err := redisstore.NewWorker(store, redisstore.WorkerConfig{
			Name:     fmt.Sprintf("%s-%d", workerName(), i),
			MaxSeeds: opts.MaxSeeds, MinSeeds: opts.MinSeeds, ReclusterInterval: opts.ReclusterInterval,
			ClaimIdle: opts.ClaimIdle, Batch: opts.WorkerBatch, Build: r.build, Logger: opts.Logger, OnBuild: r.onBuild,
		})
		if err != nil {
			r.cancel()
			return fail(err)
		}
		r.workers = append(r.workers, w)
	}
	r.goRun(func(ctx context.Context) { r.mirror.Run(ctx) })
	for _, w := range r.workers {
		r.goRun(func(ctx context.Context) { w.Run(ctx) })
	}
	r.goRun(r.watchModel)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.mirror.WaitSynced(sctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("open replica: %w", err)
	}
	return r, nil
}

// workerName is a consumer name unique to this process.
func workerName() string {
	return fmt.Sprintf("w%d-%x", time.Now().UnixNano()%1e6, time.Now().UnixNano())
}

func (r *Replica) goRun(fn func(ctx context.Context)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn(r.ctx)
	}()
}

// Publish writes a model folder to Redis as a new generation
// (redisstore.Store.Publish: the user vectors, then the switch), then
// appends the folder's training seeds to the click stream unless clicks
// with the same fingerprint were appended before, like the embedded engine
// imports them on its first start.
func Publish(ctx context.Context, s *redisstore.Store, b *bundle.Bundle, log *slog.Logger) (redisstore.Model, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := b.Embeddings
	start := time.Now()
	m, err := s.Publish(ctx, b.ID, e.Users.IDs(), e.Vecs, e.Dim)
	if err != nil {
		return m, fmt.Errorf("publish %s: %w", b.ID, err)
	}
	log.Info("published user vectors", "model", b.ID, "gen", m.Gen, "users", e.Users.Len(),
		"users_per_s", int(float64(e.Users.Len())/max(time.Since(start).Seconds(), 1e-9)))
	fp := b.Manifest.ClicksFingerprint
	done, err := s.Imported(ctx, fp)
	if err != nil || done || b.Seeds == nil {
		return m, err
	}
	sd := b.Seeds
	const batch = 5000
	start = time.Now()
	for lo := 0; lo < sd.Len(); lo += batch {
		hi := min(lo+batch, sd.Len())
		cs := make([]redisstore.Click, 0, hi-lo)
		for i := lo; i < hi; i++ {
			c := redisstore.Click{Item: sd.Items.ID(sd.Item[i]), User: sd.Users.ID(sd.User[i])}
			if sd.TS != nil && sd.TS[i] > 0 {
				c.Time = time.Unix(0, sd.TS[i])
			}
			cs = append(cs, c)
		}
		if err := s.Append(ctx, cs); err != nil {
			return m, fmt.Errorf("publish %s: training seeds %d-%d: %w", b.ID, lo, hi-1, err)
		}
	}
	if err := s.MarkImported(ctx, fp); err != nil {
		return m, fmt.Errorf("publish %s: %w", b.ID, err)
	}
	log.Info("appended training seeds", "clicks", sd.Len(),
		"clicks_per_s", int(float64(sd.Len())/max(time.Since(start).Seconds(), 1e-9)))
	return m, nil
}

// publishFirst publishes b into an empty Redis, or waits for the replica
// that took the publish lock first.
func publishFirst(ctx context.Context, s *redisstore.Store, b *bundle.Bundle, log *slog.Logger) (redisstore.Model, error) {
	const ttl = 5 * time.Minute
	release, ok, err := s.TryPublishLock(ctx, ttl)
	if err != nil {
		return redisstore.Model{}, err
	}
	if ok {
		defer release()
		return Publish(ctx, s, b, log)
	}
	deadline := time.Now().Add(ttl)
	for time.Now().Before(deadline) {
		m, err := s.CurrentModel(ctx)
		if err != nil || m.Gen > 0 {
			return m, err
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return redisstore.Model{}, fmt.Errorf("another replica took the publish lock and published nothing in %v", ttl)
}

// worldFor returns the loaded model of generation gen, loading the model
// folder when gen is newer than the ones loaded.
func (r *Replica) worldFor(ctx context.Context, m redisstore.Model) (*rworld, error) {
	if w := r.cur.Load(); w.gen == m.Gen {
		return w, nil
	}
	if w := r.next.Load(); w != nil && w.gen == m.Gen {
		return w, nil
	}
	r.worldMu.Lock()
	defer r.worldMu.Unlock()
	if w := r.next.Load(); w != nil && w.gen == m.Gen {
		return w, nil
	}
	cur := r.cur.Load()
	if m.Gen < cur.gen {
		return nil, fmt.Errorf("model generation %d is older than the one served (%d)", m.Gen, cur.gen)
	}
	b := cur.bundle
	if m.ID != b.ID {
		nb, err := bundle.Open(ctx, r.modelDir)
		if err != nil {
			return nil, fmt.Errorf("load generation %d (model %s): %w", m.Gen, m.ID, err)
		}
		if nb.ID != m.ID {
			return nil, fmt.Errorf("redis published model %s (generation %d) but %s holds model %s", m.ID, m.Gen, r.modelDir, nb.ID)
		}
		b = nb
	}
	w := newRWorld(b, m.Gen)
	r.next.Store(w)
	return w, nil
}

// watchModel follows the published model: it loads a new generation and
// switches to it once every item has a state of it.
func (r *Replica) watchModel(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m := r.mirror.Model()
		cur := r.cur.Load()
		if m.Gen > cur.gen {
			w, err := r.worldFor(ctx, m)
			if err != nil {
				if ctx.Err() == nil && r.modelErr.Load() == nil {
					r.log.Error("cannot load the published model; still serving the previous one", "err", err)
				}
				r.modelErr.Store(&err)
				continue
			}
			r.modelErr.Store(nil)
			if items, at := r.mirror.Coverage(w.gen); at == items {
				r.cur.Store(w)
				r.next.CompareAndSwap(w, nil)
				r.mirror.DropBefore(w.gen)
				r.log.Info("switched model generation", "model", w.bundle.ID, "gen", w.gen, "items", items)
			}
		}
		if time.Since(lastPrune) > 10*time.Second {
			lastPrune = time.Now()
			r.items.Range(func(k, _ any) bool {
				if r.mirror.State(k.(string)) == nil {
					r.items.Delete(k)
				}
				return true
			})
		}
	}
}

// build is the workers' Builder: lookalike.Model.NewItem over the seeds in
// canonical (user id) order, exactly as the embedded engine builds a state.
// When this replica cannot load the generation's model, it fails with
// redisstore.ErrNoModel: the item is left to a worker that can, not marked
// failed for every replica.
func (r *Replica) build(ctx context.Context, m redisstore.Model, item string, ids []string, seeds []float32, prev *redisstore.State) (*redisstore.State, error) {
	if p := r.modelErr.Load(); p != nil && m.Gen > r.cur.Load().gen {
		// watchModel could not load this generation: do not read the
		// model folder again for every item
		return nil, fmt.Errorf("%w: %w", redisstore.ErrNoModel, *p)
	}
	w, err := r.worldFor(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", redisstore.ErrNoModel, err) // not the item's failure
	}
	if f := r.opts.buildFault; f != nil {
		if err := f(item); err != nil {
			return nil, err
		}
	}
	return BuildState(ctx, w.model, w.userKind, r.opts.MinSeeds, ids, seeds, prev, m.Gen)
}

// BuildState computes a Redis item state with lookalike.Model.NewItem: the
// seeds (ids and their vectors, row-major) in canonical order of the user
// id kind, cold below minSeeds, warm-started from prev when it was built
// with the same generation gen.
func BuildState(ctx context.Context, model *lookalike.Model, userKind data.IDKind, minSeeds int, ids []string, seeds []float32, prev *redisstore.State, gen int64) (*redisstore.State, error) {
	rows := lookalike.UserRows{Vecs: seeds, Dim: model.Dim(), Order: func(a, b int32) int {
		return data.CompareIDs(userKind, ids[a], ids[b])
	}}
	if rows.Len() != len(ids) {
		return nil, fmt.Errorf("build state: %d vectors for %d seeds", rows.Len(), len(ids))
	}
	all := make([]int32, len(ids))
	for i := range all {
		all[i] = int32(i)
	}
	var ps *lookalike.ItemState
	if prev != nil && prev.Gen == gen && prev.K > 0 && prev.Seeds >= minSeeds { // a warm state (a cold one has centroids too)
		var err error
		if ps, err = model.NewItemState(prev.Centroids, prev.Weights); err != nil {
			return nil, fmt.Errorf("build state: previous state: %w", err)
		}
	}
	li, err := model.NewItem(ctx, rows, all, lookalike.ItemOptions{MinSeeds: minSeeds, Prev: ps})
	if err != nil {
		return nil, err
	}
	// cold and warm items alike keep their look-alike state: a cold item is
	// scored by the look-alike model over its few seeds (one score scale)
	return &redisstore.State{K: li.State.K, Centroids: li.State.Centroids, Weights: li.State.Weights, Global: li.State.Global}, nil
}

func (r *Replica) onBuild(item string, seeds int, d time.Duration, err error) {
	if r.opts.Hooks.OnRecluster != nil {
		r.opts.Hooks.OnRecluster(ReclusterEvent{ItemID: item, Seeds: seeds, Duration: d, Err: err})
	}
}

// unavailable wraps a Redis error as ErrUnavailable (context errors of the
// caller stay as they are).
func unavailable(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// itemOf returns the state of an item in world w (nil without one) and
// its scoring state (nil for a failed state with nothing built of w's
// generation, or a state that cannot be restored).
func (r *Replica) itemOf(w *rworld, id string) (*redisstore.State, *lookalike.Item) {
	st := r.mirror.StateAt(id, w.gen)
	if st == nil || !st.Built() {
		return st, nil
	}
	if v, ok := r.items.Load(id); ok && v.(*rItem).st == st {
		return st, v.(*rItem).li
	}
	li, err := w.model.RestoreItem(st.Centroids, st.Weights, nil, r.opts.MinSeeds)
	if err != nil {
		r.log.Warn("bad item state in redis", "item", id, "err", err)
		return st, nil
	}
	r.items.Store(id, &rItem{st: st, li: li})
	return st, li
}

// servedItem returns the served world and the item's state in it, taken
// together: when a model switch drops the old state between the two reads,
// it reads again on the new world.
func (r *Replica) servedItem(id string) (*rworld, *redisstore.State, *lookalike.Item) {
	for {
		w := r.cur.Load()
		st, li := r.itemOf(w, id)
		if st != nil || r.cur.Load() == w {
			return w, st, li
		}
	}
}

// failure is the reason of the status failed of an item whose state in
// the served generation is st (nil: none): the last build of the item with
// that generation failed, on any replica's worker (redisstore.State.Failed,
// shared in Redis), and no build succeeded since. A worker retries such an
// item only when its seeds change (redisstore.Worker), so the status holds
// until then.
func failure(st *redisstore.State) string {
	if st == nil || st.Failed == nil {
		return ""
	}
	return "re-cluster failed: " + st.Failed.Reason
}

// statusOf is an item's scoring status (as Engine's status): failed while
// its last build with st's generation failed (see failure), else by its
// seeds and centroids.
func (r *Replica) statusOf(st *redisstore.State) bundle.Status {
	if st.Failed != nil {
		return bundle.StatusFailed
	}
	if st.K > 0 && st.Seeds >= r.opts.MinSeeds {
		return bundle.StatusOK
	}
	return bundle.StatusCold
}

// Stale reports that Redis is failing and the replica answers from the
// state it had.
func (r *Replica) Stale() bool { return r.mirror.Health().Stale }

// user returns the vector of a user in world w.
func (r *Replica) user(ctx context.Context, w *rworld, id string) ([]float32, error) {
	if err := checkID(w.userKind, "user", id); err != nil {
		return nil, err
	}
	v, err := r.store.Users(ctx, w.gen, []string{id})
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	if v[0] == nil {
		return nil, &bundle.IDError{What: "user", ID: id, Err: bundle.ErrUnknownUser}
	}
	return v[0], nil
}

// Score scores one user against items, like Engine.Score: the user's vector
// of the served generation (from the local cache or Redis) against the
// items' mirrored states of the same generation. Every response comes whole
// from one generation: a request that meets a switch midway is answered
// again on the new one.
func (r *Replica) Score(ctx context.Context, userID string, itemIDs []string) ([]bundle.ItemScore, error) {
	for {
		w := r.cur.Load()
		uv, err := r.user(ctx, w, userID)
		if err != nil {
			return nil, err
		}
		if res, ok := r.scoreVec(w, uv, itemIDs); ok {
			return res, nil
		}
	}
}

// ScoreVector scores an arbitrary user embedding against items.
func (r *Replica) ScoreVector(ctx context.Context, vec []float32, itemIDs []string) ([]bundle.ItemScore, error) {
	for {
		w := r.cur.Load()
		if len(vec) != w.dim {
			return nil, badInput(fmt.Errorf("score: vector has %d values, the model's embeddings have %d", len(vec), w.dim))
		}
		if res, ok := r.scoreVec(w, vec, itemIDs); ok {
			return res, nil
		}
	}
}

// scoreVec scores uv against the items' states of world w. It reports
// false when w stopped being the served world while an item had no state
// of it (the switch dropped the old states): the caller starts again.
func (r *Replica) scoreVec(w *rworld, uv []float32, itemIDs []string) ([]bundle.ItemScore, bool) {
	res := make([]bundle.ItemScore, len(itemIDs))
	items := make([]*lookalike.Item, 0, len(itemIDs))
	pos := make([]int, 0, len(itemIDs))
	missing := false
	for i, id := range itemIDs {
		res[i].ItemID = id
		st, li := r.itemOf(w, id)
		if st == nil || li == nil {
			res[i].Status = bundle.StatusUnknownItem
			if st != nil && st.Failed != nil {
				// failed with nothing built of w's generation: no score
				// (a state of another generation would mix two models)
				res[i].Status = bundle.StatusFailed
			}
			missing = missing || st == nil
			continue
		}
		res[i].Status = r.statusOf(st) // failed ones are scored with the last state built
		items = append(items, li)
		pos = append(pos, i)
	}
	// watchModel stores the new world before it drops the old states, so a
	// state lost to a switch shows here as a changed world.
	if missing && r.cur.Load() != w {
		return nil, false
	}
	if len(items) > 0 {
		out := make([]float32, len(items))
		w.model.ScoreItems(uv, items, out)
		for k, i := range pos {
			res[i].Score = out[k]
		}
	}
	return res, true
}

// Clicks appends a batch of clicks to the Redis click stream and returns
// once Redis accepted every one (redisstore.Store.Append). Clicks of users
// without a vector and malformed ids are refused, as by Engine.Clicks.
// Duplicates are not counted in Redis mode (a worker drops them later).
func (r *Replica) Clicks(ctx context.Context, batch []Click) (IngestResult, error) {
	if r.closed.Load() {
		return IngestResult{}, ErrClosed
	}
	w := r.cur.Load()
	start := time.Now()
	var res IngestResult
	var users []string
	var at []int
	for i, c := range batch {
		if err := checkID(w.userKind, "user", c.UserID); err != nil {
			res.Rejected = append(res.Rejected, Rejection{Index: i, Err: err})
			continue
		}
		if err := checkID(w.itemKind, "item", c.ItemID); err != nil {
			res.Rejected = append(res.Rejected, Rejection{Index: i, Err: err})
			continue
		}
		users = append(users, c.UserID)
		at = append(at, i)
	}
	vecs, err := r.store.Users(ctx, w.gen, users)
	if err != nil {
		return IngestResult{}, unavailable(ctx, err)
	}
	clicks := make([]redisstore.Click, 0, len(at))
	for j, i := range at {
		if vecs[j] == nil {
			res.Rejected = append(res.Rejected, Rejection{Index: i, Err: &bundle.IDError{What: "user", ID: batch[i].UserID, Err: bundle.ErrUnknownUser}})
			continue
		}
		clicks = append(clicks, redisstore.Click{Item: batch[i].ItemID, User: batch[i].UserID, Time: batch[i].Time})
	}
	slices.SortFunc(res.Rejected, func(a, b Rejection) int { return a.Index - b.Index })
	if err := r.store.Append(ctx, clicks); err != nil {
		return IngestResult{}, unavailable(ctx, err)
	}
	res.Accepted = len(clicks)
	r.nAccepted.Add(uint64(len(clicks)))
	r.nRejected.Add(uint64(len(res.Rejected)))
	if r.opts.Hooks.OnCommit != nil {
		r.opts.Hooks.OnCommit(CommitEvent{Accepted: res.Accepted, Rejected: len(res.Rejected), Duration: time.Since(start)})
	}
	return res, nil
}

// Click ingests one click (see Clicks).
func (r *Replica) Click(ctx context.Context, c Click) error {
	return clickOne(ctx, r.Clicks, c)
}

// UpsertUser writes a user's vector (given, or computed from features by
// the user model) in Redis and announces it, so every replica drops its
// cached copy. It returns once Redis accepted the write.
func (r *Replica) UpsertUser(ctx context.Context, id string, in UserInput) error {
	if r.closed.Load() {
		return ErrClosed
	}
	w := r.cur.Load()
	vec, err := upsertVector(w.userKind, w.userModel, w.dim, id, in)
	if err != nil {
		return err
	}
	if err := r.store.UpsertUser(ctx, w.gen, id, vec); err != nil {
		return unavailable(ctx, err)
	}
	return nil
}

// SetItemAttributes is not available on a Replica: Redis does not keep
// item attributes yet, so an item with no seeds cannot be scored from its
// attributes in Redis mode. It returns ErrNoAttrStore.
func (r *Replica) SetItemAttributes(ctx context.Context, itemID string, values map[string][]string) (int, error) {
	return 0, fmt.Errorf("set item attributes: %w (Redis mode)", ErrNoAttrStore)
}

// Delete appends a delete of the item to the click stream (ordered with the
// clicks); the workers drop its seeds and state. It fails with an *IDError
// matching ErrUnknownItem for an item without a state.
func (r *Replica) Delete(ctx context.Context, itemID string) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if err := checkID(r.cur.Load().itemKind, "item", itemID); err != nil {
		return err
	}
	if r.mirror.State(itemID) == nil {
		// Not built yet: it exists if it has seeds.
		_, ok, err := r.store.ItemMeta(ctx, itemID)
		if err != nil {
			return unavailable(ctx, err)
		}
		if !ok {
			return &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
		}
	}
	if err := r.store.DeleteItem(ctx, itemID); err != nil {
		return unavailable(ctx, err)
	}
	r.items.Delete(itemID)
	return nil
}

// Item describes an item from its mirrored state and its seed bookkeeping
// in Redis (only the state while Redis is down). An item with seeds but no
// state yet (a worker builds it within one cycle) is cold and pending.
func (r *Replica) Item(ctx context.Context, itemID string) (ItemInfo, error) {
	if err := checkID(r.cur.Load().itemKind, "item", itemID); err != nil {
		return ItemInfo{}, err
	}
	_, st, _ := r.servedItem(itemID)
	if st == nil {
		// Seeds but no state of this generation yet: cold, waiting for a worker.
		im, ok, err := r.store.ItemMeta(ctx, itemID)
		if err != nil {
			return ItemInfo{}, unavailable(ctx, err)
		}
		if !ok {
			return ItemInfo{}, &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
		}
		return ItemInfo{ID: itemID, Seeds: im.Seeds, Status: bundle.StatusCold, Pending: true, LastClick: im.Last, Created: im.Created}, nil
	}
	info := ItemInfo{ID: itemID, Status: r.statusOf(st), Failure: failure(st)}
	if st.Built() { // the last state built with the served generation
		info.Seeds, info.LastRecluster, info.ReclusterSeeds, info.Centroids = st.Seeds, st.BuiltAt, st.Seeds, st.K
	}
	ver := st.Ver // the seed version last tried
	if st.Failed != nil {
		info.Seeds, ver = st.Failed.Seeds, st.Failed.Ver
	}
	im, ok, err := r.store.ItemMeta(ctx, itemID)
	if err != nil {
		if ctx.Err() != nil {
			return ItemInfo{}, ctx.Err()
		}
		return info, nil // Redis down: the state's figures
	}
	if ok {
		info.Seeds, info.LastClick, info.Created = im.Seeds, im.Last, im.Created
		info.Pending = im.Ver != ver && im.Seeds >= r.opts.MinSeeds
	}
	return info, nil
}

// Audience returns the n users who look most like the item's seeds, best
// first, with lookalike.Model.Audience (the tie rule of Engine.Audience),
// leaving out the item's seeds. It scans a local copy of every user vector
// of the served generation, loaded from Redis on first use and reused for
// AudienceRefresh: memory is users × dim × 4 bytes, and a generation with
// more than AudienceUsers users is refused.
func (r *Replica) Audience(ctx context.Context, itemID string, n int) (*Audience, error) {
	if n < 1 {
		return nil, badInput(fmt.Errorf("audience: n = %d, want at least 1", n))
	}
	if err := checkID(r.cur.Load().itemKind, "item", itemID); err != nil {
		return nil, err
	}
	w, st, li := r.servedItem(itemID)
	if st == nil || li == nil {
		e := &bundle.IDError{What: "item", ID: itemID, Err: bundle.ErrUnknownItem}
		if st != nil && st.Failed != nil {
			e.Detail = failure(st) + "; no state to rank users with"
		}
		return nil, e
	}
	seeds, err := r.store.Seeds(ctx, itemID)
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	a, err := r.audienceUsers(ctx, w)
	if err != nil {
		return nil, err
	}
	skip := make(map[int32]bool, len(seeds))
	for _, s := range seeds {
		if u, ok := a.byID[s]; ok {
			skip[u] = true
		}
	}
	top, err := w.model.Audience(ctx, a.rows, li, n, lookalike.AudienceOptions{Skip: func(u int32) bool { return skip[u] }})
	if err != nil {
		return nil, fmt.Errorf("audience %q: %w", itemID, err)
	}
	res := &Audience{ItemID: itemID, Status: r.statusOf(st), Seeds: len(seeds), Users: make([]bundle.ScoredUser, len(top))}
	for i, x := range top {
		res.Users[i] = bundle.ScoredUser{UserID: a.ids[x.User], Score: x.Score}
	}
	return res, nil
}

// audienceUsers returns the local copy of world w's user vectors.
func (r *Replica) audienceUsers(ctx context.Context, w *rworld) (*audienceCopy, error) {
	r.audMu.Lock()
	defer r.audMu.Unlock()
	if a := r.aud; a != nil && a.gen == w.gen && time.Since(a.at) < r.opts.AudienceRefresh {
		return a, nil
	}
	a := &audienceCopy{gen: w.gen, at: time.Now(), byID: make(map[string]int32)}
	var vecs []float32
	var bad error // a limit or bad data, not a Redis failure
	err := r.store.ScanUsers(ctx, w.gen, func(id string, v []float32) error {
		if len(a.ids) >= r.opts.AudienceUsers {
			bad = fmt.Errorf("audience: generation %d has more than %d users (AudienceUsers, --audience-users)", w.gen, r.opts.AudienceUsers)
			return bad
		}
		if len(v) != w.dim {
			bad = fmt.Errorf("audience: user %q has %d values, the model's embeddings have %d", id, len(v), w.dim)
			return bad
		}
		a.byID[id] = int32(len(a.ids))
		a.ids = append(a.ids, id)
		vecs = append(vecs, v...)
		return nil
	})
	if bad != nil {
		return nil, bad
	}
	if err != nil {
		if r.aud != nil && r.aud.gen == w.gen && errors.Is(unavailable(ctx, err), ErrUnavailable) && r.Stale() {
			return r.aud, nil // Redis down: the copy we have (the response says stale)
		}
		return nil, unavailable(ctx, err)
	}
	kind := w.userKind
	a.rows = lookalike.UserRows{Vecs: vecs, Dim: w.dim, Order: func(x, y int32) int { return data.CompareIDs(kind, a.ids[x], a.ids[y]) }}
	r.aud = a
	return a, nil
}

// Reload re-reads the model folder (modelDir, or the one the replica was
// opened with) and, when it holds a model other than the published one,
// publishes it as a new generation; every replica then switches to it once
// its items are rebuilt.
func (r *Replica) Reload(ctx context.Context, modelDir string) error {
	r.worldMu.Lock()
	if modelDir == "" {
		modelDir = r.modelDir
	}
	r.worldMu.Unlock()
	b, err := bundle.Open(ctx, modelDir)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	m, err := r.store.CurrentModel(ctx)
	if err != nil {
		return unavailable(ctx, err)
	}
	if m.ID == b.ID {
		return nil
	}
	r.worldMu.Lock()
	r.modelDir = modelDir
	r.worldMu.Unlock()
	if _, err := Publish(ctx, r.store, b, r.log); err != nil {
		return unavailable(ctx, err)
	}
	return nil
}

// ModelID is the id of the model served.
func (r *Replica) ModelID() string { return r.cur.Load().bundle.ID }

// Generation is the model generation served.
func (r *Replica) Generation() int64 { return r.cur.Load().gen }

// IDKinds returns the kinds of user and item ids of the served model.
func (r *Replica) IDKinds() (user, item data.IDKind) { return r.cur.Load().idKinds() }

// Ready reports whether the replica accepts writes: nil, ErrClosed, or an
// error matching ErrUnavailable while Redis fails.
func (r *Replica) Ready() error {
	if r.closed.Load() {
		return ErrClosed
	}
	h := r.mirror.Health()
	if h.Stale {
		return fmt.Errorf("%w: %v", ErrUnavailable, h.Err)
	}
	if p := r.modelErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats counts the mirrored items of the served generation by status and
// returns the replica's counters (Users stays 0: the users live in Redis).
func (r *Replica) Stats() Stats {
	w := r.cur.Load()
	s := Stats{ModelID: w.bundle.ID, ClicksAccepted: r.nAccepted.Load(), ClicksRejected: r.nRejected.Load()}
	r.mirror.Range(func(id string, st *redisstore.State) bool {
		if st.Gen != w.gen {
			return true
		}
		s.Items++
		switch r.statusOf(st) {
		case bundle.StatusFailed:
			s.ItemsFailed++
		case bundle.StatusOK:
			s.ItemsOK++
		default:
			s.ItemsCold++
		}
		return true
	})
	for _, wk := range r.workers {
		ws := wk.Stats()
		s.Reclusters += uint64(ws.Built)
		s.ReclusterErrors += uint64(ws.Failed)
	}
	return s
}

// RedisStats are the figures of the Redis path for metrics.
type RedisStats struct {
	Stream         redisstore.StreamStats
	OldestStateAge time.Duration // age of the oldest item state of the served generation
	Stale          bool
	Generation     int64
}

// RedisStats reads the click stream's backlog and the mirror's state age.
func (r *Replica) RedisStats(ctx context.Context) (RedisStats, error) {
	rs := RedisStats{OldestStateAge: r.mirror.OldestState(time.Now()), Stale: r.Stale(), Generation: r.Generation()}
	st, err := r.store.Stats(ctx)
	if err != nil {
		return rs, unavailable(ctx, err)
	}
	rs.Stream = st
	return rs, nil
}

// Store is the replica's connection to Redis.
func (r *Replica) Store() *redisstore.Store { return r.store }

// Close stops the mirror and the workers and closes the connections. A
// worker stopped between reading and acknowledging leaves its entries
// pending; another worker claims them. Safe to call more than once.
func (r *Replica) Close() error {
	var err error
	r.once.Do(func() {
		r.closed.Store(true)
		r.cancel()
		r.wg.Wait()
		err = r.store.Close()
	})
	return err
}
