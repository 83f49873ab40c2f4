package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/redistest"
	"github.com/ralmlab/ralm/ralm/serve"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
)

// Settings of the Redis-mode tests.
const (
	redisMinSeeds  = 5
	redisRecluster = 500 * time.Millisecond
	redisClaimIdle = time.Second
	// childEnv makes the test binary run one replica (runReplicaChild).
	childEnv = "RALM_TEST_REPLICA_CHILD"
)

// redisDeployment is one Redis deployment the tests run against.
type redisDeployment struct {
	name string
	cfg  func(prefix string) redisstore.Config
	kill func() // SIGKILL every server
	boot func() // start them again on the same data
}

// restart crashes every server and starts it again.
func (d redisDeployment) restart() {
	d.kill()
	d.boot()
}

// redisDeployments starts a standalone server (AOF, appendfsync always) and
// a 3-node Cluster.
func redisDeployments(t *testing.T) []redisDeployment {
	redisstore.SetClientLogger(nil) // the client logs every failed dial while Redis is down
	sa := redistest.Start(t)
	cl := redistest.StartCluster(t, 3)
	return []redisDeployment{
		{
			name: "standalone",
			cfg:  func(p string) redisstore.Config { return redisstore.Config{URL: sa.URL(), Prefix: p} },
			kill: sa.Kill, boot: sa.Restart,
		},
		{
			name: "cluster",
			cfg:  func(p string) redisstore.Config { return redisstore.Config{ClusterAddrs: cl.Addrs(), Prefix: p} },
			kill: func() {
				for _, n := range cl.Nodes {
					n.Kill()
				}
			},
			boot: func() {
				for _, n := range cl.Nodes {
					n.Restart()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := cl.WaitOK(ctx); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
}

// replicaOptions are the options every replica of a test uses.
func replicaOptions(cfg redisstore.Config, workers int) serve.ReplicaOptions {
	return serve.ReplicaOptions{
		Redis: cfg, Workers: workers, MinSeeds: redisMinSeeds, MaxSeeds: 1000,
		ReclusterInterval: redisRecluster, ClaimIdle: redisClaimIdle, MirrorBlock: 50 * time.Millisecond,
	}
}

// replicaServer is a replica served with httptest.
type replicaServer struct {
	t   *testing.T
	r   *serve.Replica
	srv *httptest.Server
}

func newReplicaServer(t *testing.T, cfg redisstore.Config, workers int) *replicaServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := serve.OpenReplica(ctx, modelDir, replicaOptions(cfg, workers))
	if err != nil {
		t.Fatal(err)
	}
	rs := &replicaServer{t: t, r: r, srv: httptest.NewServer(New(r, Config{}).Handler())}
	t.Cleanup(func() {
		rs.srv.Close()
		r.Close()
	})
	return rs
}

// call sends a request to base and decodes the JSON reply.
func call(t *testing.T, base, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %q is not a JSON object", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func (rs *replicaServer) do(method, path, body string) (int, map[string]any) {
	rs.t.Helper()
	return call(rs.t, rs.srv.URL, method, path, body)
}

// clicksBody is a JSON array of clicks of users on item.
func clicksBody(item int, users ...int) string {
	var parts []string
	for _, u := range users {
		parts = append(parts, fmt.Sprintf(`{"user_id": %s, "item_id": %d}`, userID(data.IDInt64, u), item))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestRedisTwoReplicas runs two replicas on one Redis (standalone and a
// 3-node Cluster): replica A runs the re-cluster worker, B is a pure
// reader. Clicks for a brand-new item posted to A make it ok on B within
// the re-cluster interval + 1 s, so does the state re-clustered after more
// clicks, and both give identical scores. Then Redis
// goes down (every node of the Cluster): writes get 503 with a JSON error,
// reads answer from the cached state with "stale": true, /readyz is 503 and
// /healthz says stale; when Redis returns the replica recovers by itself.
func TestRedisTwoReplicas(t *testing.T) {
	for _, d := range redisDeployments(t) {
		t.Run(d.name, func(t *testing.T) {
			cfg := d.cfg("two-" + d.name)
			a := newReplicaServer(t, cfg, 1)
			b := newReplicaServer(t, cfg, 0)
			const item = 5001
			var users []int
			for k := range 12 {
				users = append(users, 3+4*k)
			}
			start := time.Now()
			if code, m := a.do("POST", "/v1/clicks", clicksBody(item, users...)); code != 200 || m["accepted"] != float64(len(users)) {
				t.Fatalf("clicks on A: %d %v", code, m)
			}
			deadline := start.Add(redisRecluster + time.Second)
			for {
				code, m := b.do("GET", fmt.Sprintf("/v1/items/%d", item), "")
				if code == 200 && m["status"] == "ok" && m["seeds"] == float64(len(users)) && m["pending"] == false {
					t.Logf("item ok on B after %v", time.Since(start).Round(time.Millisecond))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("item not ok on B within %v: %d %v", redisRecluster+time.Second, code, m)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// More clicks for the item, now ok (not due at once): B has
			// the re-clustered state within the re-cluster interval + 1 s.
			more := []int{2, 6, 10}
			start = time.Now()
			if code, m := a.do("POST", "/v1/clicks", clicksBody(item, more...)); code != 200 || m["accepted"] != float64(len(more)) {
				t.Fatalf("more clicks on A: %d %v", code, m)
			}
			deadline = start.Add(redisRecluster + time.Second)
			for {
				code, m := b.do("GET", fmt.Sprintf("/v1/items/%d", item), "")
				if code == 200 && m["status"] == "ok" && m["seeds"] == float64(len(users)+len(more)) && m["pending"] == false {
					t.Logf("re-clustered state on B after %v", time.Since(start).Round(time.Millisecond))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("re-clustered state not on B within %v: %d %v", redisRecluster+time.Second, code, m)
				}
				time.Sleep(20 * time.Millisecond)
			}
			body := fmt.Sprintf(`{"user_id": 1003, "item_ids": [%d, 1, 2, 3, 999999]}`, item)
			_, sa := a.do("POST", "/v1/score", body)
			_, sb := b.do("POST", "/v1/score", body)
			if fmt.Sprint(sa["scores"]) != fmt.Sprint(sb["scores"]) || sa["stale"] != nil {
				t.Fatalf("scores differ:\nA %v\nB %v", sa, sb)
			}
			if s0 := sa["scores"].([]any)[0].(map[string]any); s0["status"] != "ok" {
				t.Fatalf("new item scored %v", s0)
			}
			code, aud := b.do("GET", fmt.Sprintf("/v1/items/%d/audience?n=5", item), "")
			if code != 200 || len(aud["users"].([]any)) != 5 {
				t.Fatalf("audience on B: %d %v", code, aud)
			}
			// A user upserted through A is rescored on B (its cached vector
			// is dropped by the user event).
			before := fmt.Sprint(sb["scores"])
			vec := make([]string, 8)
			for j := range vec {
				vec[j] = fmt.Sprint(0.1 * float64(j+1))
			}
			if code, m := a.do("POST", "/v1/users", `{"user_id": 1003, "vector": [`+strings.Join(vec, ",")+`]}`); code != 200 {
				t.Fatalf("upsert on A: %d %v", code, m)
			}
			eventually(t, 5*time.Second, "B scores the upserted vector", func() bool {
				_, m := b.do("POST", "/v1/score", body)
				return fmt.Sprint(m["scores"]) != before
			})
			// The Redis path's metrics.
			resp, err := http.Get(a.srv.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, name := range []string{"ralm_redis_stream_lag 0", "ralm_redis_stream_pending 0", "ralm_redis_stale 0", "ralm_redis_item_state_age_seconds", "ralm_redis_model_generation 1"} {
				if !strings.Contains(string(metrics), name) {
					t.Errorf("/metrics has no %q", name)
				}
			}
			// Deleting through B removes the item everywhere.
			if code, m := b.do("DELETE", fmt.Sprintf("/v1/items/%d", item), ""); code != 200 {
				t.Fatalf("delete on B: %d %v", code, m)
			}
			eventually(t, 5*time.Second, "item deleted on A", func() bool {
				code, _ := a.do("GET", fmt.Sprintf("/v1/items/%d", item), "")
				return code == 404
			})
			if d.name == "cluster" && testing.Short() {
				return // the fault part on the Cluster runs without -short
			}
			testRedisDown(t, d, a)
		})
	}
}

// testRedisDown stops Redis under a replica and checks the fault contract.
func testRedisDown(t *testing.T, d redisDeployment, a *replicaServer) {
	body := `{"user_id": 1003, "item_ids": [1, 2]}`
	if code, _ := a.do("POST", "/v1/score", body); code != 200 { // caches the user
		t.Fatalf("score: %d", code)
	}
	d.kill()
	eventually(t, 5*time.Second, "replica stale", func() bool { return a.r.Stale() })
	code, m := a.do("POST", "/v1/clicks", clicksBody(1, 7))
	if code != 503 || !strings.Contains(fmt.Sprint(m["error"]), "Redis") {
		t.Errorf("clicks while Redis is down: %d %v", code, m)
	}
	code, m = a.do("POST", "/v1/score", body)
	if code != 200 || m["stale"] != true {
		t.Errorf("score while Redis is down: %d %v", code, m)
	}
	code, m = a.do("GET", "/readyz", "")
	if code != 503 || m["ready"] != false {
		t.Errorf("readyz while Redis is down: %d %v", code, m)
	}
	code, m = a.do("GET", "/healthz", "")
	if code != 200 || m["stale"] != true {
		t.Errorf("healthz while Redis is down: %d %v", code, m)
	}
	d.boot()
	eventually(t, 15*time.Second, "replica recovered", func() bool {
		code, _ := a.do("GET", "/readyz", "")
		return code == 200
	})
	if code, m := a.do("POST", "/v1/clicks", clicksBody(1, 7)); code != 200 {
		t.Fatalf("clicks after recovery: %d %v", code, m)
	}
	if code, m := a.do("POST", "/v1/score", body); code != 200 || m["stale"] != nil {
		t.Fatalf("score after recovery: %d %v", code, m)
	}
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runReplicaChild serves one replica (the test binary re-executed by
// TestRedisKillReplica): config from the environment, listening address
// printed on stdout; it runs until killed.
func runReplicaChild() int {
	redisstore.SetClientLogger(nil)
	var cfg redisstore.Config
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child config:", err)
		return 2
	}
	r, err := serve.OpenReplica(context.Background(), os.Getenv(childEnv+"_MODEL"), replicaOptions(cfg, 1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	err = New(r, Config{}).Serve(context.Background(), ln, DefaultTimeouts())
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// child is a replica subprocess.
type child struct {
	cmd  *exec.Cmd
	base string
}

func startChild(t *testing.T, cfg redisstore.Config) *child {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw), childEnv+"_MODEL="+modelDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		b := make([]byte, 100)
		n, _ := out.Read(b)
		line <- strings.TrimSpace(string(b[:n]))
		io.Copy(io.Discard, out)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("replica child did not start: %s", stderr.String())
		}
		return &child{cmd: cmd, base: "http://" + addr}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("replica child did not start in 30 s: %s", stderr.String())
	}
	return nil
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// TestRedisKillReplica SIGKILLs a replica subprocess (which runs a
// re-cluster worker) 6 times at random moments while clients post clicks
// to it, and restarts redis-server (SIGKILL; AOF with appendfsync always)
// in the middle of the run: afterwards every click that got a 2xx is in its
// item's seeds. A replica in the test process runs a worker too, so the
// entries a killed worker left pending are claimed and finished by it.
// Standalone and 3-node Cluster.
func TestRedisKillReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("kills replicas and Redis (about 20 s); skipped with -short")
	}
	for _, d := range redisDeployments(t) {
		t.Run(d.name, func(t *testing.T) {
			cfg := d.cfg("kill-" + d.name)
			survivor := newReplicaServer(t, cfg, 1)
			rng := rand.New(rand.NewPCG(7, 7))
			var mu sync.Mutex
			acked := map[int][]int{} // item → users whose click got a 2xx
			const rounds = 6
			for round := range rounds {
				c := startChild(t, cfg)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				for g := range 3 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						crng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
						for k := 0; ; k++ {
							select {
							case <-stop:
								return
							default:
							}
							item := 7000 + crng.IntN(8)
							us := []int{crng.IntN(200), crng.IntN(200)}
							resp, err := http.Post(c.base+"/v1/clicks", "application/json", strings.NewReader(clicksBody(item, us...)))
							if err != nil {
								continue // the replica is gone (or Redis is)
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode/100 == 2 {
								mu.Lock()
								acked[item] = append(acked[item], us...)
								mu.Unlock()
							}
						}
					}()
				}
				time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
				if round == rounds/2 {
					d.restart() // Redis crashes mid-run and comes back
					time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
				}
				c.kill()
				close(stop)
				wg.Wait()
			}
			mu.Lock()
			defer mu.Unlock()
			if len(acked) == 0 {
				t.Fatal("no click was acknowledged")
			}
			s := survivor.r.Store()
			ctx := context.Background()
			var total int
			eventually(t, 30*time.Second, "every acknowledged click applied", func() bool {
				st, err := s.Stats(ctx)
				if err != nil || st.Lag != 0 || st.Pending != 0 {
					return false
				}
				for item, users := range acked {
					seeds, err := s.Seeds(ctx, fmt.Sprint(item))
					if err != nil {
						return false
					}
					for _, u := range users {
						if !slices.Contains(seeds, userID(data.IDInt64, u)) {
							return false
						}
					}
				}
				return true
			})
			for _, users := range acked {
				total += len(users)
			}
			t.Logf("%d acknowledged clicks on %d items, all in the seeds", total, len(acked))
		})
	}
}
