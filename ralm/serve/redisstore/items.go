package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ItemMeta is an item's seed bookkeeping (ralm:{item:<id>}:meta and the
// size of its seed set).
type ItemMeta struct {
	Seeds   int       // seeds kept
	Ver     int64     // seed version, bumped by every change
	Created time.Time // first click (zero if unknown)
	Last    time.Time // last change (zero if unknown)
}

// ItemMeta reads an item's seed count and times; ok is false for an item
// without seeds.
func (s *Store) ItemMeta(ctx context.Context, item string) (ItemMeta, bool, error) {
	var card *redis.IntCmd
	var meta *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		card = p.ZCard(ctx, s.keySeeds(item))
		meta = p.HGetAll(ctx, s.keyItemMeta(item))
		return nil
	})
	if err != nil {
		return ItemMeta{}, false, fmt.Errorf("redis store: read item %q: %w", item, err)
	}
	if card.Val() == 0 {
		return ItemMeta{}, false, nil
	}
	m := meta.Val()
	im := ItemMeta{Seeds: int(card.Val())}
	var errs []error
	num := func(f string) int64 {
		if m[f] == "" {
			return 0
		}
		v, err := strconv.ParseInt(m[f], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", f, err))
		}
		return v
	}
	im.Ver = num("ver")
	if ms := num("created"); ms > 0 {
		im.Created = time.UnixMilli(ms)
	}
	if ms := num("last"); ms > 0 {
		im.Last = time.UnixMilli(ms)
	}
	if err := errors.Join(errs...); err != nil {
		return ItemMeta{}, false, fmt.Errorf("redis store: %s: %w", s.keyItemMeta(item), err)
	}
	return im, true, nil
}

// ScanUsers calls fn for every user vector of generation gen (on every
// master of a Cluster, scanned in parallel), in no particular order, until
// fn returns an error. fn is called by one goroutine at a time.
func (s *Store) ScanUsers(ctx context.Context, gen int64, fn func(id string, vec []float32) error) error {
	prefix := s.p + ":u:" + strconv.FormatInt(gen, 10) + ":"
	var mu sync.Mutex
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		flush := func() error {
			if len(keys) == 0 {
				return nil
			}
			cmds := make([]*redis.StringCmd, len(keys))
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.Get(ctx, k)
				}
				return nil
			})
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for i, k := range keys {
				b, err := cmds[i].Bytes()
				if errors.Is(err, redis.Nil) {
					continue // deleted meanwhile
				}
				if err != nil {
					return err
				}
				v, err := decodeVec(b)
				if err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
				mu.Lock()
				err = fn(strings.TrimPrefix(k, prefix), v)
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			keys = keys[:0]
			return nil
		}
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 500 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush()
	}
	if err := s.eachNode(ctx, scan); err != nil {
		return fmt.Errorf("redis store: scan users of generation %d: %w", gen, err)
	}
	return nil
}

// keyImported is the set of clicks fingerprints whose training seeds were
// appended to the click stream.
func (s *Store) keyImported() string { return s.p + ":imported" }

// Imported reports whether the training seeds with this fingerprint were
// appended (MarkImported).
func (s *Store) Imported(ctx context.Context, fingerprint string) (bool, error) {
	ok, err := s.rdb.SIsMember(ctx, s.keyImported(), fingerprint).Result()
	if err != nil {
		return false, fmt.Errorf("redis store: read %s: %w", s.keyImported(), err)
	}
	return ok, nil
}

// MarkImported records that the training seeds with this fingerprint were
// appended to the click stream.
func (s *Store) MarkImported(ctx context.Context, fingerprint string) error {
	if err := s.rdb.SAdd(ctx, s.keyImported(), fingerprint).Err(); err != nil {
		return fmt.Errorf("redis store: write %s: %w", s.keyImported(), err)
	}
	return nil
}

// keyPublishLock is held while a replica publishes the first model.
func (s *Store) keyPublishLock() string { return s.p + ":publishing" }

// TryPublishLock takes the lock that makes one of several replicas started
// at once on an empty Redis publish the first model (the others wait for
// it); it expires after ttl should its holder die. release frees it.
func (s *Store) TryPublishLock(ctx context.Context, ttl time.Duration) (release func(), ok bool, err error) {
	ok, err = s.rdb.SetNX(ctx, s.keyPublishLock(), time.Now().UnixMilli(), ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redis store: take %s: %w", s.keyPublishLock(), err)
	}
	return func() { s.rdb.Del(context.WithoutCancel(ctx), s.keyPublishLock()) }, ok, nil
}
