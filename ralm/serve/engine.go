// Package serve is the RALM serving engine: Engine opens a model folder
// (package bundle) written by `ralm train`, keeps each item's seed users up to
// date from a click stream, re-clusters changed items in the background, and
// scores users against items in real time. Its durable state goes through the
// Store interface; the bbolt store is the built-in implementation.
//
// An Engine is safe for concurrent use: clicks, user upserts, scoring,
// audience scans, re-clustering and Reload may all run at once. Scoring
// never blocks: item states are published atomically.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// Defaults for Options.
const (
	DefaultMaxSeeds          = bundle.DefaultMaxSeeds
	DefaultReclusterInterval = 5 * time.Minute
	DefaultMaxBatch          = 50_000

	// checkpointRecords and checkpointAge bound the seed store's log: it is
	// folded into the item buckets when it holds this many records, or
	// when it is this old.
	checkpointRecords = 1 << 20
	checkpointAge     = 30 * time.Second
)

// Input bounds the engine enforces before it acknowledges a write; input
// beyond them is refused as bad input and never reaches the store.
const (
	// MaxIDBytes is the longest user or item id, in bytes: data.MaxIDBytes
	// (data.CanonicalID holds the id rules).
	MaxIDBytes = data.MaxIDBytes
	// MaxVectorNorm bounds the Euclidean norm of an upserted user vector,
	// so that scores and k-means distances stay finite in float32.
	MaxVectorNorm = 1e6
)

// Errors returned by the engine besides the *bundle.IDError values.
var (
	ErrClosed      = errors.New("ralm: engine closed")
	ErrReadOnly    = errors.New("ralm: engine is read-only after a seed store failure")
	ErrNoUserModel = errors.New("the model folder has no user model; give a vector instead of features")
)

// InputError is an error caused by the caller's input (a vector of the
// wrong length, a non-finite value, features the user model cannot use, a
// bad count), as opposed to a failure of the engine. The HTTP layer maps it
// to 400 with errors.As. Errors about one id are *bundle.IDError instead.
type InputError struct {
	Err error
}

// Error implements error.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// badInput wraps an error about the caller's input.
func badInput(err error) error { return &InputError{Err: err} }

// Options configure an Engine. The zero value of every field but DataDir
// (or Store) selects its default.
type Options struct {
	// DataDir is the engine's own state folder (the bbolt seed store),
	// created if missing. Required unless Store is set.
	DataDir string
	// Store, if set, is the engine's durable state instead of a BoltStore in
	// DataDir. The engine owns it from Open on: Close (or a failed Open)
	// closes it.
	Store Store
	// MaxSeeds is the number of latest distinct seed users kept per item
	// (default 100,000).
	MaxSeeds int
	// MinSeeds is the seed count below which an item is "features" (with
	// attributes) or "cold": scored by the look-alike model over its few
	// seeds, on the ok items' scale (default 10). An item that reaches it
	// is re-clustered at once.
	MinSeeds int
	// ReclusterInterval is how often items whose seeds changed are
	// re-clustered (default 5 minutes). An item whose re-cluster fails has
	// the status failed and is tried again after new clicks, or else after
	// a backoff that doubles from two intervals up to an hour.
	ReclusterInterval time.Duration
	// ExpireAfter removes items that received no click for this long
	// (wall-clock time of ingestion). 0 disables expiry.
	ExpireAfter time.Duration
	// MaxBatch caps the clicks committed in one store transaction (default 50,000).
	MaxBatch int
	// Workers is the number of items re-clustered in parallel (default GOMAXPROCS).
	Workers int
	// Hooks receive events for metrics.
	Hooks Hooks
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger

	// reclusterFault, if set, is a test hook: a non-nil error it returns
	// for an item fails that item's re-cluster.
	reclusterFault func(itemID string) error
}

// Hooks are optional callbacks for metrics. They run synchronously on the
// engine's goroutines and must be fast and safe for concurrent use.
type Hooks struct {
	// OnCommit is called after every committed batch of clicks.
	OnCommit func(CommitEvent)
	// OnRecluster is called after every item re-cluster (successful or not).
	OnRecluster func(ReclusterEvent)
}

// CommitEvent describes one committed (synced) store transaction.
type CommitEvent struct {
	Accepted   int // clicks acknowledged, duplicates included
	Duplicates int // accepted clicks whose user already was a seed
	Rejected   int // clicks refused (unknown user)
	Duration   time.Duration
}

// ReclusterEvent describes one item re-cluster.
type ReclusterEvent struct {
	ItemID   string
	Seeds    int
	Duration time.Duration
	Err      error
}

// Engine serves RALM: it ingests clicks into per-item seed sets, keeps item
// states fresh in the background and scores users against items.
type Engine struct {
	opts     Options
	modelDir string
	log      *slog.Logger
	store    Store

	world atomic.Pointer[world]

	// itemAttrs holds the registered item attributes: item id → *attrEntry
	// (engine_coldstart.go); they outlive reloads.
	itemAttrs sync.Map

	// Lock order (take a later lock only while holding earlier ones, never
	// the reverse): reloadMu → wmu → diskMu, and wmu → item.mu →
	// world.dirtyMu. diskMu is taken under wmu and wmu released right after
	// (a hand-over: the store write runs without wmu, in commit order).
	// userTable.mu and world.dirtyMu are leaves: nothing is locked under
	// them. Scoring takes item.mu alone, briefly, and no engine lock is held
	// while calling hooks, the store's Load* callbacks aside.
	wmu      sync.Mutex // serialises mutations of the world (committer, reload swap)
	diskMu   sync.Mutex // orders store writes with memory mutations
	reloadMu sync.Mutex // one Reload at a time

	reqs          chan *commitReq
	quit          chan struct{}
	committerDone chan struct{}
	workerDone    chan struct{}
	kick          chan struct{}
	closeOnce     sync.Once
	closeErr      error
	failed        atomic.Pointer[error]

	// deferred is the store's deferred items (DeferredItemsError): item id
	// → reason, an immutable map replaced by noteDeferred under diskMu.
	deferred atomic.Pointer[map[string]string]

	ctx    context.Context // cancelled by Close; bounds background work
	cancel context.CancelFunc

	// startBuilt counts the items whose first state the start-up build
	// (or a request, on demand) built; startItems is how many that build
	// set out to build, startDone is closed when it ends (startBuild).
	startBuilt atomic.Int64
	startItems atomic.Int64
	startAt    time.Time
	startTook  atomic.Int64 // the build's duration in ns, once done
	startDone  chan struct{}

	nAccepted   atomic.Uint64
	nDuplicate  atomic.Uint64
	nRejected   atomic.Uint64
	nRecluster  atomic.Uint64
	nRecluErr   atomic.Uint64
	nExpired    atomic.Uint64
	lastReclust atomic.Int64
}

// world is one generation of served models: a bundle, its user table, and
// the items with seeds indexed into that table. Reload builds a new world
// and swaps it in atomically.
type world struct {
	served
	users    *userTable
	loadedAt time.Time

	items sync.Map // item id (string) → *item

	// lazy is set while the start-up build of item states runs: a request
	// that needs an item without a state yet builds it on demand
	// (Engine.ensureBuilt), so that it gets the answer of a full build.
	lazy atomic.Bool

	dirtyMu sync.Mutex
	dirty   map[*item]struct{} // seeds changed since the last re-cluster
	urgent  map[*item]struct{} // crossed MinSeeds: re-cluster at once
	retry   map[*item]struct{} // last re-cluster failed: retried at view.retryAt
}

func newWorld(b *bundle.Bundle) *world {
	return &world{
		served: newServed(b), users: newUserTable(b.Embeddings), loadedAt: time.Now(),
		dirty: make(map[*item]struct{}), urgent: make(map[*item]struct{}),
		retry: make(map[*item]struct{}),
	}
}

// markDirty queues it for the next re-cluster (at once if urgent).
func (w *world) markDirty(it *item, urgent bool) {
	w.dirtyMu.Lock()
	if urgent {
		w.urgent[it] = struct{}{}
	} else {
		w.dirty[it] = struct{}{}
	}
	w.dirtyMu.Unlock()
}

// withDefaults fills zero fields and validates.
func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" && o.Store == nil {
		return o, errors.New("options: DataDir (the seed store folder) or Store is required")
	}
	if err := seedBounds("options", &o.MaxSeeds, &o.MinSeeds, &o.ReclusterInterval, &o.Logger); err != nil {
		return o, err
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case o.ExpireAfter < 0:
		return o, fmt.Errorf("options: ExpireAfter %v must not be negative", o.ExpireAfter)
	case o.MaxBatch < 1:
		return o, fmt.Errorf("options: MaxBatch %d must be positive", o.MaxBatch)
	case o.Workers < 1:
		return o, fmt.Errorf("options: Workers %d must be positive", o.Workers)
	}
	return o, nil
}

// seedBounds fills the zero seed bounds, re-cluster interval and logger of
// the engine's or the replica's options with the defaults and validates
// them; what prefixes the errors.
func seedBounds(what string, maxSeeds, minSeeds *int, recluster *time.Duration, logger **slog.Logger) error {
	if *logger == nil {
		*logger = slog.New(slog.DiscardHandler)
	}
	if *maxSeeds == 0 {
		*maxSeeds = DefaultMaxSeeds
	}
	if *minSeeds == 0 {
		*minSeeds = bundle.DefaultMinSeeds
	}
	if *recluster == 0 {
		*recluster = DefaultReclusterInterval
	}
	switch {
	case *maxSeeds < 1:
		return fmt.Errorf("%s: MaxSeeds %d must be positive", what, *maxSeeds)
	case *minSeeds < 1:
		return fmt.Errorf("%s: MinSeeds %d must be positive", what, *minSeeds)
	case *minSeeds > *maxSeeds:
		return fmt.Errorf("%s: MinSeeds %d exceeds MaxSeeds %d", what, *minSeeds, *maxSeeds)
	case *recluster < 0:
		return fmt.Errorf("%s: ReclusterInterval %v must be positive", what, *recluster)
	}
	return nil
}

// Open loads the model folder modelDir and the seed store in opts.DataDir,
// restores the persisted seeds, imports the folder's training seeds on first
// use of that folder and starts the background worker, whose first task is
// to cluster every item with at least MinSeeds seeds (the start-up build, on
// Options.Workers goroutines; WaitBuilt waits for it, Stats.StartBuild
// reports its progress). The engine is ready to score when Open returns: a
// request that needs an item the start-up build has not reached yet builds
// that item's state first (once; concurrent requests wait for the same
// build), so every answer equals the one after the full build.
//
// The seed store is opened first, so that a state folder that cannot be
// used (locked by another process, not writable) fails before the model
// folder, which can take seconds to load, is read. A state folder that
// Open created is removed again when Open fails.
func Open(ctx context.Context, modelDir string, opts Options) (*Engine, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		closeGiven(opts.Store)
		return nil, fmt.Errorf("open engine: %w", err)
	}
	created := "" // a state folder this call creates, removed if Open fails
	if opts.Store == nil {
		if _, err := os.Stat(opts.DataDir); errors.Is(err, fs.ErrNotExist) {
			created = opts.DataDir
		}
		bst, err := OpenBoltStore(opts.DataDir)
		if err != nil {
			return nil, fmt.Errorf("open engine: %w", err)
		}
		opts.Store = bst
	}
	removeCreated := func() {
		if created != "" {
			os.RemoveAll(created)
		}
	}
	b, err := bundle.Open(ctx, modelDir)
	if err != nil {
		closeGiven(opts.Store)
		removeCreated()
		return nil, fmt.Errorf("open engine: %w", err)
	}
	e, err := openWithBundle(ctx, b, opts)
	if err != nil {
		removeCreated()
		return nil, err
	}
	e.modelDir = modelDir
	return e, nil
}

// closeGiven closes the store of a failed Open (the engine owns it from
// Open on), if there is one.
func closeGiven(st Store) {
	if st != nil {
		st.Close()
	}
}

// openWithBundle starts an engine on an already loaded bundle.
func openWithBundle(ctx context.Context, b *bundle.Bundle, opts Options) (_ *Engine, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		closeGiven(opts.Store)
		return nil, fmt.Errorf("open engine: %w", err)
	}
	if err := b.Validate(); err != nil {
		closeGiven(opts.Store)
		return nil, fmt.Errorf("open engine: %w", err)
	}
	if err := checkEmbeddings(b); err != nil {
		closeGiven(opts.Store)
		return nil, fmt.Errorf("open engine: %w", err)
	}
	st := opts.Store
	if st == nil {
		bst, err := OpenBoltStore(opts.DataDir)
		if err != nil {
			return nil, fmt.Errorf("open engine: %w", err)
		}
		st = bst
	}
	e := &Engine{
		opts: opts, log: opts.Logger, store: st,
		reqs:          make(chan *commitReq, 1024),
		quit:          make(chan struct{}),
		committerDone: make(chan struct{}),
		workerDone:    make(chan struct{}),
		kick:          make(chan struct{}, 1),
		startDone:     make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			e.cancel()
			select {
			case <-e.quit:
			default:
				close(e.quit)
			}
			<-e.committerDone
			st.Close()
		}
	}()
	w := newWorld(b)
	fp := importFingerprint(b)
	fresh, err := e.restore(ctx, w)
	if err != nil {
		close(e.committerDone)
		return nil, fmt.Errorf("open engine: %w", err)
	}
	if err := e.loadItemAttrs(); err != nil {
		close(e.committerDone)
		return nil, fmt.Errorf("open engine: %w", err)
	}
	e.world.Store(w)
	go e.commitLoop()
	if err := e.importSeeds(ctx, b, fp, fresh); err != nil {
		return nil, fmt.Errorf("open engine: %w", err)
	}
	// The start-up build: the items waiting for their first state leave
	// w.dirty for the worker's first round, which requests overtake
	// (ensureBuilt) while it runs.
	w.dirtyMu.Lock()
	start := make([]*item, 0, len(w.dirty)+len(w.urgent))
	for it := range w.urgent {
		start = append(start, it)
	}
	for it := range w.dirty {
		if _, dup := w.urgent[it]; !dup { // an item can be queued in both
			start = append(start, it)
		}
	}
	clear(w.urgent)
	clear(w.dirty)
	w.dirtyMu.Unlock()
	e.startItems.Store(int64(len(start)))
	e.startAt = time.Now()
	w.lazy.Store(true)
	go e.workerLoop(w, start)
	return e, nil
}

// restore loads upserted users and seeds from the store into w, before the
// committer runs. It reports whether the store is fresh: no bundle id yet,
// which the first import writes with its imported marker, so that items in
// a fresh store are the leftovers of a first import cut short; restore
// drops them (the import starts again from scratch).
func (e *Engine) restore(ctx context.Context, w *world) (fresh bool, err error) {
	b := w.bundle
	last, err := e.store.LastBundle()
	if err != nil {
		return false, err
	}
	fresh = last == ""
	// A different bundle than last time: upserted users it embeds are now
	// covered by a model trained on newer data; drop them.
	var stale []string
	err = e.store.LoadUsers(func(id string, vec []float32) error {
		if last != b.ID {
			if _, ok := b.Embeddings.Users.Index(id); ok {
				stale = append(stale, id)
				return nil
			}
		}
		if len(vec) != w.dim {
			e.log.Warn("upserted user has the wrong dimension for this model; ignored", "user", id, "dim", len(vec), "want", w.dim)
			return nil
		}
		w.users.upsert(id, vec)
		return nil
	})
	if err != nil {
		return false, err
	}
	if err := e.store.DeleteUsers(stale); err != nil {
		return false, err
	}
	sb := newBatch()
	if last != b.ID && !fresh {
		sb.Bundle = b.ID
	}
	snap := w.users.load()
	dropped, leftover := 0, 0
	err = e.store.LoadItems(func(si *StoredItem) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if fresh {
			*sb.item(si.ID) = ItemOps{Reset: true, Remove: true}
			leftover++
			return nil
		}
		it := newItem(si.ID, si.Created)
		it.last.Store(si.Last)
		var drop map[string]bool
		evict := 0
		for _, sd := range si.Seeds {
			u, ok := w.users.lookup(snap, sd.User)
			if !ok {
				if drop == nil {
					drop = make(map[string]bool)
				}
				drop[sd.User] = true
				continue
			}
			if _, ev := it.add(u, e.opts.MaxSeeds); ev >= 0 {
				evict++
			}
		}
		if len(drop) > 0 || evict > 0 {
			// Make the stored seeds match memory exactly.
			op := sb.item(si.ID)
			op.Drop, op.Evict = drop, evict
			op.Remove = len(it.ring) == 0
			op.Reset = op.Remove
			dropped += len(drop)
		}
		if len(it.ring) == 0 {
			return nil
		}
		it.version = 1
		w.items.Store(si.ID, it)
		if len(it.ring) >= e.opts.MinSeeds {
			// clustered by the start-up build (or on demand, ensureBuilt);
			// a cold state would cost a second clustering, and one is
			// published only if that fails (reclusterFailed)
			w.dirty[it] = struct{}{}
		} else {
			e.refreshCold(w, snap, it)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if dropped > 0 {
		e.log.Warn("dropped stored seeds of users without an embedding", "seeds", dropped)
	}
	if leftover > 0 {
		e.log.Warn("the first import of training seeds was cut short; importing again from scratch", "items_dropped", leftover)
	}
	return fresh, e.noteDeferred(e.store.Apply(sb))
}

// refreshCold publishes a cold item state (the look-alike state of the
// current seeds) for an item with few seeds or not yet re-clustered; the
// warm state of an earlier re-cluster, if any, is dropped. Caller holds
// it.mu (or owns it exclusively).
func (e *Engine) refreshCold(w *world, snap *userSnap, it *item) {
	nv := *it.view.Load()
	cold, err := w.coldItem(context.Background(), snap, it.ring)
	if err != nil {
		cold = nil // no seed left: nothing to score with
	}
	nv.item = cold
	it.publish(&nv)
}

// Close stops the background worker, commits every pending click, and
// closes the seed store. It is safe to call more than once.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		close(e.quit)
		<-e.committerDone
		e.cancel()
		<-e.workerDone
		e.closeErr = e.store.Close()
	})
	return e.closeErr
}

// ModelID returns the id of the model folder being served (Bundle.ID).
func (e *Engine) ModelID() string { return e.world.Load().bundle.ID }

// Manifest returns the manifest of the model folder being served.
func (e *Engine) Manifest() bundle.Manifest { return e.world.Load().bundle.Manifest }

// IDKinds returns the kinds of user and item ids of the served model.
func (e *Engine) IDKinds() (user, item data.IDKind) { return e.world.Load().idKinds() }

// Options returns the engine's options with defaults filled in.
func (e *Engine) Options() Options { return e.opts }

// checkID validates an external id of the given kind with the one id
// validator, data.CanonicalID, and also wants it in canonical form (the
// engine does not rewrite ids; callers normalise them first).
func checkID(kind data.IDKind, what, id string) error {
	c, err := data.CanonicalID(kind, id)
	if err == nil && c != id {
		err = fmt.Errorf("not in canonical form (%s)", c)
	}
	if err != nil {
		return &bundle.IDError{What: what, ID: id, Err: fmt.Errorf("%w: %w", bundle.ErrBadID, err)}
	}
	return nil
}

// checkVector refuses a user vector of the wrong width, with a non-finite
// value, or whose norm is beyond MaxVectorNorm.
func checkVector(id string, vec []float32, dim int) error {
	if len(vec) != dim {
		return badInput(fmt.Errorf("upsert user %q: vector has %d values, the model's embeddings have %d", id, len(vec), dim))
	}
	if err := vectorFault(vec); err != nil {
		return badInput(fmt.Errorf("upsert user %q: vector %w", id, err))
	}
	return nil
}

// vectorFault describes a vector value that is not finite or a norm beyond
// MaxVectorNorm; nil if the vector is fine.
func vectorFault(vec []float32) error {
	var ss float64
	for j, x := range vec {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("value %d is not finite", j)
		}
		ss += float64(x) * float64(x)
	}
	if n := math.Sqrt(ss); !(n <= MaxVectorNorm) {
		return fmt.Errorf("norm %.3g is over the limit of %g", n, float64(MaxVectorNorm))
	}
	return nil
}

// checkEmbeddings refuses a bundle with a user embedding that UpsertUser
// would refuse (a value not finite, a norm beyond MaxVectorNorm), naming
// the user id.
func checkEmbeddings(b *bundle.Bundle) error {
	emb := b.Embeddings
	for i := range emb.Users.Len() {
		if err := vectorFault(emb.Vecs[i*emb.Dim : (i+1)*emb.Dim]); err != nil {
			return fmt.Errorf("embeddings: user %q: vector %w", emb.Users.ID(int32(i)), err)
		}
	}
	return nil
}

// Stats is a snapshot of the engine's counters and item statuses.
type Stats struct {
	ModelID         string
	Users           int // users with an embedding (bundle + upserted)
	Items           int
	ItemsOK         int
	ItemsCold       int
	ItemsFailed     int    // status failed (see bundle.StatusFailed)
	PendingItems    int    // waiting for a re-cluster
	ClicksAccepted  uint64 // since Open, duplicates included
	ClicksDuplicate uint64
	ClicksRejected  uint64
	Reclusters      uint64
	ReclusterErrors uint64
	ItemsExpired    uint64
	LastRecluster   time.Time
	// StartBuild is the progress of the start-up build of item states.
	StartBuild BuildProgress
}

// BuildProgress is the progress of the start-up build: Open returns before
// every item is clustered and builds the states in the background.
type BuildProgress struct {
	Items int  // items the build set out to cluster
	Built int  // of which built (in the background or on demand)
	Done  bool // the build has ended (or the engine closed)
	// Elapsed is the time since the build started, or its duration once done.
	Elapsed time.Duration
}

// Stats counts items by status (a scan over all items) and returns the
// engine's counters.
func (e *Engine) Stats() Stats {
	w := e.world.Load()
	s := Stats{
		ModelID:         w.bundle.ID,
		Users:           w.users.load().n,
		ClicksAccepted:  e.nAccepted.Load(),
		ClicksDuplicate: e.nDuplicate.Load(),
		ClicksRejected:  e.nRejected.Load(),
		Reclusters:      e.nRecluster.Load(),
		ReclusterErrors: e.nRecluErr.Load(),
		ItemsExpired:    e.nExpired.Load(),
	}
	if t := e.lastReclust.Load(); t != 0 {
		s.LastRecluster = time.Unix(0, t)
	}
	w.items.Range(func(_, v any) bool {
		s.Items++
		switch e.status(v.(*item)) {
		case bundle.StatusOK:
			s.ItemsOK++
		case bundle.StatusFailed:
			s.ItemsFailed++
		default:
			s.ItemsCold++
		}
		return true
	})
	w.dirtyMu.Lock()
	s.PendingItems = len(w.dirty) + len(w.urgent)
	w.dirtyMu.Unlock()
	s.StartBuild = e.startProgress()
	if !s.StartBuild.Done {
		s.PendingItems += s.StartBuild.Items - s.StartBuild.Built
	}
	return s
}

// status is the scoring status of an existing item.
func (e *Engine) status(it *item) bundle.Status {
	if e.itemFailure(it) != "" {
		return bundle.StatusFailed
	}
	if int(it.nseeds.Load()) >= e.opts.MinSeeds && it.view.Load().state() != nil {
		return bundle.StatusOK
	}
	return bundle.StatusCold
}

// itemFailure is the reason of an item's status failed, "" if it has not
// failed: its seeds are deferred by the store, or (with at least MinSeeds
// seeds) its last re-cluster failed.
func (e *Engine) itemFailure(it *item) string {
	if m := e.deferred.Load(); m != nil && len(*m) > 0 {
		if why, ok := (*m)[it.id]; ok {
			return "seeds not written in place in the store (kept in its log, retried at every checkpoint): " + why
		}
	}
	if v := it.view.Load(); v.failure != "" && int(it.nseeds.Load()) >= e.opts.MinSeeds {
		return "re-cluster failed: " + v.failure
	}
	return ""
}

// noteDeferred takes the result of a store write that may defer items (Apply,
// Checkpoint): nil or a *DeferredItemsError, whose items get the status
// failed, is success (the items' changes are durable); any other error is
// returned. It logs an item once when it is deferred and once when it no
// longer is. Caller holds diskMu, or runs before the committer starts.
func (e *Engine) noteDeferred(err error) error {
	var de *DeferredItemsError
	if err != nil && !errors.As(err, &de) {
		return err
	}
	var old map[string]string
	if p := e.deferred.Load(); p != nil {
		old = *p
	}
	if de == nil && len(old) == 0 {
		return nil
	}
	now := make(map[string]string)
	if de != nil {
		for id, why := range de.Items {
			now[id] = why.Error()
			if old[id] != now[id] {
				e.log.Error("item not written in place in the seed store; its changes are kept in the log and retried at every checkpoint", "item", shortID(id), "err", why)
			}
		}
	}
	for id := range old {
		if _, ok := now[id]; !ok {
			e.log.Info("deferred item written to the seed store", "item", shortID(id))
		}
	}
	e.deferred.Store(&now)
	return nil
}

// fail records a fatal store error: the engine keeps serving reads but
// refuses further writes.
func (e *Engine) fail(err error) {
	e.failed.CompareAndSwap(nil, &err)
	e.log.Error("seed store write failed; refusing further writes", "err", err)
}

// Ready reports whether the engine accepts writes: nil, or an error matching
// ErrClosed or ErrReadOnly (wrapping the store fault that caused it).
func (e *Engine) Ready() error {
	select {
	case <-e.quit:
		return ErrClosed
	default:
	}
	return e.failure()
}

// failure returns the recorded store error, if any.
func (e *Engine) failure() error {
	if p := e.failed.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrReadOnly, *p)
	}
	return nil
}
