package serve

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/ralm/bundle"
)

// TestInputBounds checks the id and vector bounds: over-long, non-UTF-8 or
// control-character ids and vectors of huge norm are refused as bad input
// before the store sees them, and the engine stays writable.
func TestInputBounds(t *testing.T) {
	e := openTest(t, t.TempDir(), Options{})
	defer e.Close()
	ctx := context.Background()
	huge := make([]float32, 8)
	for i := range huge {
		huge[i] = 3e38
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"long user id", func() error {
			return e.UpsertUser(ctx, strings.Repeat("1", MaxIDBytes+1), UserInput{Vector: make([]float32, 8)})
		}},
		{"huge norm", func() error { return e.UpsertUser(ctx, "5000", UserInput{Vector: huge}) }},
		{"long item id click", func() error {
			return e.Click(ctx, Click{UserID: "1000", ItemID: strings.Repeat("9", MaxIDBytes+1)})
		}},
		{"delete bad id", func() error { return e.Delete(ctx, "a\x00") }},
	} {
		err := tc.call()
		var ie *InputError
		if !errors.As(err, &ie) && !errors.Is(err, bundle.ErrBadID) {
			t.Errorf("%s: err = %v, want bad input", tc.name, err)
		}
		if len(err.Error()) > 200 {
			t.Errorf("%s: message %d bytes long", tc.name, len(err.Error()))
		}
	}
	if err := e.Ready(); err != nil {
		t.Fatalf("engine not ready after bad input: %v", err)
	}
	if err := e.UpsertUser(ctx, "5001", UserInput{Vector: make([]float32, 8)}); err != nil {
		t.Fatalf("good upsert after bad input: %v", err)
	}
}
