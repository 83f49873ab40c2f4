package coldstart_test

import (
	"context"
	"fmt"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike/coldstart"
)

// A new item with no clicks is scored from its attributes: users whose
// embeddings look like the drama audience rank above the comedy audience
// for a new drama.
func Example() {
	// Items table: one multi-valued column of genres.
	keys := data.NewVocab(data.IDString)
	genres := data.Column{Name: "genres", Kind: data.ColumnMulti, Values: data.NewVocab(data.IDString), Offsets: []int32{0}}
	for i := 0; i < 40; i++ {
		keys.Add(fmt.Sprint("m", i))
		g := []string{"Drama", "Comedy"}[i%2]
		genres.Codes = append(genres.Codes, genres.Values.MustAdd(g))
		genres.Offsets = append(genres.Offsets, int32(len(genres.Codes)))
	}
	items := &data.Table{Keys: keys, Columns: []data.Column{genres}}
	// 40 users, 2-D embeddings: even users like drama (1, 0), odd ones comedy (0, 1).
	emb := make([]float32, 0, 80)
	for u := 0; u < 40; u++ {
		emb = append(emb, float32(1-u%2), float32(u%2))
	}
	// Every drama is clicked by the drama fans, every comedy by the comedy fans.
	clickers := make([][]int32, 40)
	for i := range clickers {
		for u := i % 2; u < 40; u += 4 {
			clickers[i] = append(clickers[i], int32(u))
		}
	}
	enc, _ := coldstart.NewEncoder(items, 0)
	attrs, _, _, _ := enc.ForItems(items, keys)
	m, _, err := coldstart.Train(context.Background(), emb, 2, clickers, attrs, enc, coldstart.Config{Epochs: 30, Seed: 1}, coldstart.TrainOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A new drama, given as a serving request would give it.
	a, unknown, _ := enc.Encode(map[string][]string{"genres": {"Drama"}})
	it, _ := m.Item(a)
	fan, other := m.Logit([]float32{1, 0}, it), m.Logit([]float32{0, 1}, it)
	fmt.Println("unknown values:", unknown)
	fmt.Println("drama fan ranks first:", fan > other)
	// Output:
	// unknown values: 0
	// drama fan ranks first: true
}
