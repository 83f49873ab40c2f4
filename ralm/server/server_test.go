package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve"
)

// modelDir is a small model folder shared by the tests (see TestMain):
// 200 users (int64 ids 1000..1199, dim 8) in 4 communities, 12 items (ids
// 1..12, item i clicked by 20 users of community i%4).
var modelDir string

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashModelEnv); dir != "" {
		modelDir = dir // the server process of TestSoakCrash
		os.Exit(m.Run())
	}
	if os.Getenv(childEnv) != "" {
		os.Exit(runReplicaChild()) // a replica subprocess of TestRedisKillReplica
	}
	tmp, err := os.MkdirTemp("", "ralm-server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	modelDir = filepath.Join(tmp, "model")
	if err := writeModel(modelDir, data.IDInt64); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// writeModel trains a tiny look-alike model on planted data and writes the
// model folder. kind selects the id kind of users and items.
func writeModel(dir string, kind data.IDKind) error {
	const nUsers, dim, nComm, nItems = 200, 8, 4, 12
	rng := rand.New(rand.NewPCG(3, 3))
	centres := make([][]float32, nComm)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for j := range centres[c] {
			centres[c][j] = float32(rng.NormFloat64())
		}
	}
	users := data.NewVocab(kind)
	vecs := make([]float32, 0, nUsers*dim)
	for i := range nUsers {
		users.MustAdd(userID(kind, i))
		for j := range dim {
			vecs = append(vecs, centres[i%nComm][j]+0.4*float32(rng.NormFloat64()))
		}
	}
	clicks := &data.Clicks{Users: users.Clone(), Items: data.NewVocab(kind)}
	clickers := make([][]int32, nItems)
	for it := range nItems {
		idx := clicks.Items.MustAdd(itemID(kind, it+1))
		for k := range 20 {
			u := int32((it%nComm + nComm*(k+it)) % nUsers)
			clicks.User = append(clicks.User, u)
			clicks.Item = append(clicks.Item, idx)
			clicks.TS = append(clicks.TS, int64(1_700_000_000+len(clicks.TS))*1e9)
			clickers[idx] = append(clickers[idx], u)
		}
	}
	cfg := lookalike.DefaultConfig()
	cfg.K, cfg.Epochs, cfg.MinClickers, cfg.Batch, cfg.SeedsPerItem, cfg.Seed = 4, 2, 5, 32, 16, 1
	m, _, err := lookalike.Train(context.Background(), vecs, dim, clickers, cfg, lookalike.TrainOptions{})
	if err != nil {
		return err
	}
	return bundle.Write(dir, &bundle.Bundle{LookAlike: m, Embeddings: &data.Embeddings{Users: users, Dim: dim, Vecs: vecs}, Seeds: clicks})
}

func userID(kind data.IDKind, i int) string {
	if kind == data.IDString {
		return fmt.Sprintf("u%d", i)
	}
	return strconv.Itoa(1000 + i)
}

func itemID(kind data.IDKind, i int) string {
	if kind == data.IDString {
		return fmt.Sprintf("i%d", i)
	}
	return strconv.Itoa(i)
}

// testServer opens an engine on modelDir and serves it with httptest.
type testServer struct {
	t   *testing.T
	e   *serve.Engine
	srv *httptest.Server
	tok string
}

func newTestServer(t *testing.T, dir string, cfg Config) *testServer {
	t.Helper()
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	e, err := serve.Open(context.Background(), dir, serve.Options{
		DataDir: t.TempDir(), ReclusterInterval: time.Hour, MinSeeds: 5, Hooks: cfg.Metrics.Hooks(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, e: e, srv: httptest.NewServer(New(e, cfg).Handler()), tok: cfg.Token}
	t.Cleanup(func() {
		ts.srv.Close()
		e.Close()
	})
	return ts
}

// do sends a request and decodes the JSON reply into a map.
func (ts *testServer) do(method, path, body string, hdr ...string) (int, map[string]any) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.srv.URL+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if ts.tok != "" {
		req.Header.Set("Authorization", "Bearer "+ts.tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); path != "/metrics" && !strings.HasPrefix(ct, "application/json") {
		ts.t.Fatalf("%s %s: content type %q, body %s", method, path, ct, raw)
	}
	var m map[string]any
	if path != "/metrics" {
		if err := json.Unmarshal(raw, &m); err != nil {
			ts.t.Fatalf("%s %s: reply is not a JSON object: %s", method, path, raw)
		}
	} else {
		m = map[string]any{"text": string(raw)}
	}
	return resp.StatusCode, m
}

func TestClicksEndpoint(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{})
	// JSON array, ids as numbers and as a quoted int; one unknown user;
	// one missing item; one duplicate.
	code, r := ts.do("POST", "/v1/clicks", `[
		{"user_id": 1001, "item_id": 500, "ts": 1700000000},
		{"user_id": "1005", "item_id": 500},
		{"user_id": 77, "item_id": 500},
		{"user_id": 1009},
		{"user_id": 1001, "item_id": 500},
		{"user_id": 1013, "item_id": "abc"}
	]`)
	if code != 200 || r["accepted"] != 3.0 || r["duplicates"] != 1.0 || r["rejected"] != 3.0 {
		t.Fatalf("%d %v", code, r)
	}
	rej := r["rejections"].([]any)
	want := []struct {
		idx float64
		msg string
	}{{2, `unknown user "77"`}, {3, "missing item_id"}, {5, "item_id must be an integer"}}
	for i, w := range want {
		x := rej[i].(map[string]any)
		if x["index"] != w.idx || !strings.Contains(x["error"].(string), w.msg) {
			t.Errorf("rejection %d = %v, want index %v %q", i, x, w.idx, w.msg)
		}
	}
	// NDJSON.
	code, r = ts.do("POST", "/v1/clicks", "{\"user_id\": 1017, \"item_id\": 500}\n{\"user_id\": 1021, \"item_id\": 501}\n", "Content-Type", "application/x-ndjson")
	if code != 200 || r["accepted"] != 2.0 || r["rejected"] != 0.0 {
		t.Fatalf("ndjson: %d %v", code, r)
	}
	code, r = ts.do("GET", "/v1/items/500", "")
	if code != 200 || r["seeds"] != 3.0 || r["status"] != "cold" || r["item_id"] != 500.0 {
		t.Fatalf("item 500: %d %v", code, r)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"malformed array", `[{"user_id": 1}`, "malformed JSON"},
		{"malformed ndjson", "{\"user_id\": 1}\n{oops}\n", "malformed JSON"},
		{"not json", `hello`, "malformed JSON"},
		{"empty", ``, "empty body"},
		{"trailing", `[] []`, "data after"},
		{"click not an object", `[{"user_id": 1001, "item_id": 5}, 7]`, "malformed JSON: click 1: want an object, got number"},
	} {
		code, r := ts.do("POST", "/v1/clicks", tc.body)
		if code != 400 || !strings.Contains(fmt.Sprint(r["error"]), tc.want) {
			t.Errorf("%s: %d %v, want 400 %q", tc.name, code, r, tc.want)
		}
	}
}

func TestClicksLimits(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{MaxClicks: 3, MaxBodyBytes: 300})
	code, r := ts.do("POST", "/v1/clicks", `[{"user_id":1001,"item_id":1},{"user_id":1001,"item_id":2},{"user_id":1001,"item_id":3},{"user_id":1001,"item_id":4}]`)
	if code != 413 || !strings.Contains(r["error"].(string), "too many clicks") {
		t.Fatalf("too many: %d %v", code, r)
	}
	code, r = ts.do("POST", "/v1/clicks", `[`+strings.Repeat(" ", 400)+`]`)
	if code != 413 || !strings.Contains(r["error"].(string), "300-byte limit") {
		t.Fatalf("too large: %d %v", code, r)
	}
}

func TestScoreEndpoint(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{MaxItems: 5})
	ts.do("POST", "/v1/clicks", `[{"user_id":1001,"item_id":600}]`)
	code, r := ts.do("POST", "/v1/score", `{"user_id": 1002, "item_ids": [1, "600", 999]}`)
	if code != 200 || r["user_id"] != 1002.0 {
		t.Fatalf("%d %v", code, r)
	}
	scores := r["scores"].([]any)
	for i, want := range []struct {
		id     float64
		status string
	}{{1, "ok"}, {600, "cold"}, {999, "unknown_item"}} {
		s := scores[i].(map[string]any)
		if s["item_id"] != want.id || s["status"] != want.status {
			t.Errorf("score %d = %v, want %v", i, s, want)
		}
	}
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"unknown user", `{"user_id": 5, "item_ids": [1]}`, 404, `unknown user "5"`},
		{"missing user", `{"item_ids": [1]}`, 400, "missing user_id"},
		{"missing items", `{"user_id": 1002}`, 400, "missing item_ids"},
		{"too many items", `{"user_id": 1002, "item_ids": [1,2,3,4,5,6]}`, 400, "too many item_ids"},
		{"string user id", `{"user_id": "u1", "item_ids": [1]}`, 400, "user_id must be an integer"},
		{"float id", `{"user_id": 1002.5, "item_ids": [1]}`, 400, "user_id must be an integer"},
		{"huge id", `{"user_id": 99999999999999999999, "item_ids": [1]}`, 400, "out of the int64 range"},
		{"bad item id", `{"user_id": 1002, "item_ids": [true]}`, 400, "item_ids[0] must be an integer"},
		{"malformed", `{"user_id": 1002,`, 400, "malformed JSON"},
		{"wrong type", `{"user_id": 1002, "item_ids": 3}`, 400, "malformed JSON"},
		{"trailing", `{"user_id": 1002, "item_ids": []} {}`, 400, "data after"},
	} {
		code, r := ts.do("POST", "/v1/score", tc.body)
		if code != tc.code || !strings.Contains(fmt.Sprint(r["error"]), tc.want) {
			t.Errorf("%s: %d %v, want %d %q", tc.name, code, r, tc.code, tc.want)
		}
	}
}

func TestItemsEndpoints(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{MaxAudience: 50})
	code, r := ts.do("GET", "/v1/items/1", "")
	if code != 200 || r["seeds"] != 20.0 || r["status"] != "ok" || r["last_recluster"] == nil || r["centroids"] != 4.0 {
		t.Fatalf("item 1: %d %v", code, r)
	}
	code, r = ts.do("GET", "/v1/items/1/audience?n=10", "")
	if code != 200 || r["status"] != "ok" || r["seeds"] != 20.0 || len(r["users"].([]any)) != 10 {
		t.Fatalf("audience: %d %v", code, r)
	}
	first := r["users"].([]any)[0].(map[string]any)
	if _, ok := first["user_id"].(float64); !ok {
		t.Fatalf("user id not a number: %v", first)
	}
	code, r = ts.do("GET", "/v1/items/2/audience", "")
	if code != 200 || len(r["users"].([]any)) != DefaultAudience {
		t.Fatalf("default n: %d, %d users", code, len(r["users"].([]any)))
	}
	code, r = ts.do("DELETE", "/v1/items/1", "")
	if code != 200 || r["deleted"] != 1.0 {
		t.Fatalf("delete: %d %v", code, r)
	}
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/v1/items/1", 404, `unknown item "1"`},
		{"DELETE", "/v1/items/1", 404, `unknown item "1"`},
		{"GET", "/v1/items/1/audience", 404, `unknown item "1"`},
		{"GET", "/v1/items/abc", 400, "item id must be an integer"},
		{"GET", "/v1/items/2/audience?n=0", 400, "n must be a positive integer"},
		{"GET", "/v1/items/2/audience?n=x", 400, "n must be a positive integer"},
		{"GET", "/v1/items/2/audience?n=51", 400, "over the limit of 50"},
		{"PUT", "/v1/items/2", 405, "method PUT not allowed"},
		{"GET", "/v1/clicks", 405, "method GET not allowed"},
		{"GET", "/v2/nothing", 404, "no endpoint"},
	} {
		code, r := ts.do(tc.method, tc.path, "")
		if code != tc.code || !strings.Contains(fmt.Sprint(r["error"]), tc.want) {
			t.Errorf("%s %s: %d %v, want %d %q", tc.method, tc.path, code, r, tc.code, tc.want)
		}
	}
}

func TestUsersEndpoint(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{})
	code, r := ts.do("POST", "/v1/users", `{"user_id": 5000, "vector": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}`)
	if code != 200 || r["user_id"] != 5000.0 {
		t.Fatalf("%d %v", code, r)
	}
	code, r = ts.do("POST", "/v1/clicks", `[{"user_id": 5000, "item_id": 1}]`)
	if code != 200 || r["accepted"] != 1.0 {
		t.Fatalf("click by new user: %d %v", code, r)
	}
	code, r = ts.do("POST", "/v1/score", `{"user_id": 5000, "item_ids": [2]}`)
	if code != 200 {
		t.Fatalf("score new user: %d %v", code, r)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"wrong dim", `{"user_id": 5001, "vector": [1, 2]}`, "has 2 values"},
		{"missing id", `{"vector": [1,2,3,4,5,6,7,8]}`, "missing user_id"},
		{"missing vector", `{"user_id": 5001}`, "missing vector or features"},
		{"features without a user model", `{"user_id": 5001, "features": {"age": 30}}`, "no user model"},
		{"malformed", `{"user_id": 5001, "vector": [1,`, "malformed JSON"},
		{"vector of strings", `{"user_id": 5001, "vector": ["a"]}`, "malformed JSON"},
	} {
		code, r := ts.do("POST", "/v1/users", tc.body)
		if code != 400 || !strings.Contains(fmt.Sprint(r["error"]), tc.want) {
			t.Errorf("%s: %d %v, want 400 %q", tc.name, code, r, tc.want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{Token: "s3cret"})
	ts.tok = ""
	for _, ep := range []struct{ method, path, body string }{
		{"POST", "/v1/clicks", `[{"user_id":1001,"item_id":1}]`},
		{"POST", "/v1/users", `{"user_id":1,"vector":[1,2,3,4,5,6,7,8]}`},
		{"DELETE", "/v1/items/1", ``},
		{"POST", "/v1/admin/reload", ``},
	} {
		code, r := ts.do(ep.method, ep.path, ep.body)
		if code != 401 || !strings.Contains(r["error"].(string), "bearer token") {
			t.Errorf("%s %s without token: %d %v", ep.method, ep.path, code, r)
		}
		code, _ = ts.do(ep.method, ep.path, ep.body, "Authorization", "Bearer wrong")
		if code != 401 {
			t.Errorf("%s %s with a wrong token: %d", ep.method, ep.path, code)
		}
	}
	// Reads need no token.
	if code, _ := ts.do("POST", "/v1/score", `{"user_id":1001,"item_ids":[1]}`); code != 200 {
		t.Errorf("score without token: %d", code)
	}
	ts.tok = "s3cret"
	if code, r := ts.do("POST", "/v1/clicks", `[{"user_id":1001,"item_id":1}]`); code != 200 {
		t.Errorf("clicks with token: %d %v", code, r)
	}
}

func TestHealthMetricsReload(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{})
	code, r := ts.do("GET", "/healthz", "")
	if code != 200 || r["status"] != "ok" || r["model_id"] == "" {
		t.Fatalf("healthz: %d %v", code, r)
	}
	ts.do("POST", "/v1/clicks", `[{"user_id":1001,"item_id":700},{"user_id":77,"item_id":700}]`)
	code, r = ts.do("POST", "/v1/admin/reload", "")
	if code != 200 || r["model_id"] == nil {
		t.Fatalf("reload: %d %v", code, r)
	}
	if code, r := ts.do("GET", "/v1/items/700", ""); code != 200 || r["seeds"] != 1.0 {
		t.Fatalf("seeds lost in reload: %d %v", code, r)
	}
	_, r = ts.do("GET", "/metrics", "")
	text := r["text"].(string)
	for _, want := range []string{
		`ralm_http_request_duration_seconds_count{code="200",route="POST /v1/clicks"} 1`,
		`ralm_clicks_total{result="accepted"} 1`,
		`ralm_clicks_total{result="rejected"} 1`,
		`ralm_items{status="ok"} 12`,
		`ralm_items{status="cold"} 1`,
		`ralm_recluster_duration_seconds_count`,
		`ralm_commit_duration_seconds_count`,
		`ralm_users 200`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestStringIDs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	if err := writeModel(dir, data.IDString); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, dir, Config{})
	code, r := ts.do("POST", "/v1/clicks", `[{"user_id":"u1","item_id":"fresh"},{"user_id":1,"item_id":"fresh"}]`)
	if code != 200 || r["accepted"] != 1.0 || r["rejected"] != 1.0 ||
		!strings.Contains(r["rejections"].([]any)[0].(map[string]any)["error"].(string), "user_id must be a string") {
		t.Fatalf("%d %v", code, r)
	}
	code, r = ts.do("POST", "/v1/score", `{"user_id":"u2","item_ids":["i1","fresh"]}`)
	if code != 200 || r["scores"].([]any)[0].(map[string]any)["item_id"] != "i1" {
		t.Fatalf("%d %v", code, r)
	}
	if code, r := ts.do("GET", "/v1/items/fresh", ""); code != 200 || r["item_id"] != "fresh" {
		t.Fatalf("%d %v", code, r)
	}
}

// TestServeGracefulShutdown serves on a real listener, ingests, shuts down
// through the context and checks that the clicks survived.
func TestServeGracefulShutdown(t *testing.T) {
	state := t.TempDir()
	e, err := serve.Open(context.Background(), modelDir, serve.Options{DataDir: state, ReclusterInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- New(e, Config{}).Serve(ctx, ln, Timeouts{Read: 5 * time.Second, Write: 5 * time.Second, Idle: 5 * time.Second, Shutdown: 5 * time.Second})
	}()
	url := "http://" + ln.Addr().String()
	var body strings.Builder
	body.WriteString("[")
	for i := range 100 {
		if i > 0 {
			body.WriteString(",")
		}
		fmt.Fprintf(&body, `{"user_id": %d, "item_id": 800}`, 1000+i)
	}
	body.WriteString("]")
	resp, err := http.Post(url+"/v1/clicks", "application/json", strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	e2, err := serve.Open(context.Background(), modelDir, serve.Options{DataDir: state, ReclusterInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	info, err := e2.Item(context.Background(), "800")
	if err != nil || info.Seeds != 100 {
		t.Fatalf("after restart: %+v %v", info, err)
	}
}
