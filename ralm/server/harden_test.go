package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/serve"
)

// openAt serves the model folder dir with its seed store in dataDir; the
// returned func closes server and engine.
func openAt(t *testing.T, dir, dataDir string, cfg Config, store serve.Store) (*testServer, func() error) {
	t.Helper()
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	opts := serve.Options{DataDir: dataDir, ReclusterInterval: time.Hour, MinSeeds: 5, Hooks: cfg.Metrics.Hooks(), Store: store}
	e, err := serve.Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	ts := &testServer{t: t, e: e, srv: httptest.NewServer(New(e, cfg).Handler()), tok: cfg.Token}
	closed := false
	closeFn := func() error {
		if closed {
			return nil
		}
		closed = true
		ts.srv.Close()
		return e.Close()
	}
	t.Cleanup(func() { closeFn() })
	return ts, closeFn
}

func stringModel(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := writeModel(dir, data.IDString); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Finding 1: an over-long id is refused before it is acknowledged, and the
// state folder still closes and reopens.
func TestLongIDNeverReachesTheStore(t *testing.T) {
	dir, dataDir := stringModel(t), t.TempDir()
	ts, closeFn := openAt(t, dir, dataDir, Config{}, nil)
	long := strings.Repeat("x", 32_769)
	for _, tc := range []struct{ name, body string }{
		{"long item_id", fmt.Sprintf(`[{"user_id":"u1","item_id":%q}]`, long)},
		{"long user_id", fmt.Sprintf(`[{"user_id":%q,"item_id":"i1"}]`, long)},
		{"control character", `[{"user_id":"u1","item_id":"a\u0000b"}]`},
	} {
		code, r := ts.do("POST", "/v1/clicks", tc.body)
		if code != 200 || r["accepted"] != 0.0 || r["rejected"] != 1.0 {
			t.Errorf("%s: %d %v, want the click rejected", tc.name, code, r)
		}
	}
	if code, r := ts.do("DELETE", "/v1/items/"+long, ""); code != 400 {
		t.Errorf("delete long id: %d %v, want 400", code, r)
	}
	if code, r := ts.do("POST", "/v1/clicks", `[{"user_id":"u1","item_id":"i700"}]`); code != 200 || r["accepted"] != 1.0 {
		t.Fatalf("good click after the bad ones: %d %v", code, r)
	}
	if err := closeFn(); err != nil {
		t.Fatalf("close after a long id: %v", err)
	}
	ts, _ = openAt(t, dir, dataDir, Config{}, nil)
	if code, r := ts.do("GET", "/v1/items/i700", ""); code != 200 || r["seeds"] != 1.0 {
		t.Fatalf("after reopen: %d %v", code, r)
	}
}

// Finding 2: a bad user_id on POST /v1/users is a 400 and never turns the
// engine read-only.
func TestBadUpsertKeepsEngineWritable(t *testing.T) {
	ts := newTestServer(t, stringModel(t), Config{})
	vec := "[" + strings.TrimSuffix(strings.Repeat("0.5,", 8), ",") + "]"
	code, r := ts.do("POST", "/v1/users", fmt.Sprintf(`{"user_id":%q,"vector":%s}`, strings.Repeat("y", 40_000), vec))
	if code != 400 {
		t.Fatalf("long user_id: %d %v, want 400", code, r)
	}
	if len(fmt.Sprint(r["error"])) > maxMessage+10 {
		t.Errorf("error message is %d bytes long", len(fmt.Sprint(r["error"])))
	}
	if code, r := ts.do("POST", "/v1/users", `{"user_id":"new1","vector":`+vec+`}`); code != 200 {
		t.Fatalf("upsert after a bad one: %d %v", code, r)
	}
	if err := ts.e.WaitBuilt(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, r = ts.do("GET", "/readyz", "")
	if code != 200 || r["ready"] != true {
		t.Fatalf("readyz: %d %v", code, r)
	}
	if b, _ := r["start_build"].(map[string]any); b["done"] != true || b["built"] != b["items"] || b["items"] == 0.0 {
		t.Fatalf("readyz after the start-up build: start_build %v, want done with every item built", r["start_build"])
	}
}

// Finding 3: a finite vector of huge norm is refused.
func TestHugeVectorRefused(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{})
	huge := "[" + strings.TrimSuffix(strings.Repeat("3e38,", 8), ",") + "]"
	code, r := ts.do("POST", "/v1/users", `{"user_id":5000,"vector":`+huge+`}`)
	if code != 400 || !strings.Contains(fmt.Sprint(r["error"]), "norm") {
		t.Fatalf("huge vector: %d %v, want 400 naming the norm", code, r)
	}
	if code, r := ts.do("POST", "/v1/score", `{"user_id":5000,"item_ids":[1]}`); code != 404 {
		t.Fatalf("score of the refused user: %d %v, want 404", code, r)
	}
}

// Finding 3: a reply that fails to encode is a 500, never a 200 with an
// empty body.
func TestUnencodableReplyIs500(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, map[string]float64{"score": nan()})
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "error") {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}

func nan() float64 { var z float64; return z / z }

// Finding 4: a badly typed ts rejects its click only.
func TestBadTSRejectedPerClick(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{})
	body := `[{"user_id":1001,"item_id":800,"ts":"abc"},{"user_id":1002,"item_id":800,"ts":true},` +
		`{"user_id":1003,"item_id":800,"ts":{}},{"user_id":1004,"item_id":800,"ts":1700000000}]`
	code, r := ts.do("POST", "/v1/clicks", body)
	if code != 200 || r["accepted"] != 1.0 || r["rejected"] != 3.0 {
		t.Fatalf("mixed ts: %d %v, want 1 accepted, 3 rejected", code, r)
	}
	for i, rj := range r["rejections"].([]any) {
		m := rj.(map[string]any)
		if m["index"] != float64(i) || !strings.Contains(m["error"].(string), "ts") {
			t.Errorf("rejection %d: %v", i, m)
		}
	}
	// Finding 10: the metric counts every rejected click.
	_, m := ts.do("GET", "/metrics", "")
	if !strings.Contains(m["text"].(string), `ralm_clicks_total{result="rejected"} 3`) {
		t.Errorf("metrics do not count 3 rejected clicks")
	}
}

// Finding 5: messages name the field, not a Go type; server faults are 5xx
// without paths.
func TestErrorClassesAndLeaks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.CopyFS(dir, os.DirFS(modelDir)); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, dir, Config{})
	for _, tc := range []struct{ name, method, path, body string }{
		{"score item_ids object", "POST", "/v1/score", `{"user_id":1001,"item_ids":{}}`},
		{"score body array", "POST", "/v1/score", `[1]`},
		{"users vector string", "POST", "/v1/users", `{"user_id":1001,"vector":"x"}`},
		{"users features array", "POST", "/v1/users", `{"user_id":1001,"features":[1]}`},
	} {
		code, r := ts.do(tc.method, tc.path, tc.body)
		msg := fmt.Sprint(r["error"])
		if code != 400 || strings.Contains(msg, "server.") || strings.Contains(msg, "json.") || strings.Contains(msg, "[]") {
			t.Errorf("%s: %d %q, want 400 without Go types", tc.name, code, msg)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, r := ts.do("POST", "/v1/admin/reload", "")
	if msg := fmt.Sprint(r["error"]); code < 500 || strings.Contains(msg, dir) || strings.Contains(msg, "/") {
		t.Errorf("reload of a corrupt manifest: %d %q, want 5xx without a path", code, msg)
	}
}

// timeoutErr is a body read that timed out, as net/http reports a slow body.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type slowBody struct{ sent bool }

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, `{"user_id":`), nil
	}
	return 0, timeoutErr{}
}

// Finding 5: a body that times out is a 408 without socket addresses.
func TestSlowBodyIs408(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{})
	h := New(ts.e, Config{}).Handler()
	for _, path := range []string{"/v1/score", "/v1/clicks", "/v1/users"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, io.NopCloser(&slowBody{})))
		if rec.Code != http.StatusRequestTimeout || strings.Contains(rec.Body.String(), "127.0.0.1") {
			t.Errorf("%s: %d %s, want 408 without addresses", path, rec.Code, rec.Body.String())
		}
	}
}

// Finding 6: the rejections listed are capped and echoed ids truncated.
func TestRejectionsBounded(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{})
	var b strings.Builder
	b.WriteString("[")
	long := strings.Repeat("z", 10_000)
	for i := range 500 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"user_id":%q,"item_id":1}`, long)
	}
	b.WriteString("]")
	code, r := ts.do("POST", "/v1/clicks", b.String())
	if code != 200 || r["rejected"] != 500.0 || r["rejections_truncated"] != true {
		t.Fatalf("500 bad clicks: %d rejected=%v truncated=%v", code, r["rejected"], r["rejections_truncated"])
	}
	rj := r["rejections"].([]any)
	if len(rj) != MaxRejections {
		t.Errorf("%d rejections listed, want %d", len(rj), MaxRejections)
	}
	if reasons := r["reasons"].(map[string]any); reasons[reasonUserID] != 500.0 {
		t.Errorf("reasons %v", reasons)
	}
	if s := fmt.Sprint(rj[0]); len(s) > 600 {
		t.Errorf("one rejection is %d bytes long: echo not truncated", len(s))
	}
}

// failingStore fails every Commit once armed.
type failingStore struct {
	serve.Store
	armed atomic.Bool
}

func (s *failingStore) Commit(b *serve.Batch) error {
	if s.armed.Load() {
		return errors.New("write /data/seeds.db: no space left on device")
	}
	return s.Store.Commit(b)
}

// Finding 7: /readyz tells a read-only engine apart from a live one.
func TestReadyzReportsReadOnly(t *testing.T) {
	bolt, err := serve.OpenBoltStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fs := &failingStore{Store: bolt}
	ts, _ := openAt(t, modelDir, "", Config{}, fs)
	if code, r := ts.do("GET", "/readyz", ""); code != 200 || r["ready"] != true {
		t.Fatalf("readyz before the fault: %d %v", code, r)
	}
	fs.armed.Store(true)
	code, r := ts.do("POST", "/v1/clicks", `[{"user_id":1001,"item_id":900}]`)
	if code < 500 || strings.Contains(fmt.Sprint(r["error"]), "/data") {
		t.Errorf("click on a failing store: %d %v, want 5xx without the path", code, r)
	}
	code, r = ts.do("POST", "/v1/clicks", `[{"user_id":1001,"item_id":900}]`)
	if code != 503 || strings.Contains(fmt.Sprint(r["error"]), "/data") {
		t.Errorf("click on a read-only engine: %d %v, want 503 without the path", code, r)
	}
	code, r = ts.do("GET", "/readyz", "")
	if code != 503 || r["ready"] != false || !strings.Contains(fmt.Sprint(r["reason"]), "read-only") {
		t.Fatalf("readyz after the fault: %d %v", code, r)
	}
	if code, _ := ts.do("GET", "/healthz", ""); code != 200 {
		t.Errorf("healthz (liveness) after the fault: %d", code)
	}
}

// Finding 10: ralm_clicks_total{result="rejected"} counts every rejected
// click, those the engine refuses (unknown users) and those the server
// refuses (a bad ts) alike.
func TestRejectedMetricCountsEveryClick(t *testing.T) {
	ts := newTestServer(t, modelDir, Config{})
	for _, tc := range []struct {
		body           string
		rejected, want int
	}{
		{`[{"user_id":77,"item_id":701},{"user_id":78,"item_id":701},{"user_id":79,"item_id":701},{"user_id":1001,"item_id":701}]`, 3, 3},
		{`[{"user_id":80,"item_id":701},{"user_id":1002,"item_id":701,"ts":"x"},{"user_id":1003,"item_id":701}]`, 2, 5},
	} {
		code, r := ts.do("POST", "/v1/clicks", tc.body)
		if code != 200 || r["rejected"] != float64(tc.rejected) {
			t.Fatalf("%s: %d %v, want %d rejected", tc.body, code, r, tc.rejected)
		}
		_, m := ts.do("GET", "/metrics", "")
		if want := fmt.Sprintf(`ralm_clicks_total{result="rejected"} %d`+"\n", tc.want); !strings.Contains(m["text"].(string), want) {
			t.Errorf("after %s: metrics lack %q", tc.body, want)
		}
	}
}

// deferringStore reports item 700 as deferred by every Apply and Checkpoint
// once armed, as a store does that cannot write one item in place.
type deferringStore struct {
	serve.Store
	armed atomic.Bool
}

func (s *deferringStore) deferred(err error) error {
	if err == nil && s.armed.Load() {
		return &serve.DeferredItemsError{Items: map[string]error{"700": errors.New("injected: key refused")}}
	}
	return err
}

func (s *deferringStore) Apply(b *serve.Batch) error { return s.deferred(s.Store.Apply(b)) }
func (s *deferringStore) Checkpoint() error          { return s.deferred(s.Store.Checkpoint()) }

// Finding 1: an item the store cannot write shows the status failed with the
// reason in GET /v1/items/{id}, in scores and in the metrics, while the
// engine stays ready and writable.
func TestDeferredItemStatusFailed(t *testing.T) {
	bolt, err := serve.OpenBoltStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ds := &deferringStore{Store: bolt}
	ts, _ := openAt(t, modelDir, "", Config{}, ds)
	ds.armed.Store(true)
	// The committer checkpoints after each commit: after the second click
	// the first checkpoint has run.
	for _, body := range []string{`[{"user_id":1001,"item_id":700}]`, `[{"user_id":1002,"item_id":701}]`} {
		if code, r := ts.do("POST", "/v1/clicks", body); code != 200 || r["accepted"] != 1.0 {
			t.Fatalf("click: %d %v", code, r)
		}
	}
	code, r := ts.do("GET", "/v1/items/700", "")
	if code != 200 || r["status"] != "failed" || !strings.Contains(fmt.Sprint(r["failure"]), "injected: key refused") {
		t.Errorf("item 700: %d %v, want status failed with the reason", code, r)
	}
	if code, r := ts.do("GET", "/v1/items/701", ""); code != 200 || r["status"] != "cold" || r["failure"] != nil {
		t.Errorf("item 701: %d %v, want cold without a failure", code, r)
	}
	_, r = ts.do("POST", "/v1/score", `{"user_id":1003,"item_ids":[700,701]}`)
	if sc := r["scores"].([]any); sc[0].(map[string]any)["status"] != "failed" || sc[1].(map[string]any)["status"] != "cold" {
		t.Errorf("scores %v, want failed, cold", sc)
	}
	if code, r := ts.do("GET", "/readyz", ""); code != 200 || r["ready"] != true {
		t.Errorf("readyz: %d %v", code, r)
	}
	_, m := ts.do("GET", "/metrics", "")
	if !strings.Contains(m["text"].(string), `ralm_items{status="failed"} 1`+"\n") {
		t.Errorf("metrics lack one failed item")
	}
}

// TestClassifyStoreLimits: an error a backend returns because its store
// cannot do what was asked maps to a status naming it, never to a 500.
func TestClassifyStoreLimits(t *testing.T) {
	s := &Server{}
	for _, tc := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("set item attributes: %w (Redis mode)", serve.ErrNoAttrStore), http.StatusNotImplemented},
		{fmt.Errorf("append: %w", serve.ErrUnavailable), http.StatusServiceUnavailable},
		{fmt.Errorf("commit: %w", serve.ErrReadOnly), http.StatusServiceUnavailable},
	} {
		code, msg := s.classify(tc.err)
		if code != tc.code || strings.Contains(msg, "internal") {
			t.Errorf("classify(%v) = %d %q, want %d with a message naming the cause", tc.err, code, msg, tc.code)
		}
	}
}
