package lookalike

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// ScoredUser is a user row with its score for an item.
type ScoredUser struct {
	User  int32
	Score float32
}

// AudienceOptions tune Model.Audience. The zero value scans on GOMAXPROCS
// goroutines and leaves out only the item's seeds.
type AudienceOptions struct {
	// Workers is the number of goroutines that scan users; 0 means
	// GOMAXPROCS. The result does not depend on it.
	Workers int
	// Skip, if not nil, reports further rows to leave out (for example
	// users without an embedding, or seeds newer than the item's state). It
	// is called concurrently.
	Skip func(u int32) bool
}

// audienceChunk is the number of rows a scan goroutine takes at a time.
const audienceChunk = 4096

// Audience scans every user row and returns the n that score highest for
// the item (warm or cold, as ScoreItems scores them), best first, leaving
// out the item's seeds, the rows opt.Skip reports and rows that score NaN.
//
// The tie rule, the one for every ranking of users in the project: by score
// descending, then by external id ascending (users.Compare). The result is
// therefore deterministic for given users, item and n, whatever the number
// of workers. Fewer than n users are returned when fewer remain.
func (m *Model) Audience(ctx context.Context, users Users, item *Item, n int, opt AudienceOptions) ([]ScoredUser, error) {
	if n < 1 {
		return nil, fmt.Errorf("audience: n = %d, want at least 1", n)
	}
	if item == nil || item.owner != m {
		return nil, fmt.Errorf("audience: the item was not built by this model")
	}
	nrows := users.Len()
	excl := make([]uint64, (nrows+63)/64)
	for _, u := range item.Seeds {
		if int(u) < nrows {
			excl[u/64] |= 1 << (u % 64)
		}
	}
	nchunks := (nrows + audienceChunk - 1) / audienceChunk
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, nchunks))
	k := 0
	if item.State != nil {
		k = item.State.K
	}
	heaps := make([]topN, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &heaps[g]
			h.n, h.cmp = n, users.Compare
			s := m.getScratch(k)
			defer m.pool.Put(s)
			for {
				c := int(next.Add(1) - 1)
				if c >= nchunks || ctx.Err() != nil {
					return
				}
				for r := c * audienceChunk; r < min((c+1)*audienceChunk, nrows); r++ {
					u := int32(r)
					if excl[u/64]&(1<<(u%64)) != 0 || (opt.Skip != nil && opt.Skip(u)) {
						continue
					}
					uv := users.Vec(u)
					invU, ok := m.prepareUser(s, uv)
					if !ok {
						continue
					}
					sc := m.scoreItemWith(s, invU, uv, item)
					if math.IsNaN(float64(sc)) {
						continue
					}
					h.offer(ScoredUser{u, sc})
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audience: %w", err)
	}
	var all []ScoredUser
	for g := range heaps {
		all = append(all, heaps[g].items...)
	}
	slices.SortFunc(all, func(a, b ScoredUser) int { return rankUsers(a, b, users.Compare) })
	return all[:min(n, len(all))], nil
}

// rankUsers is the tie rule of Audience: negative when a ranks before b
// (higher score, or an equal score and a smaller external id).
func rankUsers(a, b ScoredUser, ids func(a, b int32) int) int {
	if a.Score != b.Score {
		return cmp.Compare(b.Score, a.Score)
	}
	if a.User == b.User {
		return 0
	}
	return ids(a.User, b.User)
}

// topN keeps the n best users seen, the worst on top of a heap.
type topN struct {
	n     int
	cmp   func(a, b int32) int
	items []ScoredUser
}

func (t *topN) Len() int           { return len(t.items) }
func (t *topN) Less(i, j int) bool { return rankUsers(t.items[i], t.items[j], t.cmp) > 0 }
func (t *topN) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topN) Push(x any)         { t.items = append(t.items, x.(ScoredUser)) }
func (t *topN) Pop() any {
	x := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return x
}

// offer keeps x if it is among the n best seen.
func (t *topN) offer(x ScoredUser) {
	if len(t.items) < t.n {
		heap.Push(t, x)
		return
	}
	if rankUsers(x, t.items[0], t.cmp) < 0 {
		t.items[0] = x
		heap.Fix(t, 0)
	}
}
