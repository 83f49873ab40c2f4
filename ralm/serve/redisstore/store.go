package redisstore

import (
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for Config.
const (
	DefaultPrefix    = "ralm"
	DefaultUserCache = 100_000
	DefaultClaimIdle = 30 * time.Second
	DefaultLease     = 30 * time.Second
	// eventsMaxLen bounds the event stream (approximate trim).
	eventsMaxLen = 100_000
	// groupName is the consumer group of the re-cluster workers.
	groupName = "workers"
)

// Config says how to reach Redis and how the shared state is kept.
type Config struct {
	// URL of a standalone server (redis://HOST:PORT[/DB]); or
	ClusterAddrs []string // the seed nodes of a Redis Cluster
	URL          string
	// Prefix starts every key (default "ralm").
	Prefix string
	// UserCache bounds the local cache of user vectors (default 100,000;
	// negative disables it).
	UserCache int
	// WaitReplicas, if positive, makes Append wait (WAIT) until that many
	// replicas acknowledged the clicks, for at most WaitTimeout.
	WaitReplicas int
	WaitTimeout  time.Duration
}

// Store is a connection to the shared RALM state in Redis. It is safe for
// concurrent use.
type Store struct {
	cfg   Config
	rdb   redis.UniversalClient
	p     string // prefix
	cache *userCache
}

// Open connects to Redis and checks it answers.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.UserCache == 0 {
		cfg.UserCache = DefaultUserCache
	}
	var rdb redis.UniversalClient
	switch {
	case len(cfg.ClusterAddrs) > 0 && cfg.URL != "":
		return nil, errors.New("redis store: give a URL or cluster addresses, not both")
	case len(cfg.ClusterAddrs) > 0:
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.ClusterAddrs})
	case cfg.URL != "":
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("redis store: url %q: %w", cfg.URL, err)
		}
		rdb = redis.NewClient(o)
	default:
		return nil, errors.New("redis store: no URL or cluster addresses given")
	}
	s := &Store{cfg: cfg, rdb: rdb, p: cfg.Prefix, cache: newUserCache(cfg.UserCache)}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis store: ping: %w", err)
	}
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// Client is the underlying go-redis client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis store: ping: %w", err)
	}
	return nil
}

// Key names (see the package documentation).
func (s *Store) keyMeta() string     { return s.p + ":meta" }
func (s *Store) keyUpserted() string { return s.p + ":upserted" }
func (s *Store) keyUser(gen int64, u string) string {
	return s.p + ":u:" + strconv.FormatInt(gen, 10) + ":" + u
}
func (s *Store) keySeeds(item string) string    { return s.p + ":{item:" + item + "}:seeds" }
func (s *Store) keyItemMeta(item string) string { return s.p + ":{item:" + item + "}:meta" }
func (s *Store) keyState(item string) string    { return s.p + ":{item:" + item + "}:state" }
func (s *Store) keyStream() string              { return s.p + ":{clicks}:stream" }
func (s *Store) keyDirty() string               { return s.p + ":{sched}:dirty" }
func (s *Store) keyLease() string               { return s.p + ":{sched}:lease" }
func (s *Store) keyIndex() string               { return s.p + ":{index}:items" }
func (s *Store) keyEvents() string              { return s.p + ":{events}" }

// StreamKey is the key of the click stream, for producers that XADD directly.
func (s *Store) StreamKey() string { return s.keyStream() }

// encodeVec packs float32s little-endian.
func encodeVec(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decodeVec unpacks little-endian float32s.
func decodeVec(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("vector of %d bytes (not a multiple of 4)", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// Model is the model generation the shared state is built for.
type Model struct {
	ID  string // the model (bundle) id
	Gen int64  // generation: bumped by every publish
	Dim int    // user vector length
}

// CurrentModel returns the published model; Gen 0 means none yet.
func (s *Store) CurrentModel(ctx context.Context) (Model, error) {
	m, err := s.rdb.HGetAll(ctx, s.keyMeta()).Result()
	if err != nil {
		return Model{}, fmt.Errorf("redis store: read %s: %w", s.keyMeta(), err)
	}
	if m["gen"] == "" {
		return Model{}, nil // none yet (a first publish may be writing users)
	}
	gen, err1 := strconv.ParseInt(m["gen"], 10, 64)
	dim, err2 := strconv.Atoi(m["dim"])
	if err := errors.Join(err1, err2); err != nil {
		return Model{}, fmt.Errorf("redis store: %s: bad gen or dim: %w", s.keyMeta(), err)
	}
	return Model{ID: m["model"], Gen: gen, Dim: dim}, nil
}

// PublishBatch is the number of users written per pipeline by Publish.
const PublishBatch = 1000

// Publish writes a model's user vectors (ids[i] ↔ vecs[i*dim:(i+1)*dim])
// as a new generation, then switches the shared model to it, marks every
// item with a state for re-clustering, announces the new model and drops
// the vectors of the generation before the previous one. The previous
// generation stays readable, so a replica keeps serving it until the items'
// states of the new one are built, and no response mixes two models.
//
// Users upserted (UpsertUser) into the previous generation that the new
// model does not embed are carried over to the new generation when their
// vector has the new model's dim, as the embedded engine keeps them across
// a reload; users the new model embeds take the model's vector (it was
// trained on newer data), unless they are upserted again while Publish
// runs.
func (s *Store) Publish(ctx context.Context, modelID string, ids []string, vecs []float32, dim int) (Model, error) {
	if dim <= 0 || len(vecs) != len(ids)*dim {
		return Model{}, fmt.Errorf("redis store: publish: %d values for %d users of dim %d", len(vecs), len(ids), dim)
	}
	old, err := s.CurrentModel(ctx)
	if err != nil {
		return Model{}, err
	}
	gen, err := s.rdb.HIncrBy(ctx, s.keyMeta(), "next_gen", 1).Result()
	if err != nil {
		return Model{}, fmt.Errorf("redis store: publish: %w", err)
	}
	gen = max(gen, old.Gen+1)
	for lo := 0; lo < len(ids); lo += PublishBatch {
		if err := ctx.Err(); err != nil {
			return Model{}, fmt.Errorf("redis store: publish: %w", err)
		}
		hi := min(lo+PublishBatch, len(ids))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := lo; i < hi; i++ {
				p.Set(ctx, s.keyUser(gen, ids[i]), encodeVec(vecs[i*dim:(i+1)*dim]), 0)
			}
			return nil
		})
		if err != nil {
			return Model{}, fmt.Errorf("redis store: publish users %d-%d: %w", lo, hi-1, err)
		}
	}
	m := Model{ID: modelID, Gen: gen, Dim: dim}
	if old.Gen > 0 {
		if err := s.carryUpserted(ctx, old.Gen, m, ids); err != nil {
			return Model{}, err
		}
	}
	prev, err := s.rdb.HGet(ctx, s.keyMeta(), "prev").Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Model{}, fmt.Errorf("redis store: publish: read %s prev: %w", s.keyMeta(), err)
	}
	// The switch; the generation is no longer "being published" (upserts
	// reach it as the current one).
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keyMeta(), "model", modelID, "gen", gen, "dim", dim, "prev", old.Gen)
		p.HDel(ctx, s.keyMeta(), metaPubGen, metaPubDim)
		return nil
	})
	if err != nil {
		return Model{}, fmt.Errorf("redis store: publish: switch model: %w", err)
	}
	if err := s.markAllDirty(ctx); err != nil {
		return m, err
	}
	if err := s.announce(ctx, EventModel, modelID, gen); err != nil {
		return m, err
	}
	if prev > 0 {
		if err := s.dropUsers(ctx, prev); err != nil {
			return m, err
		}
	}
	return m, nil
}

// markAllDirty schedules every item with a state for re-clustering now.
func (s *Store) markAllDirty(ctx context.Context) error {
	now := time.Now().UnixMilli()
	iter := s.rdb.SScan(ctx, s.keyIndex(), 0, "", 1000).Iterator()
	var batch []redis.Z
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.rdb.ZAddArgs(ctx, s.keyDirty(), redis.ZAddArgs{LT: true, Members: batch}).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, redis.Z{Score: float64(now), Member: iter.Val()})
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return fmt.Errorf("redis store: schedule items: %w", err)
			}
		}
	}
	if err := errors.Join(iter.Err(), flush()); err != nil {
		return fmt.Errorf("redis store: schedule items: %w", err)
	}
	return nil
}

// dropUsers deletes the user vectors of generation gen (on every master).
func (s *Store) dropUsers(ctx context.Context, gen int64) error {
	pattern := s.p + ":u:" + strconv.FormatInt(gen, 10) + ":*"
	// One UNLINK per key: in a Cluster a multi-key UNLINK must stay in one slot.
	unlink := func(ctx context.Context, c *redis.Client, keys []string) error {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Unlink(ctx, k)
			}
			return nil
		})
		return err
	}
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 500 {
				if err := unlink(ctx, c, keys); err != nil {
					return err
				}
				keys = keys[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return unlink(ctx, c, keys)
	}
	if err := s.eachNode(ctx, scan); err != nil {
		return fmt.Errorf("redis store: drop users of generation %d: %w", gen, err)
	}
	return nil
}

// eachNode runs f on every master of a cluster client, or on the single
// client; any other client type is an error.
func (s *Store) eachNode(ctx context.Context, f func(context.Context, *redis.Client) error) error {
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, f)
	case *redis.Client:
		return f(ctx, c)
	}
	return errors.New("unsupported client type")
}

// Users returns the vectors of the given users in generation gen (nil for
// an unknown user), from the local cache when possible.
func (s *Store) Users(ctx context.Context, gen int64, ids []string) ([][]float32, error) {
	out := make([][]float32, len(ids))
	var miss []int
	for i, id := range ids {
		if v, ok := s.cache.get(gen, id); ok {
			out[i] = v
		} else {
			miss = append(miss, i)
		}
	}
	for lo := 0; lo < len(miss); lo += PublishBatch {
		part := miss[lo:min(lo+PublishBatch, len(miss))]
		// A vector read before an invalidation that lands during the read
		// must not be cached: put only if no drop happened meanwhile.
		epoch := s.cache.epoch()
		cmds := make([]*redis.StringCmd, len(part))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j, i := range part {
				cmds[j] = p.Get(ctx, s.keyUser(gen, ids[i]))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("redis store: read users: %w", err)
		}
		for j, i := range part {
			b, err := cmds[j].Bytes()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("redis store: read user %q: %w", ids[i], err)
			}
			v, err := decodeVec(b)
			if err != nil {
				return nil, fmt.Errorf("redis store: user %q: %w", ids[i], err)
			}
			out[i] = v
			s.cache.putIf(epoch, gen, ids[i], v)
		}
	}
	return out, nil
}

// UpsertUser writes one user's vector in generation gen and announces it,
// so every replica drops its cached copy. It records the user as upserted
// (so that Publish carries it over to the next model), and writes the
// vector into a newer generation too when one is published or being
// published and has the vector's dim, so an upsert made while replicas
// still serve the previous generation is not lost to the new one.
func (s *Store) UpsertUser(ctx context.Context, gen int64, id string, vec []float32) error {
	enc := encodeVec(vec)
	if err := s.rdb.Set(ctx, s.keyUser(gen, id), enc, 0).Err(); err != nil {
		return fmt.Errorf("redis store: upsert user %q: %w", id, err)
	}
	if err := s.rdb.SAdd(ctx, s.keyUpserted(), id).Err(); err != nil {
		return fmt.Errorf("redis store: upsert user %q: record in %s: %w", id, s.keyUpserted(), err)
	}
	newer, err := s.newerGens(ctx, gen, len(vec))
	if err != nil {
		return fmt.Errorf("redis store: upsert user %q: %w", id, err)
	}
	for _, g := range newer {
		if err := s.rdb.Set(ctx, s.keyUser(g, id), enc, 0).Err(); err != nil {
			return fmt.Errorf("redis store: upsert user %q into generation %d: %w", id, g, err)
		}
	}
	s.cache.drop(id)
	if err := s.announce(ctx, EventUser, id, gen); err != nil {
		return err
	}
	return nil
}

// InvalidateUser drops a user from the local cache (on a user event).
func (s *Store) InvalidateUser(id string) { s.cache.drop(id) }

// ClearUserCache empties the local cache (after missing events).
func (s *Store) ClearUserCache() { s.cache.clear() }

// userCache is a bounded LRU cache of user vectors keyed by generation and id.
type userCache struct {
	mu    sync.Mutex
	max   int
	drops uint64 // bumped by every drop and clear
	ll    *list.List
	m     map[string]*list.Element // user id → element
}

type cacheEntry struct {
	id  string
	gen int64
	vec []float32
}

func newUserCache(n int) *userCache {
	return &userCache{max: n, ll: list.New(), m: make(map[string]*list.Element)}
}

func (c *userCache) get(gen int64, id string) ([]float32, bool) {
	if c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || e.Value.(*cacheEntry).gen != gen {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).vec, true
}

func (c *userCache) putLocked(gen int64, id string, v []float32) {
	if e, ok := c.m[id]; ok {
		e.Value = &cacheEntry{id: id, gen: gen, vec: v}
		c.ll.MoveToFront(e)
		return
	}
	c.m[id] = c.ll.PushFront(&cacheEntry{id: id, gen: gen, vec: v})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(*cacheEntry).id)
	}
}

// epoch is the number of invalidations so far.
func (c *userCache) epoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drops
}

// putIf caches v unless an invalidation happened since epoch.
func (c *userCache) putIf(epoch uint64, gen int64, id string, v []float32) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drops == epoch {
		c.putLocked(gen, id, v)
	}
}

func (c *userCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drops++
	if e, ok := c.m[id]; ok {
		c.ll.Remove(e)
		delete(c.m, id)
	}
}

func (c *userCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drops++
	c.ll.Init()
	clear(c.m)
}

func (c *userCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// SetClientLogger routes the go-redis client's own log lines (for example
// every failed dial while Redis is down, printed on stderr by default) to
// l at debug level, for every client of the process; the store's callers
// report the failures themselves. A nil l discards them.
func SetClientLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	redis.SetLogger(clientLogger{l})
}

// clientLogger adapts a slog.Logger to go-redis's logger interface.
type clientLogger struct{ l *slog.Logger }

func (c clientLogger) Printf(ctx context.Context, format string, v ...any) {
	c.l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
