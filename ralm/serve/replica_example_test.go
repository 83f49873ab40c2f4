package serve_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ralmlab/ralm/ralm/serve"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
)

// A replica on a shared Redis: it publishes the model folder if Redis has
// no model yet, runs one re-cluster worker, and serves like an Engine. (Not
// run: it needs a redis-server and a model folder.)
func ExampleOpenReplica() {
	ctx := context.Background()
	r, err := serve.OpenReplica(ctx, "/tmp/ralm-model", serve.ReplicaOptions{
		Redis:             redisstore.Config{URL: "redis://127.0.0.1:6379"},
		Workers:           1,
		ReclusterInterval: time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	if err := r.Click(ctx, serve.Click{UserID: "17", ItemID: "9001"}); err != nil {
		log.Fatal(err) // acknowledged only once Redis accepted it
	}
	scores, err := r.Score(ctx, "42", []string{"9001", "3"})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range scores {
		fmt.Println(s.ItemID, s.Status, s.Score)
	}
}
