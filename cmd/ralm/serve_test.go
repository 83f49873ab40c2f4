package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
)

// writeServeModel writes a tiny model folder: 120 users (ids 1..120, dim 6),
// 6 items (ids 1..6) with 15 clickers each.
func writeServeModel(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	users := data.NewVocab(data.IDInt64)
	var vecs []float32
	for i := range 120 {
		users.MustAdd(strconv.Itoa(i + 1))
		for range 6 {
			vecs = append(vecs, float32(rng.NormFloat64())+float32(i%3))
		}
	}
	c := &data.Clicks{Users: users.Clone(), Items: data.NewVocab(data.IDInt64)}
	clickers := make([][]int32, 6)
	for it := range 6 {
		idx := c.Items.MustAdd(strconv.Itoa(it + 1))
		for k := range 15 {
			u := int32((it + 6*k) % 120)
			c.User, c.Item, c.TS = append(c.User, u), append(c.Item, idx), append(c.TS, int64(k)*1e9)
			clickers[idx] = append(clickers[idx], u)
		}
	}
	cfg := lookalike.DefaultConfig()
	cfg.K, cfg.Epochs, cfg.MinClickers, cfg.Batch, cfg.SeedsPerItem = 3, 1, 5, 16, 10
	m, _, err := lookalike.Train(context.Background(), vecs, 6, clickers, cfg, lookalike.TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bundle.Write(dir, &bundle.Bundle{LookAlike: m, Embeddings: &data.Embeddings{Users: users, Dim: 6, Vecs: vecs}, Seeds: c}); err != nil {
		t.Fatal(err)
	}
}

// execServe runs the serve command with args until ctx ends.
func execServe(ctx context.Context, args ...string) (string, error) {
	cmd := newServeCmd()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestServeBadFlags(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	writeServeModel(t, model)
	empty := filepath.Join(dir, "empty-token")
	os.WriteFile(empty, []byte("  \n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", dir}, "--model is required"},
		{[]string{"--model", model}, "--data is required"},
		{[]string{"--model", model, "--data", dir, "--redis", "redis://127.0.0.1:1"}, "not both"},
		{[]string{"--model", model, "--redis", "127.0.0.1:6379"}, "want redis://HOST:PORT"},
		{[]string{"--model", model, "--redis", "redis://a:1", "--redis-cluster", "a:1"}, "--redis or --redis-cluster, not both"},
		{[]string{"--model", model, "--redis-cluster", "a:1,b"}, `address 2 "b": want HOST:PORT`},
		{[]string{"--model", model, "--redis", "redis://a:1", "--workers", "-1"}, "--workers must not be negative"},
		{[]string{"--model", model, "--redis", "redis://a:1", "--redis-wait-replicas", "-1"}, "must not be negative"},
		{[]string{"--model", model, "--redis", "redis://a:1", "--expire-after", "1h"}, "not supported with --redis"},
		{[]string{"--model", model, "--redis", "redis://127.0.0.1:1"}, "redis store: ping"},
		{[]string{"--model", model, "--data", dir, "--max-seeds", "0"}, "--max-seeds must be positive"},
		{[]string{"--model", model, "--data", dir, "--min-seeds", "50", "--max-seeds", "10"}, "exceeds --max-seeds"},
		{[]string{"--model", model, "--data", dir, "--recluster-interval", "-1s"}, "--recluster-interval must be positive"},
		{[]string{"--model", model, "--data", dir, "--token-file", empty}, "want one token"},
		{[]string{"--model", model, "--data", dir, "--token-file", filepath.Join(dir, "none")}, "no such file"},
		{[]string{"--model", dir, "--data", filepath.Join(dir, "state")}, "no manifest.json"},
		{[]string{"--model", model, "--data", filepath.Join(dir, "state"), "--addr", "256.0.0.1:bad"}, "listen"},
	} {
		_, err := execServe(context.Background(), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	// an address in use fails before the model folder is read (issue 14,
	// point 9), and so do a state folder that cannot be created and a Redis
	// that does not answer
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", dir, "--data", filepath.Join(dir, "state"), "--addr", busy.Addr().String()}, "listen " + busy.Addr().String()},
		{[]string{"--model", dir, "--data", filepath.Join(empty, "state"), "--addr", "127.0.0.1:0"}, "open seed store"},
		{[]string{"--model", dir, "--redis", "redis://127.0.0.1:1", "--addr", "127.0.0.1:0"}, "redis store: ping"},
	} {
		_, err := execServe(context.Background(), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "manifest") {
			t.Errorf("%v: err = %v, want %q before the model folder's error", tc.args, err, tc.want)
		}
	}
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	writeServeModel(t, model)
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("tok123\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := execServe(ctx, "--model", model, "--data", filepath.Join(dir, "state"), "--addr", addr,
			"--token-file", tokenFile, "--recluster-interval", "20ms", "--min-seeds", "5")
		done <- result{out, err}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	post := func(path, body string, auth bool) (int, string) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		if auth {
			req.Header.Set("Authorization", "Bearer tok123")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := post("/v1/clicks", `[{"user_id": 1, "item_id": 77}]`, false); code != 401 {
		t.Fatalf("clicks without token: %d", code)
	}
	var clicks []string
	for u := 1; u <= 6; u++ {
		clicks = append(clicks, fmt.Sprintf(`{"user_id": %d, "item_id": 77}`, u*3))
	}
	if code, body := post("/v1/clicks", "["+strings.Join(clicks, ",")+"]", true); code != 200 || !strings.Contains(body, `"accepted":6`) {
		t.Fatalf("clicks: %d %s", code, body)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, body := post("/v1/score", `{"user_id": 9, "item_ids": [77, 1]}`, false)
		if code != 200 {
			t.Fatalf("score: %d %s", code, body)
		}
		if strings.Count(body, `"status":"ok"`) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("item 77 never became ok: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// SIGHUP reloads the model folder.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	r := <-done
	if r.err != nil {
		t.Fatalf("serve: %v", r.err)
	}
	for _, want := range []string{"serving " + model, "reloaded " + model, "shut down cleanly"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
}
