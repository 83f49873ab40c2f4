package coldstart

import (
	"testing"

	"github.com/ralmlab/ralm/data"
)

// BenchmarkLogits1000Users scores 1000 users (d=64) against one prepared
// item with the default network (16-wide fields, 64 hidden units).
func BenchmarkLogits1000Users(b *testing.B) {
	enc := &Encoder{Fields: []Field{{Name: "genres", Kind: data.ColumnMulti, Values: []string{"a", "b", "c"}}}}
	if err := enc.init(); err != nil {
		b.Fatal(err)
	}
	const d, n = 64, 1000
	m := newModel(Config{}.withDefaults(), enc, d)
	m.initWeights(newRNG(1, 1))
	it, err := m.Item(Attrs{{0, 2}})
	if err != nil {
		b.Fatal(err)
	}
	users := make([]float32, n*d)
	rng := newRNG(1, 2)
	for i := range users {
		users[i] = float32(rng.NormFloat64())
	}
	out := make([]float32, n)
	b.ResetTimer()
	for range b.N {
		if err := m.Logits(users, it, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/user")
}
