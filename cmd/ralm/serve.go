package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
	"github.com/ralmlab/ralm/ralm/server"
)

// serveFlags are the flags of ralm serve.
type serveFlags struct {
	model, data, addr, tokenFile string
	redis                        redisFlags
	workers                      int
	userCache, audienceUsers     int
	opts                         serve.Options
	timeouts                     server.Timeouts
	cfg                          server.Config
}

func newServeCmd() *cobra.Command {
	f := serveFlags{timeouts: server.DefaultTimeouts()}
	cmd := &cobra.Command{
		Use:   "serve --model DIR --data DIR [--addr :8080]",
		Short: "Serve real-time look-alike scoring over HTTP",
		Long: `Serve a model folder written by 'ralm train' over HTTP. Clicks stream in, each item's
seed users are kept up to date (the latest --max-seeds per item, persisted in --data),
changed items are re-clustered in the background every --recluster-interval (at once
when an item reaches --min-seeds), and users are scored against items in real time.

--data is the engine's own state folder (the seed store), created if missing; on the
first start it is seeded with the model's training clicks. Every acknowledged click
survives a crash. SIGHUP (or POST /v1/admin/reload) reloads the model folder without
a restart; SIGINT/SIGTERM shut down gracefully, committing pending clicks.

Endpoints (JSON; ids as numbers or strings, as in the training data):
  POST   /v1/clicks               JSON array or NDJSON of {user_id, item_id, ts}
  POST   /v1/score                {user_id, item_ids} -> scores with status ok|cold|unknown_item
  GET    /v1/items/{id}           seed count, status, last re-cluster
  GET    /v1/items/{id}/audience  ?n=100: top users, seeds excluded
  POST   /v1/users                {user_id, vector} or {user_id, features, clicked_items}
  DELETE /v1/items/{id}
  POST   /v1/admin/reload
  GET    /healthz, GET /metrics (Prometheus)
With --token-file, the write endpoints (clicks, users, delete, reload) require
"Authorization: Bearer <token>".`,
		Example: `  ralm serve --model model --data state --addr :8080
  curl -s localhost:8080/v1/clicks -d '[{"user_id": 17, "item_id": 9001}]'
  curl -s localhost:8080/v1/score -d '{"user_id": 42, "item_ids": [9001, 12]}'
  kill -HUP $(pidof ralm)   # reload the model folder

Scaling out (docs/scaling.md): with --redis redis://HOST:PORT (or --redis-cluster
ADDR,ADDR,...) instead of --data, the replica keeps no state of its own: user vectors,
seeds, the click log (a Redis Stream) and item states live in Redis, shared by any
number of replicas. --workers N runs N re-cluster workers in this replica (0: a pure
reader). The first replica publishes the model folder if Redis has none yet.
  ralm serve --model model --redis redis://127.0.0.1:6379 --workers 1 --addr :8081
  ralm serve --model model --redis redis://127.0.0.1:6379 --workers 0 --addr :8082`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model folder written by ralm train (required)")
	fl.StringVar(&f.data, "data", "", "state folder for the seed store, created if missing (required without --redis)")
	f.redis.register(fl)
	fl.IntVar(&f.workers, "workers", 1, "with --redis: re-cluster workers in this replica (0: a pure reader)")
	fl.IntVar(&f.userCache, "user-cache", redisstore.DefaultUserCache, "with --redis: user vectors cached locally (LRU)")
	fl.IntVar(&f.audienceUsers, "audience-users", serve.DefaultAudienceUsers, "with --redis: most users an audience request copies from Redis")
	fl.StringVar(&f.addr, "addr", ":8080", "listen address")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token required by the write endpoints")
	fl.DurationVar(&f.opts.ReclusterInterval, "recluster-interval", serve.DefaultReclusterInterval, "how often items with new seeds are re-clustered")
	fl.IntVar(&f.opts.MaxSeeds, "max-seeds", serve.DefaultMaxSeeds, "latest distinct seed users kept per item")
	fl.IntVar(&f.opts.MinSeeds, "min-seeds", bundle.DefaultMinSeeds, "seeds below which an item is features (with attributes) or cold (the look-alike model over its few seeds)")
	fl.DurationVar(&f.opts.ExpireAfter, "expire-after", 0, "remove items without clicks for this long (0: never)")
	fl.DurationVar(&f.timeouts.Read, "read-timeout", f.timeouts.Read, "HTTP read timeout")
	fl.DurationVar(&f.timeouts.Write, "write-timeout", f.timeouts.Write, "HTTP write timeout")
	fl.DurationVar(&f.timeouts.Idle, "idle-timeout", f.timeouts.Idle, "HTTP keep-alive idle timeout")
	fl.DurationVar(&f.timeouts.Shutdown, "shutdown-timeout", f.timeouts.Shutdown, "graceful shutdown limit")
	fl.Int64Var(&f.cfg.MaxBodyBytes, "max-body", server.DefaultMaxBodyBytes, "request body limit in bytes")
	fl.IntVar(&f.cfg.MaxItems, "max-items", server.DefaultMaxItems, "item ids per score request")
	return cmd
}

// checkServeFlags validates the flags before anything is opened.
func checkServeFlags(f *serveFlags) error {
	if f.model == "" {
		return errors.New("--model is required")
	}
	switch {
	case f.redis.set() && f.data != "":
		return errors.New("give --data (embedded store) or --redis/--redis-cluster (shared store), not both")
	case !f.redis.set() && f.data == "":
		return errors.New("--data is required (or --redis / --redis-cluster for the shared store)")
	case f.workers < 0:
		return fmt.Errorf("--workers must not be negative, got %d", f.workers)
	case f.userCache < 1 || f.audienceUsers < 1:
		return fmt.Errorf("--user-cache %d and --audience-users %d must be positive", f.userCache, f.audienceUsers)
	}
	if _, err := f.redis.config(); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"max-seeds", int64(f.opts.MaxSeeds)}, {"min-seeds", int64(f.opts.MinSeeds)},
		{"recluster-interval", int64(f.opts.ReclusterInterval)}, {"read-timeout", int64(f.timeouts.Read)},
		{"write-timeout", int64(f.timeouts.Write)}, {"idle-timeout", int64(f.timeouts.Idle)},
		{"shutdown-timeout", int64(f.timeouts.Shutdown)}, {"max-body", f.cfg.MaxBodyBytes}, {"max-items", int64(f.cfg.MaxItems)},
	} {
		if err := mustBePositive(c.name, c.v); err != nil {
			return err
		}
	}
	if f.redis.set() && f.opts.ExpireAfter != 0 {
		return errors.New("--expire-after is not supported with --redis (delete items with DELETE /v1/items/{id})")
	}
	if f.opts.ExpireAfter < 0 {
		return fmt.Errorf("--expire-after must not be negative, got %v", f.opts.ExpireAfter)
	}
	if f.opts.MinSeeds > f.opts.MaxSeeds {
		return fmt.Errorf("--min-seeds %d exceeds --max-seeds %d", f.opts.MinSeeds, f.opts.MaxSeeds)
	}
	return nil
}

// readToken reads a bearer token file (surrounding whitespace trimmed).
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("--token-file %s: want one token without spaces", path)
	}
	return tok, nil
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	if err := checkServeFlags(f); err != nil {
		return err
	}
	if f.tokenFile != "" {
		tok, err := readToken(f.tokenFile)
		if err != nil {
			return err
		}
		f.cfg.Token = tok
	}
	// The address before the model folder, which can take seconds to load:
	// one in use fails at once. It is bound again once the engine is open
	// (held meanwhile, it would queue connections nobody answers).
	probe, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", f.addr, err)
	}
	probe.Close()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	log := newLogger(cmd)
	metrics := server.NewMetrics()
	opts := f.opts
	opts.DataDir, opts.Hooks, opts.Logger = f.data, metrics.Hooks(), log
	start := time.Now()
	var e server.Backend
	if f.redis.set() {
		rc, _ := f.redis.config()
		rc.UserCache = f.userCache
		redisstore.SetClientLogger(log) // the replica logs Redis failures itself
		e, err = serve.OpenReplica(ctx, f.model, serve.ReplicaOptions{
			Redis: rc, Workers: f.workers, AudienceUsers: f.audienceUsers, MaxSeeds: opts.MaxSeeds, MinSeeds: opts.MinSeeds,
			ReclusterInterval: opts.ReclusterInterval, Hooks: opts.Hooks, Logger: log,
		})
	} else {
		e, err = serve.Open(ctx, f.model, opts)
	}
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		e.Close()
		return fmt.Errorf("listen %s: %w", f.addr, err)
	}
	st := e.Stats()
	if r, ok := e.(*serve.Replica); ok {
		fmt.Fprintf(summaryOut(cmd), "serving %s on %s from Redis (model generation %d, %d workers): %d items (%d ok), ready in %.1fs\n",
			f.model, ln.Addr(), r.Generation(), f.workers, st.Items, st.ItemsOK, time.Since(start).Seconds())
	} else {
		eng := e.(*serve.Engine)
		p := eng.StartBuild()
		fmt.Fprintf(summaryOut(cmd), "serving %s on %s: %d users, %d items (%d of %d states built; the rest build in the background, or on first use), ready in %.1fs\n",
			f.model, ln.Addr(), st.Users, st.Items, p.Built, p.Items, time.Since(start).Seconds())
	}

	// SIGHUP reloads the model folder.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupCtx, stopHup := context.WithCancel(ctx)
	hupDone := make(chan struct{})
	// The reload goroutine writes to the command's output too: it is stopped
	// and waited for before anything else is written there.
	defer func() {
		stopHup()
		<-hupDone
	}()
	go func() {
		defer close(hupDone)
		for {
			select {
			case <-hupCtx.Done():
				return
			case <-hup:
				t := time.Now()
				if err := e.Reload(hupCtx, ""); err != nil {
					log.Error("reload failed; still serving the previous model", "err", err)
					continue
				}
				fmt.Fprintf(summaryOut(cmd), "reloaded %s (model %s) in %.1fs\n", f.model, e.ModelID()[:12], time.Since(t).Seconds())
			}
		}
	}()

	f.cfg.Metrics, f.cfg.Logger = metrics, log
	err = server.New(e, f.cfg).Serve(ctx, ln, f.timeouts)
	stopHup()
	<-hupDone
	if err != nil {
		return err
	}
	fmt.Fprintln(summaryOut(cmd), "shut down cleanly")
	return nil
}
