package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// State is an item's computed state as kept in Redis: what a replica needs
// to score the item (it rebuilds the scorer's state from Centroids and
// Weights with the model of generation Gen).
type State struct {
	Gen     int64     // model generation the state was built with
	Model   string    // model id of that generation
	Ver     int64     // the item's seed version it was built from
	Seeds   int       // seeds behind the state
	BuiltAt time.Time // when it was built
	// K centroids (K×h row-major), their sizes and the pooled global vector;
	// a cold item (fewer than MinSeeds seeds) has them too (one score scale:
	// it is scored by the look-alike model over its few seeds). K = 0 only
	// in states of versions before that, which kept only a mean seed vector
	// (field "mean", no longer read); a replica does not score those
	// (RestoreItem refuses them) until rebuilt.
	K         int
	Centroids []float32
	Weights   []float32
	Global    []float32
	// Failed, when not nil, records that the item's last build with
	// generation Gen failed: the item counts as built for Gen (a replica
	// can switch to it) and has the status failed. The fields above are
	// then those of the last state built with Gen, if one was (it is still
	// scored), and zero if none was (K = 0, BuiltAt zero: nothing of Gen to
	// score with). A later successful build replaces the whole state.
	Failed *Failure
}

// Failure is a failed build of an item's state.
type Failure struct {
	Reason string    // the build error, short and without file paths (FailureReason)
	Ver    int64     // the item's seed version the build was given
	Seeds  int       // seeds the build was given
	At     time.Time // when it failed
}

// Age is how long ago the state was built.
func (st *State) Age(now time.Time) time.Duration { return now.Sub(st.BuiltAt) }

// Built reports whether the state holds a built state of its generation
// (false only for a failed state with nothing of its generation to score).
func (st *State) Built() bool { return !st.BuiltAt.IsZero() }

// changed is when the state last changed: its build, or its failure.
func (st *State) changed() time.Time {
	if st.Failed != nil && st.Failed.At.After(st.BuiltAt) {
		return st.Failed.At
	}
	return st.BuiltAt
}

// Fields of a failed state (State.Failed) in the item's state hash.
const (
	fieldFail      = "fail"       // the reason
	fieldFailVer   = "fail_ver"   // the seed version the build was given
	fieldFailSeeds = "fail_seeds" // seeds the build was given
	fieldFailAt    = "fail_at"    // Unix ms of the failure
)

// writeState replaces an item's state (a built or a failed one), indexes
// the item and announces it.
func (s *Store) writeState(ctx context.Context, item string, st *State) error {
	key := s.keyState(item)
	var built int64 // 0: nothing built with st.Gen (a failed state)
	if st.Built() {
		built = st.BuiltAt.UnixMilli()
	}
	fields := []any{
		"gen", st.Gen, "model", st.Model, "ver", st.Ver, "seeds", st.Seeds,
		"built", built, "k", st.K,
		"cent", encodeVec(st.Centroids), "wts", encodeVec(st.Weights),
		"glob", encodeVec(st.Global),
	}
	if f := st.Failed; f != nil {
		fields = append(fields, fieldFail, f.Reason, fieldFailVer, f.Ver, fieldFailSeeds, f.Seeds, fieldFailAt, f.At.UnixMilli())
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, fields...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis store: write state of item %q: %w", item, err)
	}
	if err := s.rdb.SAdd(ctx, s.keyIndex(), item).Err(); err != nil {
		return fmt.Errorf("redis store: index item %q: %w", item, err)
	}
	return s.announce(ctx, EventState, item, st.Gen)
}

// LoadState returns an item's state, or nil if it has none.
func (s *Store) LoadState(ctx context.Context, item string) (*State, error) {
	sts, err := s.LoadStates(ctx, []string{item})
	if err != nil {
		return nil, err
	}
	return sts[0], nil
}

// LoadStates returns the states of the given items (nil for an item
// without one), in one pipeline.
func (s *Store) LoadStates(ctx context.Context, items []string) ([]*State, error) {
	cmds := make([]*redis.MapStringStringCmd, len(items))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, it := range items {
			cmds[i] = p.HGetAll(ctx, s.keyState(it))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis store: read item states: %w", err)
	}
	out := make([]*State, len(items))
	for i, c := range cmds {
		m := c.Val()
		if len(m) == 0 {
			continue
		}
		st, err := parseState(m)
		if err != nil {
			return nil, fmt.Errorf("redis store: %s: %w", s.keyState(items[i]), err)
		}
		out[i] = st
	}
	return out, nil
}

func parseState(m map[string]string) (*State, error) {
	var errs []error
	num := func(f string) int64 {
		v, err := strconv.ParseInt(m[f], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", f, err))
		}
		return v
	}
	vec := func(f string) []float32 {
		v, err := decodeVec([]byte(m[f]))
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", f, err))
		}
		return v
	}
	st := &State{
		Gen: num("gen"), Model: m["model"], Ver: num("ver"), Seeds: int(num("seeds")),
		K: int(num("k")), Centroids: vec("cent"), Weights: vec("wts"), Global: vec("glob"),
	}
	if ms := num("built"); ms != 0 {
		st.BuiltAt = time.UnixMilli(ms)
	}
	if reason, ok := m[fieldFail]; ok {
		st.Failed = &Failure{Reason: reason, Ver: num(fieldFailVer), Seeds: int(num(fieldFailSeeds)), At: time.UnixMilli(num(fieldFailAt))}
	} else if !st.Built() {
		errs = append(errs, errors.New("field built: 0 in a state that did not fail"))
	}
	if len(st.Weights) != st.K {
		errs = append(errs, fmt.Errorf("%d weights for k=%d", len(st.Weights), st.K))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return st, nil
}

// Items calls fn for every item that has a state, until fn returns false.
func (s *Store) Items(ctx context.Context, fn func(item string) bool) error {
	iter := s.rdb.SScan(ctx, s.keyIndex(), 0, "", 1000).Iterator()
	for iter.Next(ctx) {
		if !fn(iter.Val()) {
			return nil
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redis store: list items: %w", err)
	}
	return nil
}

// Seeds returns an item's seed users, oldest first.
func (s *Store) Seeds(ctx context.Context, item string) ([]string, error) {
	v, err := s.rdb.ZRange(ctx, s.keySeeds(item), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: read seeds of item %q: %w", item, err)
	}
	return v, nil
}

// ---- the event stream: every change of a state (and of an item, a user
// vector or the model) is announced for the mirrors of the replicas ----

// EventKind is what an event on the event stream announces.
type EventKind string

// Event kinds.
const (
	EventState  EventKind = "state"  // an item's new state (built or failed) was written
	EventDelete EventKind = "delete" // an item was deleted
	EventUser   EventKind = "user"   // a user's vector was upserted
	EventModel  EventKind = "model"  // a new model generation was published
)

// Event is one announcement read from the event stream.
type Event struct {
	ID   string    // stream entry id
	Kind EventKind // what changed
	Key  string    // the item, user or model id
	Gen  int64     // the model generation concerned
}

// announce appends an event to the event stream (trimmed to about
// eventsMaxLen entries).
func (s *Store) announce(ctx context.Context, kind EventKind, key string, gen int64) error {
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: s.keyEvents(), MaxLen: eventsMaxLen, Approx: true,
		Values: []any{"t", string(kind), "id", key, "gen", gen},
	}).Err()
	if err != nil {
		return fmt.Errorf("redis store: announce %s %q: %w", kind, key, err)
	}
	return nil
}

// LastEventID is the id of the newest event ("0-0" when there is none):
// read it before loading the states, then Follow from it, and nothing is
// missed.
func (s *Store) LastEventID(ctx context.Context) (string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.keyEvents(), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("redis store: read events: %w", err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// Follow calls fn for every event after the id from, in order, until ctx
// ends, Redis fails or fn returns an error; it returns the id of the last
// event handled (to resume from) and the error.
func (s *Store) Follow(ctx context.Context, from string, block time.Duration, fn func(Event) error) (string, error) {
	if block <= 0 {
		block = time.Second
	}
	for {
		res, err := s.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{s.keyEvents(), from}, Count: 1000, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return from, ctx.Err()
			}
			return from, fmt.Errorf("redis store: follow events: %w", err)
		}
		for _, st := range res {
			for _, m := range st.Messages {
				gen, _ := strconv.ParseInt(str(m.Values["gen"]), 10, 64)
				if err := fn(Event{ID: m.ID, Kind: EventKind(str(m.Values["t"])), Key: str(m.Values["id"]), Gen: gen}); err != nil {
					return from, err
				}
				from = m.ID
			}
		}
	}
}

// str returns a stream field value as a string ("" if absent).
func str(v any) string {
	s, _ := v.(string)
	return s
}
