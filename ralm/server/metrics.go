package server

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/serve"
)

// Metrics are the Prometheus metrics of a server and its engine. Create them
// before opening the engine and pass Hooks() in the engine's Options, so
// that commit and re-cluster timings are recorded too.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.HistogramVec
	recluster prometheus.Histogram
	commit    prometheus.Histogram
	engine    *engineCollector
	redis     *redisCollector
	// rejected counts clicks the server refused before they reached the
	// engine (malformed ids or ts); the engine counts the rest.
	rejected atomic.Uint64
}

// NewMetrics registers the metrics in a new registry (with the Go runtime
// and process collectors).
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ralm_http_request_duration_seconds",
			Help:    "HTTP request latency by route and status code.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		recluster: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ralm_recluster_duration_seconds",
			Help:    "Duration of one item re-cluster (k-means and state build).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ralm_commit_duration_seconds",
			Help:    "Duration of one synced seed-store commit of a click batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
		}),
		engine: &engineCollector{},
		redis:  &redisCollector{},
	}
	m.engine.rejected = &m.rejected
	reg.MustRegister(m.requests, m.recluster, m.commit, m.engine, m.redis,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Hooks returns the engine hooks that feed the commit and re-cluster
// histograms.
func (m *Metrics) Hooks() serve.Hooks {
	return serve.Hooks{
		OnCommit: func(ev serve.CommitEvent) { m.commit.Observe(ev.Duration.Seconds()) },
		OnRecluster: func(ev serve.ReclusterEvent) {
			if ev.Err == nil {
				m.recluster.Observe(ev.Duration.Seconds())
			}
		},
	}
}

func (m *Metrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}

// engineCollector reads the engine's counters and item statuses once per scrape.
type engineCollector struct {
	e        Backend
	rejected *atomic.Uint64 // the server's own rejections
}

var (
	descClicks     = prometheus.NewDesc("ralm_clicks_total", "Clicks received, by result (accepted includes duplicate).", []string{"result"}, nil)
	descItems      = prometheus.NewDesc("ralm_items", "Items with seeds, by status.", []string{"status"}, nil)
	descPending    = prometheus.NewDesc("ralm_items_pending_recluster", "Items waiting for a re-cluster.", nil, nil)
	descUsers      = prometheus.NewDesc("ralm_users", "Users with an embedding.", nil, nil)
	descReclusters = prometheus.NewDesc("ralm_reclusters_total", "Item re-clusters, by result.", []string{"result"}, nil)
	descExpired    = prometheus.NewDesc("ralm_items_expired_total", "Items removed after their idle time.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClicks, descItems, descPending, descUsers, descReclusters, descExpired} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	if c.e == nil {
		return
	}
	s := c.e.Stats()
	ch <- prometheus.MustNewConstMetric(descClicks, prometheus.CounterValue, float64(s.ClicksAccepted), "accepted")
	ch <- prometheus.MustNewConstMetric(descClicks, prometheus.CounterValue, float64(s.ClicksDuplicate), "duplicate")
	ch <- prometheus.MustNewConstMetric(descClicks, prometheus.CounterValue, float64(s.ClicksRejected+c.rejected.Load()), "rejected")
	ch <- prometheus.MustNewConstMetric(descItems, prometheus.GaugeValue, float64(s.ItemsOK), string(bundle.StatusOK))
	ch <- prometheus.MustNewConstMetric(descItems, prometheus.GaugeValue, float64(s.ItemsCold), string(bundle.StatusCold))
	ch <- prometheus.MustNewConstMetric(descItems, prometheus.GaugeValue, float64(s.ItemsFailed), string(bundle.StatusFailed))
	if _, shared := c.e.(redisBackend); !shared { // on Redis: ralm_redis_items_due; users live in Redis
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.PendingItems))
		ch <- prometheus.MustNewConstMetric(descUsers, prometheus.GaugeValue, float64(s.Users))
	}
	ch <- prometheus.MustNewConstMetric(descReclusters, prometheus.CounterValue, float64(s.Reclusters), "ok")
	ch <- prometheus.MustNewConstMetric(descReclusters, prometheus.CounterValue, float64(s.ReclusterErrors), "error")
	ch <- prometheus.MustNewConstMetric(descExpired, prometheus.CounterValue, float64(s.ItemsExpired))
}

// redisBackend is a backend on Redis (serve.Replica).
type redisBackend interface {
	RedisStats(ctx context.Context) (serve.RedisStats, error)
}

// redisCollector reads the Redis path's figures once per scrape (nothing
// for the embedded engine).
type redisCollector struct {
	r redisBackend
}

var (
	descStreamLag     = prometheus.NewDesc("ralm_redis_stream_lag", "Click stream entries not yet delivered to a re-cluster worker.", nil, nil)
	descStreamPending = prometheus.NewDesc("ralm_redis_stream_pending", "Click stream entries delivered to a worker but not acknowledged.", nil, nil)
	descStreamLen     = prometheus.NewDesc("ralm_redis_stream_length", "Entries in the click stream.", nil, nil)
	descStateAge      = prometheus.NewDesc("ralm_redis_item_state_age_seconds", "Age of the oldest item state of the served model generation.", nil, nil)
	descStale         = prometheus.NewDesc("ralm_redis_stale", "1 while Redis fails and the replica answers from the state it had.", nil, nil)
	descGeneration    = prometheus.NewDesc("ralm_redis_model_generation", "Model generation served.", nil, nil)
	descDue           = prometheus.NewDesc("ralm_redis_items_due", "Items waiting for a re-cluster by a worker (dirty or leased).", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *redisCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStreamLag, descStreamPending, descStreamLen, descStateAge, descStale, descGeneration, descDue} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. While Redis is down the stream
// figures are left out (the stale gauge says why).
func (c *redisCollector) Collect(ch chan<- prometheus.Metric) {
	if c.r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.r.RedisStats(ctx)
	stale := 0.0
	if s.Stale {
		stale = 1
	}
	ch <- prometheus.MustNewConstMetric(descStale, prometheus.GaugeValue, stale)
	ch <- prometheus.MustNewConstMetric(descStateAge, prometheus.GaugeValue, s.OldestStateAge.Seconds())
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(s.Generation))
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descStreamLag, prometheus.GaugeValue, float64(s.Stream.Lag))
	ch <- prometheus.MustNewConstMetric(descStreamPending, prometheus.GaugeValue, float64(s.Stream.Pending))
	ch <- prometheus.MustNewConstMetric(descStreamLen, prometheus.GaugeValue, float64(s.Stream.Length))
	ch <- prometheus.MustNewConstMetric(descDue, prometheus.GaugeValue, float64(s.Stream.Due))
}
