package lookalike

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// TopUsers returns the n users of users that score highest under score,
// best first, with Audience's tie rule (score descending, then external id
// ascending), leaving out the rows skip reports (nil: none) and rows that
// score NaN. It serves rankings by another scorer than the look-alike model
// (the attribute cold start's audience of an item without seeds) with the
// project's one ranking rule. It scans on the calling goroutine and stops
// with ctx's error.
func TopUsers(ctx context.Context, users Users, n int, score func(u int32, vec []float32) float32, skip func(u int32) bool) ([]ScoredUser, error) {
	if n < 1 {
		return nil, fmt.Errorf("top users: n = %d, want at least 1", n)
	}
	h := &topN{n: n, cmp: users.Compare}
	for r := 0; r < users.Len(); r++ {
		if r%audienceChunk == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("top users: %w", ctx.Err())
		}
		u := int32(r)
		if skip != nil && skip(u) {
			continue
		}
		sc := score(u, users.Vec(u))
		if math.IsNaN(float64(sc)) {
			continue
		}
		h.offer(ScoredUser{u, sc})
	}
	out := slices.Clone(h.items)
	slices.SortFunc(out, func(a, b ScoredUser) int { return rankUsers(a, b, users.Compare) })
	return out, nil
}
