package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Mirror is a replica's in-memory copy of the shared item states and of the
// current model. It loads every state, then follows the event stream, so a
// state written by any worker is picked up within one event read (Block,
// default 200 ms). When Redis fails, the mirror keeps its states and
// reports itself stale; it resynchronises by itself when Redis returns.
type Mirror struct {
	s     *Store
	block time.Duration
	log   *slog.Logger

	mu     sync.RWMutex
	model  Model
	states map[string]*State
	// prev holds the states of older generations that newer ones replaced
	// since the last DropBefore, so a replica can finish serving the
	// previous model while the items are rebuilt for the new one.
	prev map[string]*State

	stale   atomic.Bool
	synced  atomic.Bool // a first full load completed
	lastErr atomic.Pointer[error]
	events  atomic.Int64
}

// MirrorOptions configure a Mirror.
type MirrorOptions struct {
	// Block is how long one event read waits (default 200 ms).
	Block time.Duration
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger
}

// NewMirror returns an empty mirror of the store's states; Run fills it.
func NewMirror(s *Store, o MirrorOptions) *Mirror {
	if o.Block <= 0 {
		o.Block = 200 * time.Millisecond
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Mirror{s: s, block: o.Block, log: log, states: make(map[string]*State), prev: make(map[string]*State)}
	m.stale.Store(true)
	return m
}

// Run keeps the mirror up to date until ctx ends, and returns ctx's error.
func (m *Mirror) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		from, err := m.resync(ctx)
		if err == nil {
			m.stale.Store(false)
			m.lastErr.Store(nil)
			backoff = 100 * time.Millisecond
			_, err = m.s.Follow(ctx, from, m.block, m.handle)
		}
		if ctx.Err() != nil {
			break
		}
		m.stale.Store(true)
		m.lastErr.Store(&err)
		m.log.Warn("redis mirror: stale, retrying", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return ctx.Err()
}

// resync loads the model and every state, and returns the event id to
// follow from (read first, so nothing written meanwhile is missed).
func (m *Mirror) resync(ctx context.Context) (string, error) {
	from, err := m.s.LastEventID(ctx)
	if err != nil {
		return "", err
	}
	model, err := m.s.CurrentModel(ctx)
	if err != nil {
		return "", err
	}
	var items []string
	if err := m.s.Items(ctx, func(id string) bool { items = append(items, id); return true }); err != nil {
		return "", err
	}
	states := make(map[string]*State, len(items))
	for lo := 0; lo < len(items); lo += 500 {
		part := items[lo:min(lo+500, len(items))]
		sts, err := m.s.LoadStates(ctx, part)
		if err != nil {
			return "", err
		}
		for i, st := range sts {
			if st != nil {
				states[part[i]] = st
			}
		}
	}
	m.s.ClearUserCache() // user events may have been missed
	m.mu.Lock()
	for id, cur := range m.states { // keep what a newer generation replaced, as handle does
		if st := states[id]; st != nil && cur.Gen < st.Gen {
			m.prev[id] = cur
		}
	}
	m.model, m.states = model, states
	m.mu.Unlock()
	m.synced.Store(true)
	return from, nil
}

// handle applies one event.
func (m *Mirror) handle(e Event) error {
	m.events.Add(1)
	ctx := context.Background()
	switch e.Kind {
	case EventState:
		st, err := m.s.LoadState(ctx, e.Key)
		if err != nil {
			return err
		}
		m.mu.Lock()
		if st == nil {
			delete(m.states, e.Key)
		} else if cur := m.states[e.Key]; cur == nil || cur.Gen < st.Gen || (cur.Gen == st.Gen && !st.changed().Before(cur.changed())) {
			if cur != nil && cur.Gen < st.Gen {
				m.prev[e.Key] = cur
			}
			m.states[e.Key] = st
		}
		m.mu.Unlock()
	case EventDelete:
		m.mu.Lock()
		delete(m.states, e.Key)
		delete(m.prev, e.Key)
		m.mu.Unlock()
	case EventUser:
		m.s.InvalidateUser(e.Key)
	case EventModel:
		model, err := m.s.CurrentModel(ctx)
		if err != nil {
			return err
		}
		m.s.ClearUserCache()
		m.mu.Lock()
		m.model = model
		m.mu.Unlock()
	default:
		m.log.Warn("redis mirror: unknown event", "kind", e.Kind, "id", e.ID)
	}
	return nil
}

// Model is the current model as last seen.
func (m *Mirror) Model() Model {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.model
}

// State returns an item's latest state (of any generation; compare Gen
// with Model().Gen), or nil.
func (m *Mirror) State(item string) *State {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.states[item]
}

// StateAt returns an item's state of generation gen (the latest one, or
// one a newer generation replaced since DropBefore(gen) or earlier), or
// nil. It may be a failed state (State.Failed), with or without a built
// state of gen.
func (m *Mirror) StateAt(item string, gen int64) *State {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if st := m.states[item]; st != nil && st.Gen == gen {
		return st
	}
	if st := m.prev[item]; st != nil && st.Gen == gen {
		return st
	}
	return nil
}

// Coverage counts the items with a state and, of them, those whose latest
// state is of generation gen: a replica switches to a new model when all are.
// A failed state of gen (State.Failed) counts as of gen: an item whose build
// keeps failing does not hold every replica on the previous model.
func (m *Mirror) Coverage(gen int64) (items, atGen int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, st := range m.states {
		items++
		if st.Gen == gen {
			atGen++
		}
	}
	return items, atGen
}

// DropBefore forgets the replaced states of generations older than gen.
func (m *Mirror) DropBefore(gen int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, st := range m.prev {
		if st.Gen < gen {
			delete(m.prev, id)
		}
	}
}

// Len is the number of items with a state.
func (m *Mirror) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.states)
}

// Range calls fn for every item state until fn returns false (under a read
// lock: fn must not call back into the mirror).
func (m *Mirror) Range(fn func(item string, st *State) bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for id, st := range m.states {
		if !fn(id, st) {
			return
		}
	}
}

// Health is the mirror's view of Redis.
type Health struct {
	Synced bool  // a full load completed at least once
	Stale  bool  // Redis is failing: states may be out of date
	Err    error // the last Redis error while stale
}

// Health reports whether the mirror is current.
func (m *Mirror) Health() Health {
	h := Health{Synced: m.synced.Load(), Stale: m.stale.Load()}
	if p := m.lastErr.Load(); p != nil && h.Stale {
		h.Err = *p
	}
	return h
}

// OldestState is the age of the oldest state of the current generation
// (0 if none), for the item-state-age metric.
func (m *Mirror) OldestState(now time.Time) time.Duration {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var oldest time.Duration
	for _, st := range m.states {
		if st.Gen == m.model.Gen && st.Built() {
			oldest = max(oldest, st.Age(now))
		}
	}
	return oldest
}

// errNotSynced is returned by WaitSynced when ctx ends first.
var errNotSynced = errors.New("redis mirror: not synchronised")

// WaitSynced waits for the first full load.
func (m *Mirror) WaitSynced(ctx context.Context) error {
	for !m.synced.Load() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", errNotSynced, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
