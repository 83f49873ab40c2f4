// Package server is the HTTP API of a RALM serving engine (`ralm serve`):
// click ingestion, scoring, item information and audiences, user upserts,
// item deletion, model reload, health and Prometheus metrics.
//
// Every error is a JSON object {"error": "..."} with a 4xx status for bad
// input (malformed JSON, missing fields, ids of the wrong type, unknown ids,
// too many items, a body over the size limit), 408 when reading the body
// timed out, and 5xx only for server-side failures. A client-facing message
// names the field and the problem; it never holds a file path or a Go type
// (server faults are logged in full and answered with a fixed message).
// /healthz is the liveness check, /readyz the readiness check (503 with the
// reason while the engine is read-only after a storage fault). Write
// endpoints require a bearer token when one is configured.
package server

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve"
)

// Defaults for Config.
const (
	DefaultMaxBodyBytes = 16 << 20
	DefaultMaxItems     = 10_000
	DefaultMaxClicks    = 100_000
	DefaultMaxAudience  = 100_000
	DefaultAudience     = 100
)

// Config configures a Server. Zero values select the defaults.
type Config struct {
	// Token, if not empty, is the bearer token the write endpoints require
	// (POST /v1/clicks, POST /v1/users, POST /v1/items,
	// DELETE /v1/items/{id}, POST /v1/admin/reload).
	Token string
	// MaxBodyBytes caps a request body (default 16 MiB).
	MaxBodyBytes int64
	// MaxItems caps item_ids per score request (default 10,000).
	MaxItems int
	// MaxClicks caps clicks per clicks request (default 100,000).
	MaxClicks int
	// MaxAudience caps n of an audience request (default 100,000).
	MaxAudience int
	// Metrics are the Prometheus metrics (default: a new set, without the
	// engine hooks).
	Metrics *Metrics
	// Logger receives request errors (default: discard).
	Logger *slog.Logger
}

// Backend is what a Server serves: the embedded engine (*serve.Engine) or
// a replica on Redis (*serve.Replica), which have the same methods.
type Backend interface {
	IDKinds() (user, item data.IDKind)
	Clicks(ctx context.Context, batch []serve.Click) (serve.IngestResult, error)
	Score(ctx context.Context, userID string, itemIDs []string) ([]bundle.ItemScore, error)
	Item(ctx context.Context, itemID string) (serve.ItemInfo, error)
	Delete(ctx context.Context, itemID string) error
	Audience(ctx context.Context, itemID string, n int) (*serve.Audience, error)
	UpsertUser(ctx context.Context, id string, in serve.UserInput) error
	SetItemAttributes(ctx context.Context, itemID string, values map[string][]string) (unknown int, err error)
	Reload(ctx context.Context, modelDir string) error
	ModelID() string
	Ready() error
	Stats() serve.Stats
	Close() error
}

var (
	_ Backend = (*serve.Engine)(nil)
	_ Backend = (*serve.Replica)(nil)
)

// staler is a backend that may answer from out-of-date state (a Replica
// while Redis is down): its read responses then carry "stale": true.
type staler interface{ Stale() bool }

// Server serves the HTTP API of one engine.
type Server struct {
	e   Backend
	cfg Config
	mux *http.ServeMux
	log *slog.Logger
}

// New returns a server for e.
func New(e Backend, cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = DefaultMaxItems
	}
	if cfg.MaxClicks <= 0 {
		cfg.MaxClicks = DefaultMaxClicks
	}
	if cfg.MaxAudience <= 0 {
		cfg.MaxAudience = DefaultMaxAudience
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	cfg.Metrics.engine.e = e
	if rb, ok := e.(redisBackend); ok {
		cfg.Metrics.redis.r = rb
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{e: e, cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	s.route("POST /v1/clicks", true, s.handleClicks)
	s.route("POST /v1/score", false, s.handleScore)
	s.route("POST /v1/items", true, s.handleItems)
	s.route("GET /v1/items/{id}", false, s.handleItem)
	s.route("DELETE /v1/items/{id}", true, s.handleDelete)
	s.route("GET /v1/items/{id}/audience", false, s.handleAudience)
	s.route("POST /v1/users", true, s.handleUsers)
	s.route("POST /v1/admin/reload", true, s.handleReload)
	s.route("GET /healthz", false, s.handleHealth)
	s.route("GET /readyz", false, s.handleReady)
	metrics := promhttp.HandlerFor(cfg.Metrics.reg, promhttp.HandlerOpts{})
	s.route("GET /metrics", false, func(w http.ResponseWriter, r *http.Request) error {
		metrics.ServeHTTP(w, r)
		return nil
	})
	// Known paths with another method, and unknown paths: JSON errors too.
	for _, p := range []string{"/v1/clicks", "/v1/score", "/v1/items", "/v1/items/{id}", "/v1/items/{id}/audience", "/v1/users", "/v1/admin/reload", "/healthz", "/readyz", "/metrics"} {
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return s
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.mux }

// httpError is an error with an HTTP status.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// statusRecorder captures the status code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// route registers a handler with authentication, body limit, error
// rendering, panic safety and latency metrics.
func (s *Server) route(pattern string, write bool, h func(http.ResponseWriter, *http.Request) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panic", "route", pattern, "panic", p)
				if rec.code == 0 {
					writeError(rec, http.StatusInternalServerError, "internal error")
				}
			}
			s.cfg.Metrics.observe(pattern, rec.code, time.Since(start))
		}()
		if write && s.cfg.Token != "" && !s.authorized(r) {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="ralm"`)
			writeError(rec, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
		if err := h(rec, r); err != nil {
			code, msg := s.classify(err)
			if code >= 500 || code == http.StatusRequestTimeout {
				s.log.Error("request failed", "route", pattern, "code", code, "err", err)
			}
			writeError(rec, code, msg)
		}
	})
}

func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.cfg.Token)) == 1
}

// classify maps an error to a status and a client-facing message. Client
// input gives 4xx with a message naming the field and the problem, a body
// read that timed out 408, server faults 5xx with a fixed message (the
// details, which may hold paths, go to the log only).
func (s *Server) classify(err error) (int, string) {
	var he *httpError
	var mbe *http.MaxBytesError
	var ie *serve.InputError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		return he.code, he.msg
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the %d-byte limit", mbe.Limit)
	case errors.Is(err, bundle.ErrUnknownUser), errors.Is(err, bundle.ErrUnknownItem):
		return http.StatusNotFound, clip(err.Error())
	case errors.As(err, &ie), errors.Is(err, bundle.ErrBadID), errors.Is(err, serve.ErrNoUserModel):
		return http.StatusBadRequest, clip(err.Error())
	case errors.Is(err, serve.ErrClosed):
		return http.StatusServiceUnavailable, "the engine is shutting down"
	case errors.Is(err, serve.ErrNoAttrStore):
		return http.StatusNotImplemented, "this server's store does not keep item attributes (Redis mode): POST /v1/items is not available"
	case errors.Is(err, serve.ErrUnavailable):
		return http.StatusServiceUnavailable, "the shared store (Redis) is unavailable; writes are refused until it returns"
	case errors.Is(err, serve.ErrReadOnly):
		return http.StatusServiceUnavailable, "the engine is read-only after a storage fault; see the server log"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return http.StatusRequestTimeout, "request timed out"
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "request cancelled"
	}
	return http.StatusInternalServerError, "internal error; see the server log"
}

// maxMessage caps a client-facing error message, in bytes.
const maxMessage = 300

// clip shortens a message to maxMessage bytes.
func clip(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	return msg[:maxMessage] + "..."
}

// jsonTypeNames names the JSON type a Go type decodes from, for messages.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	if t == reflect.TypeOf(json.RawMessage(nil)) || t == reflect.TypeOf(json.Number("")) {
		return "a number or string"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	}
	return "another type"
}

// decodeError turns an error from decoding the request body into an
// *httpError: 400 naming the field and the problem (never a Go type), 413
// over the size limit, 408 when reading the body timed out. where, if not
// empty, says which part of the body ("click 3").
func decodeError(err error, where string) error {
	var he *httpError
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var ne net.Error
	prefix := "malformed JSON: "
	if where != "" {
		prefix += where + ": "
	}
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &mbe):
		return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the %d-byte limit", mbe.Limit)}
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return &httpError{http.StatusRequestTimeout, "timed out reading the request body"}
	case errors.As(err, &se):
		return badRequest("%s%s at byte %d", prefix, se.Error(), se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			prefix += "field " + te.Field + ": "
		}
		return badRequest("%swant %s, got %s", prefix, jsonTypeName(te.Type), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("%sunexpected end of body", prefix)
	}
	return &httpError{http.StatusBadRequest, "could not read the request body"}
}

// writeJSON encodes v before writing anything, so that a value that fails to
// encode (a NaN score) gives a 500 instead of a 200 with an empty body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "internal error: the reply could not be encoded"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// decodeStrict decodes one JSON value from r into v, rejecting trailing data.
// Every error is an *httpError (see decodeError).
func decodeStrict(r io.Reader, v any, useNumber bool) error {
	dec := json.NewDecoder(r)
	if useNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		return decodeError(err, "")
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return badRequest("malformed JSON: data after the JSON value")
		}
		return decodeError(err, "")
	}
	return nil
}

// clickJSON is one click of POST /v1/clicks.
type clickJSON struct {
	UserID json.RawMessage `json:"user_id"`
	ItemID json.RawMessage `json:"item_id"`
	TS     json.RawMessage `json:"ts"`
}

type rejectionJSON struct {
	Index  int             `json:"index"`
	UserID json.RawMessage `json:"user_id,omitempty"`
	ItemID json.RawMessage `json:"item_id,omitempty"`
	Error  string          `json:"error"`
	reason string
}

// MaxRejections is the number of rejected clicks a clicks reply lists
// (the first ones by index); the reply counts all of them by reason.
const MaxRejections = 100

// maxEcho caps an id echoed back in a rejection, in bytes.
const maxEcho = 64

// Rejection reasons, the keys of a clicks reply's "reasons".
const (
	reasonUserID      = "bad_user_id"
	reasonItemID      = "bad_item_id"
	reasonTS          = "bad_ts"
	reasonUnknownUser = "unknown_user"
	reasonOther       = "other"
)

type clicksReply struct {
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates"`
	Rejected   int             `json:"rejected"`
	Reasons    map[string]int  `json:"reasons,omitempty"`
	Rejections []rejectionJSON `json:"rejections"`
	Truncated  bool            `json:"rejections_truncated,omitempty"`
}

// echo returns raw for a rejection: as is when short, else a JSON string of
// its first maxEcho bytes.
func echo(raw json.RawMessage) json.RawMessage {
	if len(raw) <= maxEcho {
		return raw
	}
	b, _ := json.Marshal(strings.ToValidUTF8(string(raw[:maxEcho]), "") + "...")
	return b
}

// readClicks reads a JSON array of clicks or NDJSON (one click object per line).
func (s *Server) readClicks(body io.Reader) ([]clickJSON, error) {
	br := bufio.NewReader(body)
	first, err := peekNonSpace(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, badRequest("empty body: want a JSON array of clicks or NDJSON")
		}
		return nil, decodeError(err, "")
	}
	var out []clickJSON
	switch first {
	case '[':
		dec := json.NewDecoder(br)
		if _, err := dec.Token(); err != nil {
			return nil, decodeError(err, "")
		}
		for dec.More() {
			if len(out) >= s.cfg.MaxClicks {
				return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("too many clicks in one request (max %d)", s.cfg.MaxClicks)}
			}
			var c clickJSON
			if err := dec.Decode(&c); err != nil {
				return nil, decodeError(err, fmt.Sprintf("click %d", len(out)))
			}
			out = append(out, c)
		}
		if _, err := dec.Token(); err != nil {
			return nil, decodeError(err, "")
		}
		if _, err := dec.Token(); err != io.EOF {
			if err == nil {
				return nil, badRequest("malformed JSON: data after the array")
			}
			return nil, decodeError(err, "")
		}
	case '{':
		dec := json.NewDecoder(br)
		for {
			var c clickJSON
			err := dec.Decode(&c)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, decodeError(err, fmt.Sprintf("line %d", len(out)+1))
			}
			if len(out) >= s.cfg.MaxClicks {
				return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("too many clicks in one request (max %d)", s.cfg.MaxClicks)}
			}
			out = append(out, c)
		}
	default:
		return nil, badRequest("malformed JSON: want a JSON array of clicks or NDJSON click objects, got %q", first)
	}
	return out, nil
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return b, br.UnreadByte()
		}
	}
}

// parseTS reads a click's optional ts: Unix seconds as a JSON number.
func parseTS(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, nil
	}
	var n json.Number
	if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
		n = json.Number(raw)
	}
	sec, err := n.Float64()
	if err != nil || sec < 0 || sec > 1e11 {
		return time.Time{}, fmt.Errorf("ts %s: want Unix seconds (a number from 0 to 1e11)", truncate(raw, 40))
	}
	return time.Unix(0, int64(sec*1e9)), nil
}

// reasonOf is the rejection reason of an engine error about a click.
func reasonOf(err error) string {
	var ide *bundle.IDError
	switch {
	case errors.Is(err, bundle.ErrUnknownUser):
		return reasonUnknownUser
	case errors.As(err, &ide) && ide.What == "item":
		return reasonItemID
	case errors.As(err, &ide):
		return reasonUserID
	}
	return reasonOther
}

func (s *Server) handleClicks(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.readClicks(r.Body)
	if err != nil {
		return err
	}
	userKind, itemKind := s.e.IDKinds()
	var clicks []serve.Click
	var index []int // request index of each engine click
	var rejections []rejectionJSON
	reject := func(i int, c clickJSON, reason, msg string) {
		rejections = append(rejections, rejectionJSON{Index: i, UserID: echo(c.UserID), ItemID: echo(c.ItemID), Error: clip(msg), reason: reason})
	}
	for i, c := range raw {
		u, err := parseID(userKind, "user_id", c.UserID)
		if err != nil {
			reject(i, c, reasonUserID, err.Error())
			continue
		}
		it, err := parseID(itemKind, "item_id", c.ItemID)
		if err != nil {
			reject(i, c, reasonItemID, err.Error())
			continue
		}
		t, err := parseTS(c.TS)
		if err != nil {
			reject(i, c, reasonTS, err.Error())
			continue
		}
		clicks = append(clicks, serve.Click{UserID: u, ItemID: it, Time: t})
		index = append(index, i)
	}
	s.cfg.Metrics.rejected.Add(uint64(len(rejections)))
	reply := clicksReply{Rejections: []rejectionJSON{}}
	if len(clicks) > 0 {
		res, err := s.e.Clicks(r.Context(), clicks)
		if err != nil {
			return err
		}
		reply.Accepted, reply.Duplicates = res.Accepted, res.Duplicates
		for _, rj := range res.Rejected {
			i := index[rj.Index]
			reject(i, raw[i], reasonOf(rj.Err), rj.Err.Error())
		}
	}
	slices.SortStableFunc(rejections, func(a, b rejectionJSON) int { return cmp.Compare(a.Index, b.Index) })
	reply.Rejected = len(rejections)
	if len(rejections) > 0 {
		reply.Reasons = make(map[string]int)
		for _, rj := range rejections {
			reply.Reasons[rj.reason]++
		}
	}
	if len(rejections) > MaxRejections {
		rejections, reply.Truncated = rejections[:MaxRejections], true
	}
	reply.Rejections = append(reply.Rejections, rejections...)
	writeJSON(w, http.StatusOK, reply)
	return nil
}

type scoreRequest struct {
	UserID  json.RawMessage   `json:"user_id"`
	ItemIDs []json.RawMessage `json:"item_ids"`
}

type scoreJSON struct {
	ItemID jsonID  `json:"item_id"`
	Score  float32 `json:"score"`
	Status string  `json:"status"`
}

func (s *Server) handleScore(w http.ResponseWriter, r *http.Request) error {
	var req scoreRequest
	if err := decodeStrict(r.Body, &req, false); err != nil {
		return err
	}
	userKind, itemKind := s.e.IDKinds()
	u, err := parseID(userKind, "user_id", req.UserID)
	if err != nil {
		return badRequest("%v", err)
	}
	if req.ItemIDs == nil {
		return badRequest("missing item_ids")
	}
	if len(req.ItemIDs) > s.cfg.MaxItems {
		return badRequest("too many item_ids: %d (max %d per request)", len(req.ItemIDs), s.cfg.MaxItems)
	}
	ids := make([]string, len(req.ItemIDs))
	for i, raw := range req.ItemIDs {
		if ids[i], err = parseID(itemKind, fmt.Sprintf("item_ids[%d]", i), raw); err != nil {
			return badRequest("%v", err)
		}
	}
	res, err := s.e.Score(r.Context(), u, ids)
	if err != nil {
		return err
	}
	out := make([]scoreJSON, len(res))
	for i, x := range res {
		out[i] = scoreJSON{ItemID: newJSONID(itemKind, x.ItemID), Score: x.Score, Status: string(x.Status)}
	}
	writeJSON(w, http.StatusOK, s.markStale(map[string]any{"user_id": newJSONID(userKind, u), "scores": out}))
	return nil
}

// timeOrNil renders a time as RFC 3339, or null when zero.
func timeOrNil(t time.Time) any {
	if t.IsZero() || t.UnixNano() == 0 {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (s *Server) pathItem(r *http.Request) (string, error) {
	_, itemKind := s.e.IDKinds()
	id, err := parsePathID(itemKind, "item id", r.PathValue("id"))
	if err != nil {
		return "", badRequest("%v", err)
	}
	return id, nil
}

func (s *Server) handleItem(w http.ResponseWriter, r *http.Request) error {
	id, err := s.pathItem(r)
	if err != nil {
		return err
	}
	info, err := s.e.Item(r.Context(), id)
	if err != nil {
		return err
	}
	_, itemKind := s.e.IDKinds()
	reply := map[string]any{
		"item_id":         newJSONID(itemKind, id),
		"seeds":           info.Seeds,
		"status":          info.Status,
		"last_recluster":  timeOrNil(info.LastRecluster),
		"recluster_seeds": info.ReclusterSeeds,
		"centroids":       info.Centroids,
		"pending":         info.Pending,
		"last_click":      timeOrNil(info.LastClick),
		"created":         timeOrNil(info.Created),
	}
	if info.Failure != "" {
		reply["failure"] = info.Failure
	}
	writeJSON(w, http.StatusOK, s.markStale(reply))
	return nil
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := s.pathItem(r)
	if err != nil {
		return err
	}
	if err := s.e.Delete(r.Context(), id); err != nil {
		return err
	}
	_, itemKind := s.e.IDKinds()
	writeJSON(w, http.StatusOK, map[string]any{"deleted": newJSONID(itemKind, id)})
	return nil
}

type audienceUser struct {
	UserID jsonID  `json:"user_id"`
	Score  float32 `json:"score"`
}

func (s *Server) handleAudience(w http.ResponseWriter, r *http.Request) error {
	id, err := s.pathItem(r)
	if err != nil {
		return err
	}
	n := DefaultAudience
	if q := r.URL.Query().Get("n"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 1 {
			return badRequest("n must be a positive integer, got %q", q)
		}
		if v > s.cfg.MaxAudience {
			return badRequest("n %d is over the limit of %d", v, s.cfg.MaxAudience)
		}
		n = v
	}
	a, err := s.e.Audience(r.Context(), id, n)
	if err != nil {
		return err
	}
	userKind, itemKind := s.e.IDKinds()
	users := make([]audienceUser, len(a.Users))
	for i, u := range a.Users {
		users[i] = audienceUser{UserID: newJSONID(userKind, u.UserID), Score: u.Score}
	}
	writeJSON(w, http.StatusOK, s.markStale(map[string]any{
		"item_id": newJSONID(itemKind, id), "status": a.Status, "seeds": a.Seeds, "users": users,
	}))
	return nil
}

type userRequest struct {
	UserID       json.RawMessage   `json:"user_id"`
	Vector       []float32         `json:"vector"`
	Features     map[string]any    `json:"features"`
	ClickedItems []json.RawMessage `json:"clicked_items"`
}

func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := decodeStrict(r.Body, &req, true); err != nil {
		return err
	}
	userKind, itemKind := s.e.IDKinds()
	u, err := parseID(userKind, "user_id", req.UserID)
	if err != nil {
		return badRequest("%v", err)
	}
	in := serve.UserInput{Vector: req.Vector, Features: req.Features}
	for i, raw := range req.ClickedItems {
		id, err := parseID(itemKind, fmt.Sprintf("clicked_items[%d]", i), raw)
		if err != nil {
			return badRequest("%v", err)
		}
		in.Clicked = append(in.Clicked, id)
	}
	if in.Vector == nil && in.Features == nil && in.Clicked == nil {
		return badRequest("missing vector or features")
	}
	normalizeNumbers(in.Features)
	if err := s.e.UpsertUser(r.Context(), u, in); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": newJSONID(userKind, u)})
	return nil
}

// normalizeNumbers turns json.Number values (and lists of them) into int64
// or float64, the types the user model's feature builder accepts.
func normalizeNumbers(m map[string]any) {
	conv := func(v any) any {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i
			}
			f, _ := n.Float64()
			return f
		}
		return v
	}
	for k, v := range m {
		if l, ok := v.([]any); ok {
			for i := range l {
				l[i] = conv(l[i])
			}
			continue
		}
		m[k] = conv(v)
	}
}

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) error {
	if err := s.e.Reload(r.Context(), ""); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"model_id": s.e.ModelID()})
	return nil
}

// handleHealth is the liveness check: the process serves requests (with
// "stale": true while a Redis backend answers from out-of-date state).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.markStale(map[string]any{"status": "ok", "model_id": s.e.ModelID()}))
	return nil
}

// markStale adds "stale": true to a read response while the backend
// answers from out-of-date state.
func (s *Server) markStale(m map[string]any) map[string]any {
	if st, ok := s.e.(staler); ok && st.Stale() {
		m["stale"] = true
	}
	return m
}

// handleReady is the readiness check: 200 while the engine accepts writes,
// 503 with the reason while it is read-only (a storage fault) or closed.
// On a serve.Engine it also reports the start-up build of item states
// (start_build: items, built, done, seconds).
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	if err := s.e.Ready(); err != nil {
		code, reason := s.classify(err)
		s.log.Warn("not ready", "err", err)
		writeJSON(w, code, map[string]any{"ready": false, "reason": reason, "model_id": s.e.ModelID()})
		return nil
	}
	body := map[string]any{"ready": true, "model_id": s.e.ModelID()}
	if b, ok := s.e.(startBuilder); ok {
		// Ready while the start-up build runs: requests build what they need.
		p := b.StartBuild()
		body["start_build"] = map[string]any{"items": p.Items, "built": p.Built, "done": p.Done, "seconds": p.Elapsed.Seconds()}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// startBuilder is a backend that builds its item states in the background
// after it opens (serve.Engine).
type startBuilder interface {
	StartBuild() serve.BuildProgress
}

// Timeouts are the HTTP server's timeouts.
type Timeouts struct {
	Read, Write, Idle time.Duration
	// Shutdown bounds the graceful shutdown (waiting for in-flight requests).
	Shutdown time.Duration
}

// DefaultTimeouts returns production timeouts: read 30 s, write 60 s, idle
// 120 s, shutdown 30 s.
func DefaultTimeouts() Timeouts {
	return Timeouts{Read: 30 * time.Second, Write: 60 * time.Second, Idle: 120 * time.Second, Shutdown: 30 * time.Second}
}

// Serve serves the API on ln until ctx is done, then shuts down gracefully:
// it stops accepting connections, waits (up to t.Shutdown) for in-flight
// requests — whose clicks are then committed — and closes the engine, which
// flushes any click still queued.
func (s *Server) Serve(ctx context.Context, ln net.Listener, t Timeouts) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadTimeout:       t.Read,
		ReadHeaderTimeout: min(t.Read, 10*time.Second),
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), t.Shutdown)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	closeErr := s.e.Close()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if shutErr != nil {
		return fmt.Errorf("graceful shutdown: %w", shutErr)
	}
	return closeErr
}
