package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Fields of ralm:meta that announce a generation being published: its
// number and dim, set once its model's vectors are written and before the
// upserted users are carried over (UpsertUser writes into it from then on).
const (
	metaPubGen = "pub"
	metaPubDim = "pub_dim"
)

// newerGens returns the generations newer than gen that an upsert of a
// vector of dim values must also be written to: the current one and the
// one being published, when they have that dim.
func (s *Store) newerGens(ctx context.Context, gen int64, dim int) ([]int64, error) {
	vals, err := s.rdb.HMGet(ctx, s.keyMeta(), "gen", "dim", metaPubGen, metaPubDim).Result()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.keyMeta(), err)
	}
	num := func(v any) int64 {
		x, _ := v.(string)
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	var out []int64
	for _, p := range [][2]any{{vals[0], vals[1]}, {vals[2], vals[3]}} {
		g, d := num(p[0]), num(p[1])
		if g > gen && d == int64(dim) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// carryUpserted copies the users upserted into generation from that model
// m (being published, not yet switched to) does not embed into m's
// generation, and forgets the upserted users m embeds (the model's vector,
// trained on newer data, wins). It announces m's generation first, so an
// upsert from then on writes into it itself; a copy never overwrites such
// a newer upsert (SET NX).
func (s *Store) carryUpserted(ctx context.Context, from int64, m Model, ids []string) error {
	fail := func(err error) error {
		return fmt.Errorf("redis store: publish: carry upserted users over to generation %d: %w", m.Gen, err)
	}
	n, err := s.rdb.SCard(ctx, s.keyUpserted()).Result()
	if err != nil {
		return fail(err)
	}
	var sorted []string
	if n > 0 {
		sorted = slices.Clone(ids)
		slices.Sort(sorted)
	}
	embedded := func(id string) bool { _, ok := slices.BinarySearch(sorted, id); return ok }
	// Forget the users the model embeds before announcing the generation:
	// an upsert after the announcement is recorded again and kept.
	var covered, carry []string
	iter := s.rdb.SScan(ctx, s.keyUpserted(), 0, "", 1000).Iterator()
	for iter.Next(ctx) {
		if id := iter.Val(); embedded(id) {
			covered = append(covered, id)
		} else {
			carry = append(carry, id)
		}
	}
	if err := iter.Err(); err != nil {
		return fail(err)
	}
	for lo := 0; lo < len(covered); lo += PublishBatch {
		part := covered[lo:min(lo+PublishBatch, len(covered))]
		if err := s.rdb.SRem(ctx, s.keyUpserted(), toAny(part)...).Err(); err != nil {
			return fail(err)
		}
	}
	if err := s.rdb.HSet(ctx, s.keyMeta(), metaPubGen, m.Gen, metaPubDim, m.Dim).Err(); err != nil {
		return fail(err)
	}
	for lo := 0; lo < len(carry); lo += PublishBatch {
		part := carry[lo:min(lo+PublishBatch, len(carry))]
		cmds := make([]*redis.StringCmd, len(part))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range part {
				cmds[i] = p.Get(ctx, s.keyUser(from, id))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return fail(err)
		}
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range part {
				b, err := cmds[i].Bytes()
				if err != nil || len(b) != 4*m.Dim {
					continue // gone, or of another dim: not carried
				}
				p.SetNX(ctx, s.keyUser(m.Gen, id), b, 0)
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
