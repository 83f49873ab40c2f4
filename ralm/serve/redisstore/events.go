package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// EventKind is what an event on the event stream announces.
type EventKind string

// Event kinds.
const (
	EventState  EventKind = "state"  // an item's new state was written
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
