package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve"
)

// soakDuration bounds TestSoak.
const soakDuration = 40 * time.Second

// TestSoak runs mixed ingest, score, delete, reload and user upserts with
// random restarts of the engine on one seed store, and checks after every
// reopen that nothing acknowledged was lost: every acknowledged seed of a
// live item, every upserted user. Skipped with -short.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test skipped in -short mode")
	}
	ctx := context.Background()
	dataDir := t.TempDir()
	open := func() *serve.Engine {
		e, err := serve.Open(ctx, modelDir, serve.Options{DataDir: dataDir, ReclusterInterval: 50 * time.Millisecond, MinSeeds: 5})
		if err != nil {
			t.Fatalf("the state does not reopen: %v", err)
		}
		return e
	}
	rng := rand.New(rand.NewPCG(14, 14))
	seeds := make(map[string]map[string]bool) // acknowledged seeds of live items
	var users []string                        // acknowledged upserts
	users = append(users, userID(0, 1))
	vec := func() []float32 {
		v := make([]float32, 8)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	check := func(e *serve.Engine) {
		t.Helper()
		for id, set := range seeds {
			info, err := e.Item(ctx, id)
			if err != nil || info.Seeds != len(set) {
				t.Fatalf("item %s: %d seeds (err %v), want the %d acknowledged", id, info.Seeds, err, len(set))
			}
		}
		for _, u := range users {
			if _, err := e.Score(ctx, u, []string{"1"}); err != nil {
				t.Fatalf("upserted user %s lost: %v", u, err)
			}
		}
	}
	e := open()
	defer func() { e.Close() }()
	deadline := time.Now().Add(soakDuration)
	var ops, restarts int
	for time.Now().Before(deadline) {
		ops++
		switch p := rng.IntN(100); {
		case p < 60: // ingest
			batch := make([]serve.Click, 1+rng.IntN(50))
			for i := range batch {
				u := userID(0, rng.IntN(200))
				if rng.IntN(4) == 0 {
					u = users[rng.IntN(len(users))]
				}
				batch[i] = serve.Click{UserID: u, ItemID: strconv.Itoa(1000 + rng.IntN(60))}
			}
			res, err := e.Clicks(ctx, batch)
			if err != nil {
				t.Fatalf("clicks: %v", err)
			}
			if len(res.Rejected) > 0 {
				t.Fatalf("clicks of known users rejected: %v", res.Rejected[0].Err)
			}
			for _, c := range batch {
				if seeds[c.ItemID] == nil {
					seeds[c.ItemID] = make(map[string]bool)
				}
				seeds[c.ItemID][c.UserID] = true
			}
		case p < 75: // score
			if _, err := e.Score(ctx, users[rng.IntN(len(users))], []string{"1", "1000", "1001", "99999"}); err != nil {
				t.Fatalf("score: %v", err)
			}
		case p < 82: // delete
			id := strconv.Itoa(1000 + rng.IntN(60))
			err := e.Delete(ctx, id)
			if err != nil && !errors.Is(err, bundle.ErrUnknownItem) {
				t.Fatalf("delete %s: %v", id, err)
			}
			delete(seeds, id)
		case p < 92: // user upsert
			u := strconv.Itoa(5000 + rng.IntN(100))
			if err := e.UpsertUser(ctx, u, serve.UserInput{Vector: vec()}); err != nil {
				t.Fatalf("upsert %s: %v", u, err)
			}
			users = append(users, u)
		case p < 94: // reload
			if err := e.Reload(ctx, ""); err != nil {
				t.Fatalf("reload: %v", err)
			}
		default: // restart
			if err := e.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			restarts++
			e = open()
			check(e)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e = open()
	check(e)
	t.Logf("%d operations, %d restarts, %d live items", ops, restarts, len(seeds))
}
