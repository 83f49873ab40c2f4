package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ralmlab/ralm/ralm/serve"
)

// Environment of the child process of TestSoakCrash: the model folder
// (TestMain then serves it instead of writing its own) and the state folder.
const (
	crashModelEnv = "RALM_SOAK_CRASH_MODEL"
	crashDataEnv  = "RALM_SOAK_CRASH_DATA"
)

// crashSoakDuration bounds the operations of TestSoakCrash (restarts add a
// few seconds).
const crashSoakDuration = 30 * time.Second

// TestSoakCrashChild is the server process of TestSoakCrash: it serves the
// model folder with its state in the given folder on a free port, prints
// "ADDR host:port" and serves until it is killed.
func TestSoakCrashChild(t *testing.T) {
	dataDir := os.Getenv(crashDataEnv)
	if dataDir == "" {
		t.Skip("the server process of TestSoakCrash")
	}
	m := NewMetrics()
	e, err := serve.Open(context.Background(), modelDir, serve.Options{DataDir: dataDir, ReclusterInterval: 50 * time.Millisecond, MinSeeds: 5, Hooks: m.Hooks()})
	if err != nil {
		fmt.Println("ERROR", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", ln.Addr())
	http.Serve(ln, New(e, Config{Metrics: m}).Handler())
}

// crashServer is one run of the child server process.
type crashServer struct {
	cmd    *exec.Cmd
	base   string
	killed atomic.Bool
	stderr strings.Builder
}

// startCrashServer starts the child on dataDir and waits for its address.
func startCrashServer(t *testing.T, dataDir string) *crashServer {
	t.Helper()
	s := &crashServer{cmd: exec.Command(os.Args[0], "-test.run=^TestSoakCrashChild$")}
	s.cmd.Env = append(os.Environ(), crashModelEnv+"="+modelDir, crashDataEnv+"="+dataDir)
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "ADDR "); ok {
				addr <- a
				break
			}
			if strings.HasPrefix(line, "ERROR") {
				addr <- line
				break
			}
		}
		close(addr)
		io.Copy(io.Discard, out)
	}()
	select {
	case a, ok := <-addr:
		if !ok || strings.HasPrefix(a, "ERROR") {
			s.cmd.Process.Kill()
			s.cmd.Wait()
			t.Fatalf("the server does not start on the state a crash left (%q): %s", a, s.stderr.String())
		}
		s.base = "http://" + a
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		s.cmd.Wait()
		t.Fatalf("the server did not start within a minute: %s", s.stderr.String())
	}
	return s
}

// kill SIGKILLs the child (from any goroutine).
func (s *crashServer) kill() {
	s.killed.Store(true)
	s.cmd.Process.Kill()
}

var crashClient = &http.Client{Timeout: 20 * time.Second}

// do sends one request; err is a transport error (the server is gone).
func (s *crashServer) do(method, path, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := crashClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, nil, fmt.Errorf("reply is not a JSON object: %s", raw)
	}
	return resp.StatusCode, m, nil
}

// crashOp is the one request that may have been in flight when the server
// was killed: it was applied completely or not at all.
type crashOp struct {
	clicks map[string][]string // item → users of a click batch
	delete string              // item id
	upsert string              // user id
}

// TestSoakCrash runs the server as a child process and SIGKILLs it at random
// moments during mixed clicks, deletes, user upserts, scores and reloads
// (requests one at a time), then restarts it on the same state folder and
// checks that the state reopens and holds exactly what was acknowledged: the
// seeds of every live item, no deleted item, every upserted user; the one
// request in flight at the kill is found applied completely or not at all.
// Skipped with -short.
func TestSoakCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash soak test skipped in -short mode")
	}
	if os.Getenv(crashDataEnv) != "" {
		t.Skip("in the child")
	}
	dataDir := t.TempDir()
	rng := rand.New(rand.NewPCG(14, 41))
	const nItems = 40
	acked := make(map[string]map[string]bool) // item → acknowledged seeds
	users := []string{}                       // acknowledged upserts
	nextUser := 5000
	var pending *crashOp
	kills, ops, ackedClicks := 0, 0, 0
	inFlight := map[bool]int{} // requests in flight at a kill, by applied

	verify := func(s *crashServer) {
		t.Helper()
		var applied *bool // the pending op's fate, once seen
		decide := func(v bool, what string) {
			if applied != nil && *applied != v {
				t.Fatalf("the request in flight at the kill was applied in part (%s)", what)
			}
			applied = &v
		}
		for i := range nItems {
			id := strconv.Itoa(1000 + i)
			code, r, err := s.do("GET", "/v1/items/"+id, "")
			if err != nil {
				t.Fatalf("after restart: %v", err)
			}
			got := -1 // unknown item
			if code == 200 {
				got = int(r["seeds"].(float64))
			} else if code != 404 {
				t.Fatalf("after restart: item %s: %d %v", id, code, r)
			}
			without := -1
			if set, ok := acked[id]; ok {
				without = len(set)
			}
			with := without
			if pending != nil {
				switch {
				case pending.delete == id:
					with = -1
				case pending.clicks[id] != nil:
					set := maps.Clone(acked[id])
					if set == nil {
						set = map[string]bool{}
					}
					for _, u := range pending.clicks[id] {
						set[u] = true
					}
					with = len(set)
				}
			}
			switch {
			case got == without && got == with:
			case got == without:
				decide(false, "item "+id)
			case got == with:
				decide(true, "item "+id)
			default:
				t.Fatalf("after restart: item %s has %d seeds, want the %d acknowledged (or %d with the request in flight)", id, got, without, with)
			}
		}
		for _, u := range users {
			if code, r, err := s.do("POST", "/v1/score", `{"user_id":`+u+`,"item_ids":[1]}`); err != nil || code != 200 {
				t.Fatalf("after restart: upserted user %s lost: %d %v %v", u, code, r, err)
			}
		}
		if pending == nil {
			return
		}
		if pending.upsert != "" {
			code, _, err := s.do("POST", "/v1/score", `{"user_id":`+pending.upsert+`,"item_ids":[1]}`)
			if err != nil || (code != 200 && code != 404) {
				t.Fatalf("after restart: score: %d %v", code, err)
			}
			decide(code == 200, "upsert")
		}
		if applied != nil {
			inFlight[*applied]++
		}
		if applied != nil && *applied {
			for id, us := range pending.clicks {
				if acked[id] == nil {
					acked[id] = map[string]bool{}
				}
				for _, u := range us {
					acked[id][u] = true
				}
			}
			if pending.delete != "" {
				delete(acked, pending.delete)
			}
			if pending.upsert != "" {
				users = append(users, pending.upsert)
			}
		}
		pending = nil
	}

	s := startCrashServer(t, dataDir)
	defer func() { s.kill(); s.cmd.Wait() }()
	armKill := func(s *crashServer) *time.Timer {
		return time.AfterFunc(time.Duration(200+rng.IntN(1800))*time.Millisecond, s.kill)
	}
	timer := armKill(s)
	vec := func() string {
		v := make([]string, 8)
		for i := range v {
			v[i] = strconv.FormatFloat(rng.NormFloat64(), 'g', 6, 64)
		}
		return "[" + strings.Join(v, ",") + "]"
	}
	deadline := time.Now().Add(crashSoakDuration)
	for {
		op := &crashOp{}
		var method, path, body string
		switch p := rng.IntN(100); {
		case p < 65:
			n := 1 + rng.IntN(30)
			op.clicks = make(map[string][]string)
			parts := make([]string, n)
			for i := range parts {
				u := strconv.Itoa(1000 + rng.IntN(200))
				if len(users) > 0 && rng.IntN(4) == 0 {
					u = users[rng.IntN(len(users))]
				}
				id := strconv.Itoa(1000 + rng.IntN(nItems))
				op.clicks[id] = append(op.clicks[id], u)
				parts[i] = fmt.Sprintf(`{"user_id":%s,"item_id":%s}`, u, id)
			}
			method, path, body = "POST", "/v1/clicks", "["+strings.Join(parts, ",")+"]"
		case p < 75:
			op.delete = strconv.Itoa(1000 + rng.IntN(nItems))
			method, path = "DELETE", "/v1/items/"+op.delete
		case p < 87:
			op.upsert = strconv.Itoa(nextUser)
			nextUser++
			method, path, body = "POST", "/v1/users", `{"user_id":`+op.upsert+`,"vector":`+vec()+`}`
		case p < 97:
			method, path, body = "POST", "/v1/score", `{"user_id":1001,"item_ids":[1,1000,1001,99999]}`
			op = nil
		default:
			method, path = "POST", "/v1/admin/reload"
			op = nil
		}
		ops++
		code, r, err := s.do(method, path, body)
		if err != nil {
			if !s.killed.Load() {
				t.Fatalf("%s %s failed without a kill: %v\n%s", method, path, err, s.stderr.String())
			}
			pending = op
			s.cmd.Wait()
			kills++
			if time.Now().After(deadline) {
				break
			}
			s = startCrashServer(t, dataDir)
			verify(s)
			timer = armKill(s)
			continue
		}
		switch {
		case op == nil:
			if code != 200 {
				t.Fatalf("%s %s: %d %v", method, path, code, r)
			}
		case op.clicks != nil:
			if code != 200 || r["rejected"] != 0.0 {
				t.Fatalf("clicks: %d %v", code, r)
			}
			for id, us := range op.clicks {
				if acked[id] == nil {
					acked[id] = map[string]bool{}
				}
				for _, u := range us {
					acked[id][u] = true
				}
				ackedClicks += len(us)
			}
		case op.delete != "":
			_, live := acked[op.delete]
			if code != 200 && !(code == 404 && !live) {
				t.Fatalf("delete %s (live %v): %d %v", op.delete, live, code, r)
			}
			delete(acked, op.delete)
		case op.upsert != "":
			if code != 200 {
				t.Fatalf("upsert: %d %v", code, r)
			}
			users = append(users, op.upsert)
		}
	}
	timer.Stop()
	s = startCrashServer(t, dataDir)
	verify(s)
	t.Logf("%d requests, %d SIGKILLs, %d acknowledged clicks, %d live items, %d upserted users: nothing acknowledged lost; writes in flight at a kill: %d found applied, %d not",
		ops, kills, ackedClicks, len(acked), len(users), inFlight[true], inFlight[false])
	if kills < 5 {
		t.Errorf("only %d kills in %v", kills, crashSoakDuration)
	}
}
