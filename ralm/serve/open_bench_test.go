package serve

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
)

// openBundle is a synthetic model folder in memory of the shape of
// examples/scale: users random 64-d embeddings, users/10 items of Zipf
// popularity, clicksPerUser clicks per user over 90 days, in no particular
// order; its look-alike model is the bench fixture's (k=20, d=h=64: the
// model does not depend on the users).
func openBundle(tb testing.TB, users, clicksPerUser int) *bundle.Bundle {
	tb.Helper()
	f, err := benchFixture()
	if err != nil {
		tb.Fatal(err)
	}
	const d = 64
	rng := rand.New(rand.NewPCG(uint64(users), 11))
	uv := data.NewVocab(data.IDInt64)
	vecs := make([]float32, users*d)
	for i := range users {
		uv.MustAdd(strconv.Itoa(1000 + i))
		for j := range d {
			vecs[i*d+j] = float32(rng.NormFloat64())
		}
	}
	nItems := max(1, users/10)
	iv := data.NewVocab(data.IDInt64)
	for i := range nItems {
		iv.MustAdd(strconv.Itoa(1 + i))
	}
	zipf := rand.NewZipf(rng, 1.1, 10, uint64(nItems-1))
	n := users * clicksPerUser
	c := &data.Clicks{Users: uv.Clone(), Items: iv, User: make([]int32, n), Item: make([]int32, n), TS: make([]int64, n)}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	const span = 90 * 24 * 3600
	for k := range n {
		c.User[k] = int32(rng.IntN(users))
		c.Item[k] = int32(zipf.Uint64())
		c.TS[k] = (t0 + rng.Int64N(span)) * int64(time.Second)
	}
	s := &testworld.Synth{Emb: &data.Embeddings{Users: uv, Dim: d, Vecs: vecs}, Clicks: c}
	return testworld.Bundle(s, f.m)
}

// BenchmarkOpen measures a first start on a synthetic model folder held in
// memory (openBundle; reading the folder's files is not included): Open on
// an empty seed store, which imports the folder's training clicks, then a
// first Score of one user against 10 items (built on demand, as the
// start-up build has not reached them). It reports the seconds until Open
// returns (open_s) and until the first score (first_score_s, from the
// start), and the training clicks imported per second of Open (clicks/s).
// The 1M-user case (14M clicks, 100k items) is skipped under -short.
func BenchmarkOpen(b *testing.B) {
	for _, users := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			if testing.Short() && users > 100_000 {
				b.Skip("1M users: skipped under -short")
			}
			bd := openBundle(b, users, 14)
			ctx := context.Background()
			items := make([]string, 10)
			for i := range items {
				items[i] = strconv.Itoa(1 + 50 + 97*i) // mid-popularity items
			}
			var open, first time.Duration
			for b.Loop() {
				dir := b.TempDir()
				start := time.Now()
				e, err := openWithBundle(ctx, bd, Options{DataDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				open += time.Since(start)
				res, err := e.Score(ctx, "1007", items)
				if err != nil {
					b.Fatal(err)
				}
				first += time.Since(start)
				if res[0].Status != bundle.StatusOK {
					b.Fatalf("item %s: status %s, want ok", items[0], res[0].Status)
				}
				b.StopTimer()
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			runs := float64(b.N)
			b.ReportMetric(open.Seconds()/runs, "open_s")
			b.ReportMetric(first.Seconds()/runs, "first_score_s")
			b.ReportMetric(float64(bd.Seeds.Len())*runs/open.Seconds(), "clicks/s")
		})
	}
}
