package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Click stream field names (see the package documentation).
const (
	FieldItem = "item"
	FieldUser = "user"
	FieldTime = "ts"
	FieldOp   = "op"
	OpDelete  = "delete"
)

// Click is one click to append to the stream. A zero Time is left out.
type Click struct {
	Item string
	User string
	Time time.Time
}

// Append adds clicks to the click stream in one pipeline and returns only
// after Redis accepted every one (and, with Config.WaitReplicas, after that
// many replicas confirmed them). On error some of the clicks may have been
// appended; appending them again is harmless.
func (s *Store) Append(ctx context.Context, clicks []Click) error {
	if len(clicks) == 0 {
		return nil
	}
	vals := make([][]any, len(clicks))
	for i, c := range clicks {
		v := []any{FieldItem, c.Item, FieldUser, c.User}
		if !c.Time.IsZero() {
			v = append(v, FieldTime, c.Time.UnixMilli())
		}
		vals[i] = v
	}
	return s.xadd(ctx, vals)
}

// DeleteItem appends a delete of the item to the click stream: the workers
// drop the seeds that arrived before it and the item's state. It is ordered
// with the clicks: clicks appended after it make a fresh item.
func (s *Store) DeleteItem(ctx context.Context, item string) error {
	return s.xadd(ctx, [][]any{{FieldItem, item, FieldOp, OpDelete}})
}

func (s *Store) xadd(ctx context.Context, vals [][]any) error {
	var pipe redis.Pipeliner
	if s.cfg.WaitReplicas > 0 {
		// WAIT applies to the connection's own writes: run both on the
		// stream's master in one pipeline (one connection).
		node, err := s.streamNode(ctx)
		if err != nil {
			return err
		}
		pipe = node.Pipeline()
	} else {
		pipe = s.rdb.Pipeline()
	}
	for _, v := range vals {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.keyStream(), Values: v})
	}
	var wait *redis.IntCmd
	if s.cfg.WaitReplicas > 0 {
		wait = redis.NewIntCmd(ctx, "wait", s.cfg.WaitReplicas, s.cfg.WaitTimeout.Milliseconds())
		pipe.Process(ctx, wait)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis store: append %d entries to %s: %w", len(vals), s.keyStream(), err)
	}
	if wait != nil && wait.Val() < int64(s.cfg.WaitReplicas) {
		return fmt.Errorf("redis store: append: %d of %d replicas confirmed within %v", wait.Val(), s.cfg.WaitReplicas, s.cfg.WaitTimeout)
	}
	return nil
}

// streamNode is the client of the master that holds the click stream.
func (s *Store) streamNode(ctx context.Context) (*redis.Client, error) {
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		n, err := c.MasterForKey(ctx, s.keyStream())
		if err != nil {
			return nil, fmt.Errorf("redis store: find the node of %s: %w", s.keyStream(), err)
		}
		return n, nil
	case *redis.Client:
		return c, nil
	}
	return nil, errors.New("redis store: unsupported client type")
}

// seqEpochMs is the start of the arrival-order clock (2020-01-01 UTC).
const seqEpochMs = 1577836800000

// arrivalScore maps a stream entry id "ms-seq" to a seed's arrival order
// (see the package documentation).
func arrivalScore(id string) (float64, error) {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return 0, fmt.Errorf("stream id %q", id)
	}
	m, err1 := strconv.ParseInt(ms, 10, 64)
	q, err2 := strconv.ParseInt(seq, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("stream id %q: %w", id, err)
	}
	return float64(max(m-seqEpochMs, 0))*4096 + float64(min(q, 4095)), nil
}

// StreamStats are the consumer group's backlog figures.
type StreamStats struct {
	Length  int64 // entries in the stream
	Lag     int64 // entries not yet delivered to any worker (-1 unknown)
	Pending int64 // entries delivered but not acknowledged
	Due     int64 // items waiting for a re-cluster (dirty or leased)
}

// Stats returns the click stream's backlog (zero before the first worker
// created the group).
func (s *Store) Stats(ctx context.Context) (StreamStats, error) {
	var st StreamStats
	n, err := s.rdb.XLen(ctx, s.keyStream()).Result()
	if err != nil {
		return st, fmt.Errorf("redis store: stream length: %w", err)
	}
	st.Length = n
	dirty, err1 := s.rdb.ZCard(ctx, s.keyDirty()).Result()
	leased, err2 := s.rdb.ZCard(ctx, s.keyLease()).Result()
	if err := errors.Join(err1, err2); err != nil {
		return st, fmt.Errorf("redis store: schedule size: %w", err)
	}
	st.Due = dirty + leased
	groups, err := s.rdb.XInfoGroups(ctx, s.keyStream()).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return st, nil
		}
		return st, fmt.Errorf("redis store: stream groups: %w", err)
	}
	for _, g := range groups {
		if g.Name == groupName {
			st.Lag, st.Pending = g.Lag, g.Pending
		}
	}
	return st, nil
}
