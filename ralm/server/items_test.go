package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/internal/testworld"
)

// TestPostItems registers a new item's attributes over HTTP: it is then
// scored with status features before its first click, and bad attributes
// are 400s naming the problem.
func TestPostItems(t *testing.T) {
	s, m := testworld.Small(t)
	dir := filepath.Join(t.TempDir(), "model")
	if err := bundle.WriteContext(context.Background(), dir, testworld.BundleWithColdStart(s, m, testworld.SmallColdStart(t))); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, dir, Config{})
	user := s.UserID(s.Members(1)[0])
	code, body := ts.do("POST", "/v1/items", `{"item_id":4242,"attributes":{"community":"c1"}}`)
	if code != 200 || body["status"] != "features" || body["unknown_values"] != float64(0) {
		t.Fatalf("POST /v1/items: %d %v", code, body)
	}
	code, body = ts.do("POST", "/v1/score", `{"user_id":`+user+`,"item_ids":[4242,1]}`)
	if code != 200 {
		t.Fatalf("score: %d %v", code, body)
	}
	scores := body["scores"].([]any)
	if st := scores[0].(map[string]any)["status"]; st != "features" {
		t.Errorf("new item with attributes: status %v, want features (%v)", st, body)
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"no attributes", `{"item_id":1}`, "missing attributes"},
		{"unknown field", `{"item_id":1,"attributes":{"colour":"red"}}`, `attribute "colour": not a field`},
		{"object value", `{"item_id":1,"attributes":{"community":{"a":1}}}`, "attributes.community: value 0 is not a string"},
		{"string id for int64 items", `{"item_id":"x","attributes":{"community":"c1"}}`, "item_id"},
	} {
		code, body := ts.do("POST", "/v1/items", tc.body)
		msg, _ := body["error"].(string)
		if code != 400 || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %q, want 400 containing %q", tc.name, code, msg, tc.want)
		}
	}
}
