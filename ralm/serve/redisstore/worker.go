package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Builder computes an item's state from its seeds: their user ids (oldest
// first) and vectors (len(ids)×m.Dim, row-major, in the same order),
// warm-started from prev (nil, or a state of any generation). The serving
// layer supplies it (serve.Replica uses lookalike.Model.NewItem), so the
// state is computed by the same code as in the embedded store. It fills K,
// Centroids, Weights and Global; the worker fills the rest. It is
// called only with at least one seed.
//
// An error matching ErrNoModel says that this worker cannot build with m at
// all (its model folder does not hold that generation): the item is not
// marked failed but given back to the other workers at once, and this
// worker claims no item for WorkerConfig.NoModelRetry while that generation
// is current. Any other error is the item's failed build (see "Failed builds").
type Builder func(ctx context.Context, m Model, item string, ids []string, seeds []float32, prev *State) (*State, error)

// ErrNoModel is matched by the error of a Builder that cannot build with
// the model generation it was given, whatever the item.
var ErrNoModel = errors.New("redis worker: the model generation is not available to this worker")

// DefaultNoModelRetry is the default WorkerConfig.NoModelRetry.
const DefaultNoModelRetry = 5 * time.Second

// WorkerConfig configures a Worker. Zero values select defaults.
type WorkerConfig struct {
	// Name is the consumer name in the group; unique per worker (default:
	// a random one).
	Name string
	// MaxSeeds is the number of latest distinct seeds kept per item.
	MaxSeeds int
	// MinSeeds is the seed count from which an item gets centroids; items
	// below it get a mean-only state at once, and an item reaching it is
	// re-clustered at once.
	MinSeeds int
	// ReclusterInterval is how long after its first change an item is
	// re-clustered.
	ReclusterInterval time.Duration
	// ClaimIdle is how long an entry stays pending (delivered to a worker,
	// not acknowledged) before another worker claims it (default 30 s).
	ClaimIdle time.Duration
	// Lease is how long a worker may take to re-cluster an item before
	// another may (default 30 s).
	Lease time.Duration
	// NoModelRetry is how long a worker whose Builder failed with
	// ErrNoModel claims no item while that generation is current, leaving
	// them to workers that have its model (default 5 s).
	NoModelRetry time.Duration
	// Batch is the number of stream entries read at once (default 500).
	Batch int
	// Build computes states (required).
	Build Builder
	// OnBuild, if set, is called after every re-cluster (err nil on success).
	OnBuild func(item string, seeds int, d time.Duration, err error)
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger
}

// Worker consumes the click stream through the consumer group, keeps the
// items' seeds and re-clusters the changed items. Any number of workers may
// run, in one or many processes.
type Worker struct {
	s   *Store
	cfg WorkerConfig
	log *slog.Logger

	applied  atomic.Int64 // entries applied
	rejected atomic.Int64 // entries skipped (malformed, unknown user)
	built    atomic.Int64 // states written
	failed   atomic.Int64 // re-clusters that failed

	// noModelGen is a generation the Builder cannot build with
	// (ErrNoModel): no item is claimed while it is current, until
	// noModelUntil. Used by the Run goroutine only.
	noModelGen   int64
	noModelUntil time.Time

	// hook, if set (by tests), is called at the crash points of apply:
	// stageRead and stageApplied.
	hook func(stage string, entries int)
}

// Crash points of Worker.apply, for tests that kill a worker there.
const (
	// stageRead: entries read from the group, nothing applied yet.
	stageRead = "read"
	// stageApplied: the entries' seeds written, the items not yet
	// scheduled and the entries not acknowledged.
	stageApplied = "applied"
)

// NewWorker returns a worker on the store.
func NewWorker(s *Store, cfg WorkerConfig) (*Worker, error) {
	if cfg.Build == nil {
		return nil, errors.New("redis worker: no Build function")
	}
	if cfg.MaxSeeds <= 0 || cfg.MinSeeds <= 0 || cfg.ReclusterInterval <= 0 {
		return nil, fmt.Errorf("redis worker: MaxSeeds %d, MinSeeds %d and ReclusterInterval %v must be positive", cfg.MaxSeeds, cfg.MinSeeds, cfg.ReclusterInterval)
	}
	if cfg.Name == "" {
		cfg.Name = "w-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if cfg.ClaimIdle <= 0 {
		cfg.ClaimIdle = DefaultClaimIdle
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.NoModelRetry <= 0 {
		cfg.NoModelRetry = DefaultNoModelRetry
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Worker{s: s, cfg: cfg, log: log.With("worker", cfg.Name)}, nil
}

// WorkerStats are a worker's counters.
type WorkerStats struct {
	Applied, Rejected, Built, Failed int64
}

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{Applied: w.applied.Load(), Rejected: w.rejected.Load(), Built: w.built.Load(), Failed: w.failed.Load()}
}

// ensureGroup creates the stream and the consumer group if missing.
func (w *Worker) ensureGroup(ctx context.Context) error {
	err := w.s.rdb.XGroupCreateMkStream(ctx, w.s.keyStream(), groupName, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redis worker: create group %s on %s: %w", groupName, w.s.keyStream(), err)
	}
	return nil
}

// Run works until ctx ends; a Redis error is logged and retried after a
// pause, so the worker resumes by itself when Redis returns. It returns
// ctx's error.
func (w *Worker) Run(ctx context.Context) error {
	var lastClaim, lastTrim time.Time
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := w.ensureGroup(ctx)
		if err == nil && time.Since(lastClaim) >= w.cfg.ClaimIdle/2 {
			err = w.claimPending(ctx)
			lastClaim = time.Now()
		}
		if err == nil {
			// Drain up to 20 full batches before re-clustering, so that a
			// backlog is applied at stream speed, not at re-cluster speed.
			n, block := 0, 200*time.Millisecond
			for i := 0; i < 20 && err == nil; i++ {
				if n, err = w.readOnce(ctx, block); n < w.cfg.Batch {
					break
				}
				block = -1 // XREADGROUP without BLOCK
			}
		}
		if err == nil {
			err = w.reclusterDue(ctx)
		}
		if err == nil && time.Since(lastTrim) >= 10*time.Second {
			err = w.trim(ctx)
			lastTrim = time.Now()
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("redis worker", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
	return ctx.Err()
}

// readOnce reads new entries for this worker (blocking up to block; a
// negative block does not block), applies and acknowledges them, and returns how many it
// read.
func (w *Worker) readOnce(ctx context.Context, block time.Duration) (int, error) {
	res, err := w.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: groupName, Consumer: w.cfg.Name, Streams: []string{w.s.keyStream(), ">"},
		Count: int64(w.cfg.Batch), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redis worker: read %s: %w", w.s.keyStream(), err)
	}
	n := 0
	for _, st := range res {
		n += len(st.Messages)
		if err := w.apply(ctx, st.Messages, false); err != nil {
			return n, err
		}
	}
	return n, nil
}

// claimPending takes over the entries left pending by workers idle for
// ClaimIdle (crashed between reading and acknowledging) and applies them.
func (w *Worker) claimPending(ctx context.Context) error {
	start := "0-0"
	for {
		msgs, next, err := w.s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: w.s.keyStream(), Group: groupName, Consumer: w.cfg.Name,
			MinIdle: w.cfg.ClaimIdle, Start: start, Count: int64(w.cfg.Batch),
		}).Result()
		if err != nil {
			return fmt.Errorf("redis worker: claim pending entries: %w", err)
		}
		if len(msgs) > 0 {
			w.log.Info("claimed pending entries", "n", len(msgs))
			if err := w.apply(ctx, msgs, true); err != nil {
				return err
			}
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
}

// applyScript applies one item's entries in order: ARGV = max seeds, now
// (Unix ms), then triples op ('a' add, 'd' delete up to score), score, user.
// It trims to the latest max seeds, bumps the version on a change, and
// deletes the item's keys when no seed is left. It returns {changed,
// seeds before, seeds after}.
var applyScript = redis.NewScript(`
local seeds, meta, state = KEYS[1], KEYS[2], KEYS[3]
local maxs = tonumber(ARGV[1])
local now = ARGV[2]
local before = redis.call('ZCARD', seeds)
local changed = 0
for i = 3, #ARGV, 3 do
  if ARGV[i] == 'a' then
    changed = changed + redis.call('ZADD', seeds, 'NX', ARGV[i+1], ARGV[i+2])
  else
    changed = changed + redis.call('ZREMRANGEBYSCORE', seeds, '-inf', ARGV[i+1])
  end
end
local n = redis.call('ZCARD', seeds)
if n > maxs then
  redis.call('ZREMRANGEBYRANK', seeds, 0, n - maxs - 1)
  n = maxs
end
if n == 0 then
  redis.call('DEL', seeds, meta, state)
  return {changed, before, 0}
end
if changed > 0 then
  redis.call('HINCRBY', meta, 'ver', 1)
  redis.call('HSETNX', meta, 'created', now)
  redis.call('HSET', meta, 'last', now)
end
return {changed, before, n}
`)

// itemOps collects one item's entries of a batch.
type itemOps struct {
	args    []any
	deleted bool
}

// apply applies entries to the items' seeds, schedules the changed items
// and acknowledges the entries. replay marks entries claimed from another
// worker: their items are scheduled even if nothing changed (the other
// worker may have changed the seeds and died before scheduling).
func (w *Worker) apply(ctx context.Context, msgs []redis.XMessage, replay bool) error {
	if w.hook != nil {
		w.hook(stageRead, len(msgs))
	}
	m, err := w.s.CurrentModel(ctx)
	if err != nil {
		return err
	}
	ops := make(map[string]*itemOps)
	var order []string
	var users []string
	var userAt []int // message index per user lookup
	valid := make([]bool, len(msgs))
	for i, msg := range msgs {
		item, user := str(msg.Values[FieldItem]), str(msg.Values[FieldUser])
		del := str(msg.Values[FieldOp]) == OpDelete
		if item == "" || (!del && user == "") {
			w.rejected.Add(1)
			w.log.Warn("skip malformed click entry", "id", msg.ID)
			continue
		}
		valid[i] = true
		if !del {
			users = append(users, user)
			userAt = append(userAt, i)
		}
	}
	if m.Gen > 0 && len(users) > 0 {
		vecs, err := w.s.Users(ctx, m.Gen, users)
		if err != nil {
			return err
		}
		for j, v := range vecs {
			if v == nil {
				valid[userAt[j]] = false
				w.rejected.Add(1)
			}
		}
	}
	for i, msg := range msgs {
		if !valid[i] {
			continue
		}
		item := str(msg.Values[FieldItem])
		sc, err := arrivalScore(msg.ID)
		if err != nil {
			return fmt.Errorf("redis worker: %w", err)
		}
		op := ops[item]
		if op == nil {
			op = &itemOps{}
			ops[item] = op
			order = append(order, item)
		}
		if str(msg.Values[FieldOp]) == OpDelete {
			op.args = append(op.args, "d", sc, "")
			op.deleted = true
		} else {
			op.args = append(op.args, "a", sc, str(msg.Values[FieldUser]))
		}
		w.applied.Add(1)
	}
	now := time.Now().UnixMilli()
	var due []redis.Z
	var gone []string
	// One pipeline of EVALSHA (one round trip per node), then a plain run
	// (EVAL, which caches the script) for the items whose node did not
	// know the script yet.
	keys := func(item string) []string {
		return []string{w.s.keySeeds(item), w.s.keyItemMeta(item), w.s.keyState(item)}
	}
	argsOf := func(item string) []any { return append([]any{w.cfg.MaxSeeds, now}, ops[item].args...) }
	cmds := make([]*redis.Cmd, len(order))
	_, _ = w.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, item := range order {
			cmds[i] = applyScript.EvalSha(ctx, p, keys(item), argsOf(item)...)
		}
		return nil
	})
	for i, item := range order {
		op := ops[item]
		r, err := cmds[i].Int64Slice()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			r, err = applyScript.Run(ctx, w.s.rdb, keys(item), argsOf(item)...).Int64Slice()
		}
		if err != nil {
			return fmt.Errorf("redis worker: apply clicks of item %q: %w", item, err)
		}
		changed, before, after := r[0], r[1], r[2]
		switch {
		case after == 0:
			if before > 0 || op.deleted {
				gone = append(gone, item)
			}
		case changed > 0 || replay:
			at := now + w.cfg.ReclusterInterval.Milliseconds()
			if after < int64(w.cfg.MinSeeds) || before < int64(w.cfg.MinSeeds) {
				at = 0 // cold (mean only, cheap) or just reached MinSeeds
			}
			due = append(due, redis.Z{Score: float64(at), Member: item})
		}
	}
	if w.hook != nil {
		w.hook(stageApplied, len(msgs))
	}
	if len(due) > 0 {
		if err := w.s.rdb.ZAddArgs(ctx, w.s.keyDirty(), redis.ZAddArgs{LT: true, Members: due}).Err(); err != nil {
			return fmt.Errorf("redis worker: schedule %d items: %w", len(due), err)
		}
	}
	for _, item := range gone {
		if err := w.s.forget(ctx, item, m.Gen); err != nil {
			return err
		}
	}
	ids := make([]string, len(msgs))
	for i, msg := range msgs {
		ids[i] = msg.ID
	}
	if len(ids) > 0 {
		if err := w.s.rdb.XAck(ctx, w.s.keyStream(), groupName, ids...).Err(); err != nil {
			return fmt.Errorf("redis worker: acknowledge %d entries: %w", len(ids), err)
		}
	}
	return nil
}

// forget removes a deleted item from the index and the schedule and
// announces it.
func (s *Store) forget(ctx context.Context, item string, gen int64) error {
	if err := s.rdb.SRem(ctx, s.keyIndex(), item).Err(); err != nil {
		return fmt.Errorf("redis store: unindex item %q: %w", item, err)
	}
	if err := s.rdb.ZRem(ctx, s.keyDirty(), item).Err(); err != nil {
		return fmt.Errorf("redis store: unschedule item %q: %w", item, err)
	}
	return s.announce(ctx, EventDelete, item, gen)
}

// claimScript moves up to ARGV[3] due items (score ≤ now) from the dirty set
// to the lease set (deadline now + ARGV[2] ms), skipping leased items, after
// returning expired leases to the dirty set.
var claimScript = redis.NewScript(`
local dirty, lease = KEYS[1], KEYS[2]
local now, len, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', lease, '-inf', now)) do
  redis.call('ZREM', lease, m)
  redis.call('ZADD', dirty, 'LT', now, m)
end
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', dirty, '-inf', now, 'LIMIT', 0, count * 4)) do
  if #out >= count then break end
  if not redis.call('ZSCORE', lease, m) then
    redis.call('ZREM', dirty, m)
    redis.call('ZADD', lease, now + len, m)
    out[#out + 1] = m
  end
end
return out
`)

// reclusterDue re-clusters the items that are due, a few at a time.
func (w *Worker) reclusterDue(ctx context.Context) error {
	for ctx.Err() == nil {
		if w.noModelGen != 0 {
			if time.Now().After(w.noModelUntil) {
				w.noModelGen = 0
			} else if m, err := w.s.CurrentModel(ctx); err != nil {
				return err
			} else if m.Gen == w.noModelGen {
				return nil // left to the workers that have the model
			}
		}
		items, err := claimScript.Run(ctx, w.s.rdb, []string{w.s.keyDirty(), w.s.keyLease()},
			time.Now().UnixMilli(), w.cfg.Lease.Milliseconds(), 16).StringSlice()
		if err != nil {
			return fmt.Errorf("redis worker: claim due items: %w", err)
		}
		if len(items) == 0 {
			return nil
		}
		m, err := w.s.CurrentModel(ctx)
		if err != nil {
			return err
		}
		for _, item := range items {
			if m.Gen == w.noModelGen {
				err = w.giveBack(ctx, item)
			} else {
				err = w.buildItem(ctx, m, item)
			}
			if err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// buildItem re-clusters one leased item and writes its state. A Redis
// error is returned (the lease expires and another worker retries); a
// build error is counted, logged and written as a failed state of the
// generation (failedState), and the item waits for its next change rather
// than being retried in a loop.
func (w *Worker) buildItem(ctx context.Context, m Model, item string) error {
	defer w.s.rdb.ZRem(context.WithoutCancel(ctx), w.s.keyLease(), item)
	if m.Gen == 0 {
		return nil // no model published yet: nothing to build with
	}
	ver, err := w.s.rdb.HGet(ctx, w.s.keyItemMeta(item), "ver").Int64()
	if errors.Is(err, redis.Nil) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("redis worker: read version of item %q: %w", item, err)
	}
	seeds, err := w.s.Seeds(ctx, item)
	if err != nil {
		return err
	}
	vecs, err := w.s.Users(ctx, m.Gen, seeds)
	if err != nil {
		return err
	}
	flat := make([]float32, 0, len(seeds)*m.Dim)
	ids := make([]string, 0, len(seeds))
	for i, v := range vecs {
		if len(v) == m.Dim {
			flat = append(flat, v...)
			ids = append(ids, seeds[i])
		}
	}
	n := len(ids)
	if n == 0 {
		return nil
	}
	prev, err := w.s.LoadState(ctx, item)
	if err != nil {
		return err
	}
	start := time.Now()
	st, berr := w.cfg.Build(ctx, m, item, ids, flat, prev)
	if w.cfg.OnBuild != nil {
		w.cfg.OnBuild(item, n, time.Since(start), berr)
	}
	if berr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(berr, ErrNoModel) {
			// Not the item's failure: leave it to a worker that has the model.
			w.log.Warn("cannot build with this model generation; leaving the items to other workers", "gen", m.Gen, "err", berr, "for", w.cfg.NoModelRetry)
			w.noModelGen, w.noModelUntil = m.Gen, time.Now().Add(w.cfg.NoModelRetry)
			return w.giveBack(ctx, item)
		}
		w.failed.Add(1)
		w.log.Warn("re-cluster failed; the item has status failed until a build succeeds (retried when its seeds change)", "item", item, "seeds", n, "err", berr)
		if err := w.s.writeState(ctx, item, failedState(m, prev, ver, n, berr)); err != nil {
			return err
		}
		return nil
	}
	st.Gen, st.Model, st.Ver, st.Seeds, st.BuiltAt = m.Gen, m.ID, ver, n, time.Now()
	if err := w.s.writeState(ctx, item, st); err != nil {
		return err
	}
	w.built.Add(1)
	return nil
}

// giveBack makes a leased item due at once for the other workers (the
// lease is removed by the caller, or by itself when it is not built).
func (w *Worker) giveBack(ctx context.Context, item string) error {
	err := w.s.rdb.ZAddArgs(ctx, w.s.keyDirty(), redis.ZAddArgs{LT: true, Members: []redis.Z{{Score: float64(time.Now().UnixMilli()), Member: item}}}).Err()
	if err == nil {
		err = w.s.rdb.ZRem(ctx, w.s.keyLease(), item).Err()
	}
	if err != nil {
		return fmt.Errorf("redis worker: give item %q back: %w", item, err)
	}
	return nil
}

// failedState is the state written when the build of an item's seed
// version ver (n seeds) with model m failed: a failure of m's generation,
// so that replicas count the item as built for it and switch to it, and
// report the item failed. It keeps the state built before with the same
// generation, if one was (replicas keep scoring with it), and nothing of
// an older generation (no response mixes two models).
func failedState(m Model, prev *State, ver int64, n int, err error) *State {
	st := &State{Gen: m.Gen, Model: m.ID}
	if prev != nil && prev.Gen == m.Gen && prev.Built() {
		*st = *prev
	}
	st.Failed = &Failure{Reason: FailureReason(err), Ver: ver, Seeds: n, At: time.Now()}
	return st
}

// MaxReason caps the length of a failure reason, in bytes.
const MaxReason = 300

// FailureReason is the reason of an item's status failed: err's message,
// short and fit for any client to see. A file path (a word starting with
// /, ./, ../ or ~/, quoted or not) is cut to its base name, and the text to
// MaxReason bytes. The embedded engine (serve.Engine) uses it too.
func FailureReason(err error) string {
	words := strings.Fields(err.Error())
	for i, wd := range words {
		lead := wd[:len(wd)-len(strings.TrimLeft(wd, "\"'(["))]
		body := strings.TrimRight(wd[len(lead):], "\"'):,;]")
		trail := wd[len(lead)+len(body):]
		for _, p := range []string{"/", "./", "../", "~/"} {
			if strings.HasPrefix(body, p) {
				words[i] = lead + filepath.Base(body) + trail
				break
			}
		}
	}
	msg := strings.Join(words, " ")
	if len(msg) > MaxReason {
		msg = strings.ToValidUTF8(msg[:MaxReason], "") + "..."
	}
	return msg
}

// trim drops the acknowledged head of the click stream: entries older
// than both the oldest pending entry and the group's last delivered one.
func (w *Worker) trim(ctx context.Context) error {
	groups, err := w.s.rdb.XInfoGroups(ctx, w.s.keyStream()).Result()
	if err != nil {
		return fmt.Errorf("redis worker: stream groups: %w", err)
	}
	minID := ""
	for _, g := range groups {
		if g.Name == groupName {
			minID = g.LastDeliveredID
		}
	}
	if minID == "" || minID == "0-0" {
		return nil
	}
	p, err := w.s.rdb.XPending(ctx, w.s.keyStream(), groupName).Result()
	if err != nil {
		return fmt.Errorf("redis worker: pending summary: %w", err)
	}
	if p.Count > 0 && lessID(p.Lower, minID) {
		minID = p.Lower
	}
	if err := w.s.rdb.XTrimMinIDApprox(ctx, w.s.keyStream(), minID, 0).Err(); err != nil {
		return fmt.Errorf("redis worker: trim %s: %w", w.s.keyStream(), err)
	}
	return nil
}

// lessID compares two stream ids "ms-seq".
func lessID(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	x, _ := strconv.ParseUint(am, 10, 64)
	y, _ := strconv.ParseUint(bm, 10, 64)
	if x != y {
		return x < y
	}
	x, _ = strconv.ParseUint(as, 10, 64)
	y, _ = strconv.ParseUint(bs, 10, 64)
	return x < y
}
