package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ralmlab/ralm/data"
)

// shard is one of N independent slices of the users of `ralm embed`: shard
// I of N holds the users whose index, in order of first appearance in the
// click log, lies in [I*U/N, (I+1)*U/N) for U users, with both ends rounded
// down to a multiple of shardAlign (the last shard ends at U). Shards 0..N-1
// written as data.PartName files and read in name order give exactly the
// rows of the unsharded output, bit for bit.
type shard struct{ I, N int }

// shardAlign is the granularity of shard boundaries. The user model embeds
// in chunks of 64 users (userrep's embedChunk) and its blocked kernels round
// the rows of a short last chunk differently in the last bit; boundaries on
// multiples of 64 give every user the same chunk position as in an
// unsharded run.
const shardAlign = 64

// parseShard parses "i/N" (0 ≤ i < N); "" is the single shard 0/1.
func parseShard(s string) (shard, error) {
	if s == "" {
		return shard{0, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return shard{}, fmt.Errorf("--shard %q: want i/N with 0 <= i < N, e.g. 0/4", s)
	}
	return shard{i, n}, nil
}

// users returns the user index range [lo, hi) of the shard out of n users.
func (s shard) users(n int) (lo, hi int32) {
	at := func(i int) int32 {
		if i == s.N {
			return int32(n)
		}
		b := int64(i) * int64(n) / int64(s.N)
		return int32(b - b%shardAlign)
	}
	return at(s.I), at(s.I + 1)
}

// filter returns the clicks of the shard's users (sharing c's vocabularies,
// so user indices keep their meaning); c itself for the single shard.
func (s shard) filter(c *data.Clicks) *data.Clicks {
	if s.N == 1 {
		return c
	}
	lo, hi := s.users(c.Users.Len())
	out := &data.Clicks{Users: c.Users, Items: c.Items}
	for k, u := range c.User {
		if u >= lo && u < hi {
			out.User = append(out.User, u)
			out.Item = append(out.Item, c.Item[k])
			if c.TS != nil {
				out.TS = append(out.TS, c.TS[k])
			}
		}
	}
	return out
}
