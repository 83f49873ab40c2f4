package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/ralm/serve"
)

// fuzzRoutes are the endpoints FuzzHandlers sends bodies to.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/clicks"},
	{"POST", "/v1/score"},
	{"POST", "/v1/users"},
	{"GET", "/v1/items/"},
	{"DELETE", "/v1/items/"},
	{"GET", "/v1/items/"}, // + "/audience?n="
	{"POST", "/v1/admin/reload"},
	{"GET", "/readyz"},
	{"POST", "/v1/items"},
}

// FuzzHandlers sends random bodies (and path ids) to every endpoint: no
// reply is a 5xx, no handler panics, the engine never turns read-only, and
// the seed store reopens afterwards.
func FuzzHandlers(f *testing.F) {
	for _, seed := range []struct {
		route uint8
		body  string
	}{
		{0, `[{"user_id":1001,"item_id":1}]`},
		{0, `{"user_id":1001,"item_id":"2","ts":1700000000}` + "\n" + `{"user_id":"x"}`},
		{0, `[{"user_id":1001,"item_id":1,"ts":"abc"},{"user_id":true,"item_id":{}}]`},
		{1, `{"user_id":1001,"item_ids":[1,2,"3"]}`},
		{1, `{"user_id":1001,"item_ids":{}}`},
		{2, `{"user_id":5000,"vector":[1,2,3,4,5,6,7,8]}`},
		{2, `{"user_id":5001,"vector":[3e38,3e38,3e38,3e38,3e38,3e38,3e38,3e38]}`},
		{2, `{"user_id":"` + strings.Repeat("9", 300) + `","vector":[1,2,3,4,5,6,7,8]}`},
		{3, `1`}, {4, `700`}, {5, `3`}, {6, ``}, {7, ``},
		{8, `{"item_id":77,"attributes":{"community":["c1"],"year":1999}}`},
	} {
		f.Add(seed.route, seed.body)
	}
	dataDir := f.TempDir()
	e, err := serve.Open(context.Background(), modelDir, serve.Options{DataDir: dataDir, ReclusterInterval: time.Hour, MinSeeds: 5})
	if err != nil {
		f.Fatal(err)
	}
	h := New(e, Config{MaxBodyBytes: 1 << 16}).Handler()
	f.Cleanup(func() {
		if err := e.Close(); err != nil {
			f.Errorf("close after fuzzing: %v", err)
			return
		}
		e2, err := serve.Open(context.Background(), modelDir, serve.Options{DataDir: dataDir, ReclusterInterval: time.Hour})
		if err != nil {
			f.Errorf("the seed store does not reopen after fuzzing: %v", err)
			return
		}
		e2.Close()
	})
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := rt.path
		if strings.HasSuffix(path, "/") {
			// The body doubles as the path id.
			id := body
			if len(id) > 400 {
				id = id[:400]
			}
			path += escapePath(id)
			if int(route)%len(fuzzRoutes) == 5 {
				path += "/audience?n=" + escapePath(body)
			}
		}
		req, err := http.NewRequest(rt.method, path, strings.NewReader(body))
		if err != nil {
			return // not a valid URL: no request to send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && !(rt.path == "/v1/admin/reload" || rt.path == "/readyz") {
			t.Fatalf("%s %s %q: %d %s", rt.method, path, body, rec.Code, rec.Body.String())
		}
		if err := e.Ready(); err != nil {
			t.Fatalf("%s %s %q turned the engine unready: %v", rt.method, path, body, err)
		}
	})
}

func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(strings.TrimPrefix(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15]), "")))
		}
	}
	return b.String()
}
