package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/internal/redistest"
)

// TestPublishServeRedis runs `ralm publish` and `ralm serve --redis` on a
// real redis-server: the published generation is served, clicks for a new
// item make it ok, and bad publish flags fail with a clear message.
func TestPublishServeRedis(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	writeServeModel(t, model)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--redis", srv.URL()}, "--model is required"},
		{[]string{"--model", model}, "--redis or --redis-cluster is required"},
		{[]string{"--model", model, "--redis", srv.URL(), "--redis-prefix", "a{b}"}, "without braces"},
		{[]string{"--model", dir, "--redis", srv.URL()}, "no manifest.json"},
	} {
		cmd := newPublishCmd()
		cmd.SetArgs(tc.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("publish %v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	cmd := newPublishCmd()
	var out bytes.Buffer
	cmd.SetArgs([]string{"--model", model, "--redis", srv.URL()})
	cmd.SetOut(&out)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "as generation 1: 120 users of dim 6") {
		t.Fatalf("publish said %q", out.String())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var sout string
	go func() {
		var err error
		sout, err = execServe(ctx, "--model", model, "--redis", srv.URL(), "--workers", "1", "--addr", addr, "--min-seeds", "5")
		done <- err
	}()
	base := "http://" + addr
	post := func(path, body string) (int, string) {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := post("/v1/score", `{"user_id": 9, "item_ids": [1]}`); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var clicks []string
	for u := 1; u <= 6; u++ {
		clicks = append(clicks, fmt.Sprintf(`{"user_id": %d, "item_id": 77}`, u*3))
	}
	if code, body := post("/v1/clicks", "["+strings.Join(clicks, ",")+"]"); code != 200 || !strings.Contains(body, `"accepted":6`) {
		t.Fatalf("clicks: %d %s", code, body)
	}
	for {
		_, body := post("/v1/score", `{"user_id": 9, "item_ids": [77, 1]}`)
		if strings.Count(body, `"status":"ok"`) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("item 77 never became ok: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(sout, "from Redis (model generation 1, 1 workers)") {
		t.Fatalf("serve said %q", sout)
	}
}
