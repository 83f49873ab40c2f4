// Command redisload is a bounded load test of `ralm serve` scaled out on
// Redis: it starts two replicas of the HTTP server in this process on one
// Redis (replica A runs a re-cluster worker, B is a pure reader), creates
// -items items with enough clicks to be warm, then for -duration drives
// both replicas over loopback HTTP with score requests (one random model
// user against all -items items) and click batches, and reports score
// requests/s, clicks/s, p50/p99 latencies and the click stream's lag.
// With -embedded it runs the same load against one embedded-store server
// (bbolt in a temporary folder) instead, for comparison.
//
//	redis-server --port 6390 --dir /tmp --appendonly yes --appendfsync always --save '' &
//	go run ./examples/redisload -model /tmp/ralm-model -redis redis://127.0.0.1:6390
//	go run ./examples/redisload -model /tmp/ralm-model -embedded
//
// Every run uses its own key prefix, so runs do not see each other's items.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
	"github.com/ralmlab/ralm/ralm/server"
)

type config struct {
	model, redis             string
	embedded                 bool
	items, seeds             int
	duration                 time.Duration
	scorers, clickers, batch int
	seed                     uint64
	minSeeds                 int
	recluster                time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.model, "model", "", "model folder written by ralm train (required)")
	flag.StringVar(&c.redis, "redis", "", "Redis to scale out on, redis://HOST:PORT (or -embedded)")
	flag.BoolVar(&c.embedded, "embedded", false, "load one embedded-store server instead of two Redis replicas")
	flag.IntVar(&c.items, "items", 1000, "items to create and score against")
	flag.IntVar(&c.seeds, "seeds", 12, "clicks per item before the run")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "length of the measured run")
	flag.IntVar(&c.scorers, "scorers", 4, "concurrent score clients")
	flag.IntVar(&c.clickers, "clickers", 2, "concurrent click clients")
	flag.IntVar(&c.batch, "batch", 20, "clicks per click request")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed of the load")
	flag.IntVar(&c.minSeeds, "min-seeds", 10, "seeds from which an item is warm")
	flag.DurationVar(&c.recluster, "recluster-interval", 5*time.Second, "re-cluster interval of the replicas")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), c); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
}

// target is one server under load.
type target struct {
	base  string
	close func()
}

func run(ctx context.Context, c config) error {
	switch {
	case c.model == "":
		return errors.New("-model is required")
	case c.embedded == (c.redis != ""):
		return errors.New("give -redis URL or -embedded")
	case c.items < 1 || c.seeds < 1 || c.scorers < 1 || c.clickers < 0 || c.batch < 1 || c.duration <= 0:
		return errors.New("-items, -seeds, -scorers, -batch and -duration must be positive")
	}
	b, err := bundle.Open(ctx, c.model)
	if err != nil {
		return err
	}
	users := b.Embeddings.Users.IDs()
	itemKind := b.Seeds.Items.Kind()
	items := make([]string, c.items)
	for i := range items {
		items[i] = strconv.Itoa(900_000_000 + i)
		if itemKind == data.IDString {
			items[i] = "load-" + items[i]
		}
	}
	var targets []target
	var store *redisstore.Store
	opened := time.Now()
	if c.embedded {
		dir, err := os.MkdirTemp("", "redisload-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		e, err := serve.Open(ctx, c.model, serve.Options{DataDir: dir, MinSeeds: c.minSeeds, ReclusterInterval: c.recluster})
		if err != nil {
			return err
		}
		t, err := listen(e)
		if err != nil {
			e.Close()
			return err
		}
		targets = append(targets, t)
	} else {
		prefix := fmt.Sprintf("load%d", time.Now().UnixNano())
		for i, workers := range []int{1, 0} {
			r, err := serve.OpenReplica(ctx, c.model, serve.ReplicaOptions{
				Redis: redisstore.Config{URL: c.redis, Prefix: prefix}, Workers: workers,
				MinSeeds: c.minSeeds, ReclusterInterval: c.recluster,
			})
			if err != nil {
				return fmt.Errorf("replica %d: %w", i, err)
			}
			if i == 0 {
				store = r.Store()
			}
			t, err := listen(r)
			if err != nil {
				r.Close()
				return err
			}
			targets = append(targets, t)
		}
	}
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	rng := rand.New(rand.NewPCG(c.seed, 1))

	fmt.Printf("%d server(s) up in %.1fs\n", len(targets), time.Since(opened).Seconds())
	// Set-up: every item gets c.seeds clicks, then waits to be ok everywhere.
	start := time.Now()
	var body bytes.Buffer
	for lo := 0; lo < len(items); lo += 100 {
		body.Reset()
		body.WriteByte('[')
		for i := lo; i < min(lo+100, len(items)); i++ {
			for k := range c.seeds {
				if i > lo || k > 0 {
					body.WriteByte(',')
				}
				fmt.Fprintf(&body, `{"user_id":%s,"item_id":%s}`, jsonID(users[rng.IntN(len(users))]), jsonID(items[i]))
			}
		}
		body.WriteByte(']')
		if _, err := post(client, targets[0].base+"/v1/clicks", body.Bytes()); err != nil {
			return fmt.Errorf("set-up clicks: %w", err)
		}
	}
	probe := scoreBody(users[0], items)
	last := time.Now()
	for _, t := range targets {
		for {
			resp, err := post(client, t.base+"/v1/score", probe)
			if err != nil {
				return fmt.Errorf("set-up score: %w", err)
			}
			ok := strings.Count(string(resp), `"status":"ok"`)
			if ok >= len(items) {
				break
			}
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				fmt.Printf("set-up: %d of %d items ok on %s after %.0fs\n", ok, len(items), t.base, time.Since(start).Seconds())
			}
			if time.Since(start) > 5*time.Minute {
				return errors.New("set-up: items not ok after 5 minutes")
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	fmt.Printf("set-up: %d items × %d clicks, ok on %d server(s) in %.1fs\n", len(items), c.seeds, len(targets), time.Since(start).Seconds())

	// The measured run.
	rctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	var scoreLat, clickLat latencies
	var nClicks, nErr atomic.Int64
	var wg sync.WaitGroup
	for g := range c.scorers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(c.seed, uint64(100+g)))
			for k := 0; rctx.Err() == nil; k++ {
				t := targets[(g+k)%len(targets)]
				q := scoreBody(users[r.IntN(len(users))], items)
				t0 := time.Now()
				if _, err := post(client, t.base+"/v1/score", q); err != nil {
					if rctx.Err() == nil {
						nErr.Add(1)
					}
					continue
				}
				scoreLat.add(time.Since(t0))
			}
		}()
	}
	for g := range c.clickers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(c.seed, uint64(200+g)))
			var q bytes.Buffer
			for k := 0; rctx.Err() == nil; k++ {
				t := targets[(g+k)%len(targets)]
				q.Reset()
				q.WriteByte('[')
				for j := range c.batch {
					if j > 0 {
						q.WriteByte(',')
					}
					fmt.Fprintf(&q, `{"user_id":%s,"item_id":%s}`, jsonID(users[r.IntN(len(users))]), jsonID(items[r.IntN(len(items))]))
				}
				q.WriteByte(']')
				t0 := time.Now()
				if _, err := post(client, t.base+"/v1/clicks", q.Bytes()); err != nil {
					if rctx.Err() == nil {
						nErr.Add(1)
					}
					continue
				}
				clickLat.add(time.Since(t0))
				nClicks.Add(int64(c.batch))
			}
		}()
	}
	var maxLag, maxPending int64
	var lagSamples int
	if store != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-rctx.Done():
					return
				case <-tick.C:
				}
				st, err := store.Stats(ctx)
				if err == nil {
					maxLag, maxPending = max(maxLag, st.Lag), max(maxPending, st.Pending)
					lagSamples++
				}
			}
		}()
	}
	t0 := time.Now()
	wg.Wait()
	sec := time.Since(t0).Seconds()
	mode := "2 Redis replicas (A: 1 worker, B: reader)"
	if c.embedded {
		mode = "1 embedded-store server (bbolt)"
	}
	fmt.Printf("\n%s, %d items, %.0f s, %d score + %d click clients\n\n", mode, len(items), sec, c.scorers, c.clickers)
	fmt.Println("| figure | value |\n| --- | --- |")
	fmt.Printf("| score requests/s (1 user × %d items) | %.0f |\n", len(items), float64(scoreLat.n())/sec)
	fmt.Printf("| score latency p50 / p99 | %s / %s |\n", scoreLat.q(0.5), scoreLat.q(0.99))
	fmt.Printf("| clicks/s (acknowledged, batches of %d) | %.0f |\n", c.batch, float64(nClicks.Load())/sec)
	fmt.Printf("| click request latency p50 / p99 | %s / %s |\n", clickLat.q(0.5), clickLat.q(0.99))
	if store != nil {
		st, err := store.Stats(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("| stream lag: max during the run (%d samples) / at the end | %d / %d entries |\n", lagSamples, maxLag, st.Lag)
		fmt.Printf("| pending entries: max / at the end | %d / %d |\n", maxPending, st.Pending)
	}
	fmt.Printf("| failed requests | %d |\n", nErr.Load())

	// Audience expansion on the last server (a Redis replica copies every
	// user vector on its first audience request, then reuses the copy).
	lastT := targets[len(targets)-1]
	for k := range 4 {
		t0 := time.Now()
		url := fmt.Sprintf("%s/v1/items/%s/audience?n=100", lastT.base, items[k])
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: %d", url, resp.StatusCode)
		}
		what := "later"
		if k == 0 {
			what = "first"
		}
		fmt.Printf("| audience (top 100 of %d users), %s request | %s |\n", len(users), what, time.Since(t0).Round(10*time.Microsecond))
	}
	return nil
}

// listen serves a backend on a loopback port.
func listen(e server.Backend) (target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return target{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := server.New(e, server.Config{}).Serve(ctx, ln, server.DefaultTimeouts()); err != nil {
			log.Print(err)
		}
	}()
	return target{base: "http://" + ln.Addr().String(), close: func() { cancel(); <-done }}, nil
}

// jsonID renders an id as a JSON number when it is one, else a string.
func jsonID(id string) string {
	if _, err := strconv.ParseInt(id, 10, 64); err == nil {
		return id
	}
	b, _ := json.Marshal(id)
	return string(b)
}

func scoreBody(user string, items []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"user_id":%s,"item_ids":[`, jsonID(user))
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonID(it))
	}
	b.WriteString("]}")
	return b.Bytes()
}

// post sends a JSON body and fails unless the reply is 2xx.
func post(c *http.Client, url string, body []byte) ([]byte, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %d %s", url, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, nil
}

// latencies collects request durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// q is the q-quantile ("-" without samples).
func (l *latencies) q(q float64) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return "-"
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))].Round(10 * time.Microsecond).String()
}
