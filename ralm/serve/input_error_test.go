package serve

import (
	"context"
	"errors"
	"math"
	"testing"
)

// TestInputErrors checks that bad caller input is an *InputError (the HTTP
// layer's 400), told apart with errors.As and not by message text.
func TestInputErrors(t *testing.T) {
	e := openTest(t, t.TempDir(), Options{})
	defer e.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"short vector", func() error { return e.UpsertUser(ctx, "1000", UserInput{Vector: []float32{1}}) }},
		{"non-finite value", func() error {
			v := make([]float32, 8)
			v[3] = float32(math.NaN())
			return e.UpsertUser(ctx, "1000", UserInput{Vector: v})
		}},
		{"no vector, no features", func() error { return e.UpsertUser(ctx, "1000", UserInput{}) }},
		{"score vector length", func() error { _, err := e.ScoreVector(ctx, []float32{1, 2}, []string{"1"}); return err }},
		{"audience n", func() error { _, err := e.Audience(ctx, "1", 0); return err }},
	} {
		err := tc.call()
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: err = %v (%T), want an *InputError", tc.name, err, err)
		}
	}
}
