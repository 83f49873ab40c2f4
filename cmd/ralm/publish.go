package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve"
	"github.com/ralmlab/ralm/ralm/serve/redisstore"
)

// redisFlags say how to reach the shared Redis state (ralm serve, ralm publish).
type redisFlags struct {
	url, cluster, prefix string
	waitReplicas         int
	waitTimeout          time.Duration
}

func (r *redisFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&r.url, "redis", "", "shared store: a standalone Redis, redis://HOST:PORT[/DB]")
	fl.StringVar(&r.cluster, "redis-cluster", "", "shared store: the seed nodes of a Redis Cluster, HOST:PORT,HOST:PORT,...")
	fl.StringVar(&r.prefix, "redis-prefix", redisstore.DefaultPrefix, "prefix of every Redis key (one RALM deployment per prefix)")
	fl.IntVar(&r.waitReplicas, "redis-wait-replicas", 0, "acknowledge clicks only after this many Redis replicas confirmed them (WAIT)")
	fl.DurationVar(&r.waitTimeout, "redis-wait-timeout", time.Second, "how long a click request waits for --redis-wait-replicas")
}

// set reports whether a Redis store was asked for.
func (r *redisFlags) set() bool { return r.url != "" || r.cluster != "" }

// config validates the flags and returns the store configuration.
func (r *redisFlags) config() (redisstore.Config, error) {
	cfg := redisstore.Config{URL: r.url, Prefix: r.prefix, WaitReplicas: r.waitReplicas, WaitTimeout: r.waitTimeout}
	if r.waitReplicas < 0 || r.waitTimeout <= 0 {
		return cfg, fmt.Errorf("--redis-wait-replicas %d must not be negative and --redis-wait-timeout %v must be positive", r.waitReplicas, r.waitTimeout)
	}
	if r.url != "" && r.cluster != "" {
		return cfg, errors.New("give --redis or --redis-cluster, not both")
	}
	if r.url != "" {
		u, err := url.Parse(r.url)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return cfg, fmt.Errorf("--redis %q: want redis://HOST:PORT", r.url)
		}
	}
	if r.cluster != "" {
		for i, a := range strings.Split(r.cluster, ",") {
			a = strings.TrimSpace(a)
			if !strings.Contains(a, ":") || strings.Contains(a, "/") {
				return cfg, fmt.Errorf("--redis-cluster address %d %q: want HOST:PORT", i+1, a)
			}
			cfg.ClusterAddrs = append(cfg.ClusterAddrs, a)
		}
	}
	if r.prefix == "" || strings.ContainsAny(r.prefix, "{} \t\n") {
		return cfg, fmt.Errorf("--redis-prefix %q: want a non-empty prefix without braces or spaces", r.prefix)
	}
	return cfg, nil
}

func newPublishCmd() *cobra.Command {
	var model string
	var rf redisFlags
	cmd := &cobra.Command{
		Use:   "publish --model DIR --redis redis://HOST:PORT",
		Short: "Publish a model folder to the shared Redis store of ralm serve replicas",
		Long: `Write a model folder's user embeddings to Redis as a new model generation, switch the
shared model to it and schedule every item for re-clustering; the folder's training seeds
are appended to the click stream unless they were before. Replicas (ralm serve --redis)
whose --model folder holds this model load it and switch to the new generation once every
item has a state built with it, so no response mixes two models. The generation before
the previous one is deleted. See docs/scaling.md.`,
		Example: `  ralm publish --model model --redis redis://127.0.0.1:6379
  ralm publish --model model --redis-cluster 10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" {
				return errors.New("--model is required")
			}
			if !rf.set() {
				return errors.New("--redis or --redis-cluster is required")
			}
			cfg, err := rf.config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			start := time.Now()
			b, err := bundle.Open(ctx, model)
			if err != nil {
				return err
			}
			redisstore.SetClientLogger(newLogger(cmd))
			s, err := redisstore.Open(ctx, cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			m, err := serve.Publish(ctx, s, b, newLogger(cmd))
			if err != nil {
				return err
			}
			sec := time.Since(start).Seconds()
			n := b.Embeddings.Users.Len()
			fmt.Fprintf(summaryOut(cmd), "published %s (model %s) as generation %d: %d users of dim %d in %.1fs (%.0f users/s)\n",
				model, b.ID, m.Gen, n, m.Dim, sec, float64(n)/max(sec, 1e-9))
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model folder written by ralm train (required)")
	rf.register(cmd.Flags())
	return cmd
}
