package serve_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve"
)

// exampleModel writes a small model folder into dir: 300 users (ids
// 1..300) in 3 communities and 9 items (ids 1..9), each clicked by 20 users
// of community item%3. Real folders come from `ralm train` or ralm.Train.
func exampleModel(dir string) error {
	rng := rand.New(rand.NewPCG(1, 1))
	const nUsers, dim = 300, 8
	users := data.NewVocab(data.IDInt64)
	vecs := make([]float32, 0, nUsers*dim)
	for u := range nUsers {
		users.MustAdd(strconv.Itoa(u + 1))
		for j := range dim {
			centre := float32(0)
			if j%3 == u%3 {
				centre = 2
			}
			vecs = append(vecs, centre+0.3*float32(rng.NormFloat64()))
		}
	}
	clicks := &data.Clicks{Users: users.Clone(), Items: data.NewVocab(data.IDInt64)}
	clickers := make([][]int32, 9)
	for it := range 9 {
		idx := clicks.Items.MustAdd(strconv.Itoa(it + 1))
		for k := range 20 {
			u := int32(it%3 + 3*(k*4+it))
			clicks.User = append(clicks.User, u)
			clicks.Item = append(clicks.Item, idx)
			clicks.TS = append(clicks.TS, int64(k)*int64(time.Second))
			clickers[idx] = append(clickers[idx], u)
		}
	}
	cfg := lookalike.DefaultConfig()
	cfg.K, cfg.Epochs, cfg.MinClickers, cfg.Batch, cfg.SeedsPerItem, cfg.Seed = 4, 2, 5, 32, 16, 1
	m, _, err := lookalike.Train(context.Background(), vecs, dim, clickers, cfg, lookalike.TrainOptions{})
	if err != nil {
		return err
	}
	return bundle.Write(dir, &bundle.Bundle{
		LookAlike:  m,
		Embeddings: &data.Embeddings{Users: users, Dim: dim, Vecs: vecs},
		Seeds:      clicks,
	})
}

// Open an engine on a model folder, stream clicks for a new item and score
// a user against it as it goes from cold to ok.
func ExampleOpen() {
	tmp, _ := os.MkdirTemp("", "ralm-example-")
	defer os.RemoveAll(tmp)
	model := filepath.Join(tmp, "model")
	if err := exampleModel(model); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	e, err := serve.Open(ctx, model, serve.Options{
		DataDir:  filepath.Join(tmp, "state"), // the engine's seed store
		MinSeeds: 10,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	fmt.Println("items:", e.Stats().Items)

	// Users 2, 5, 8, ... (community 1) click a brand-new item.
	var batch []serve.Click
	for k := range 10 {
		batch = append(batch, serve.Click{UserID: strconv.Itoa(2 + 3*k), ItemID: "100"})
	}
	res, err := e.Clicks(ctx, batch[:9])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("accepted:", res.Accepted)
	scores, _ := e.Score(ctx, "299", []string{"100", "1", "77"})
	for _, s := range scores {
		fmt.Println(s.ItemID, s.Status)
	}
	// The tenth seed makes the item re-cluster at once.
	if err := e.Click(ctx, batch[9]); err != nil {
		fmt.Println(err)
		return
	}
	for {
		if info, _ := e.Item(ctx, "100"); info.Status == bundle.StatusOK {
			fmt.Println("item 100 is", info.Status, "with", info.Seeds, "seeds")
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Output:
	// items: 9
	// accepted: 9
	// 100 cold
	// 1 ok
	// 77 unknown_item
	// item 100 is ok with 10 seeds
}

// Find the users who look most like an item's seeds.
func ExampleEngine_Audience() {
	tmp, _ := os.MkdirTemp("", "ralm-example-")
	defer os.RemoveAll(tmp)
	model := filepath.Join(tmp, "model")
	if err := exampleModel(model); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	e, err := serve.Open(ctx, model, serve.Options{DataDir: filepath.Join(tmp, "state")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	// Item 2 was clicked by users of community 1 (ids 2, 5, 8, ...).
	a, err := e.Audience(ctx, "2", 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	same := 0
	for _, u := range a.Users {
		id, _ := strconv.Atoi(u.UserID)
		if (id-1)%3 == 1 {
			same++
		}
	}
	fmt.Printf("status %s, %d seeds excluded, %d of the top %d in the seeds' community\n", a.Status, a.Seeds, same, len(a.Users))
	// Output:
	// status ok, 20 seeds excluded, 10 of the top 10 in the seeds' community
}

// Write a model folder and read it back, verified.
func Example_modelFolder() {
	tmp, _ := os.MkdirTemp("", "ralm-example-")
	defer os.RemoveAll(tmp)
	model := filepath.Join(tmp, "model")
	if err := exampleModel(model); err != nil { // calls bundle.Write
		fmt.Println(err)
		return
	}
	b, err := bundle.Open(context.Background(), model)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Format, b.FormatVersion, b.UserIDKind, b.EmbeddingDim, b.Users, b.Items, b.Clicks)
	for _, f := range b.Files {
		fmt.Println(f.Name)
	}
	// Output:
	// ralm-bundle 1 int64 8 300 9 180
	// lookalike.model
	// embeddings.parquet
	// seeds.parquet
}
