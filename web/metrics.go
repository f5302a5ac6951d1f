package web

import (
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tokend/store"
	"tokend/store/stripe"
)

// Metrics are tokend's Prometheus metrics, in a registry of their own,
// served by Handler on a listener of its own (tokend serve --metrics-addr),
// never on the public one.
//
// Every label value comes from a fixed set: a route's pattern, never its
// path; a method from a list; a status class. Recording a token check or a
// request takes no lock and allocates nothing: each is an atomic add or
// two in the recording processor's stripe (package stripe), summed at each
// scrape by hotCollector.
type Metrics struct {
	reg *prometheus.Registry

	checks        *stripe.Counts     // by result*numKinds + kind
	checkDuration *stripe.Histograms // one series
	created       time.Time          // when they began counting

	http atomic.Pointer[httpSeries] // bound to the server's routes by bindRoutes

	signIns [numSignInResults]prometheus.Counter

	lastUseBatch prometheus.Histogram
	changeLag    prometheus.Histogram
}

// httpSeries are the requests' series: a route's by the index of its
// pattern in patterns (0 is otherRoute).
type httpSeries struct {
	routes   map[string]int // pattern → index; read-only
	patterns []string
	requests *stripe.Counts     // by (route*numMethods + method)*numClasses + class
	duration *stripe.Histograms // by route*numMethods + method
	created  time.Time
}

func newHTTPSeries(patterns []string) *httpSeries {
	hs := &httpSeries{routes: make(map[string]int, len(patterns)+1), patterns: []string{otherRoute}, created: time.Now()}
	for _, p := range patterns {
		if _, ok := hs.routes[p]; !ok && p != otherRoute {
			hs.routes[p] = len(hs.patterns)
			hs.patterns = append(hs.patterns, p)
		}
	}
	n := len(hs.patterns) * numMethods
	hs.requests = stripe.NewCounts(n * numClasses)
	hs.duration = stripe.NewHistograms(n, httpDurationBuckets)
	return hs
}

// Token check results, the label values of tokend_token_checks_total.
type checkResult int

const (
	checkOK checkResult = iota
	checkInvalid
	checkExpired
	checkRevoked
	checkRateLimited
	checkAddressRefused
	checkUnavailable
	numCheckResults
)

var checkResultNames = [numCheckResults]string{"ok", "invalid", "expired", "revoked", "rate_limited", "address_refused", "unavailable"}

// Token kinds as metrics label them: unknown when the text says neither.
const (
	kindPersonal = iota
	kindSystem
	kindUnknown
	numKinds
)

var kindNames = [numKinds]string{"personal", "system", "unknown"}

// Sign-in results, the label values of tokend_sign_ins_total.
type signInResult int

const (
	signInOK signInResult = iota
	signInBadCredentials
	signInRateLimited
	signInError
	numSignInResults
)

var signInResultNames = [numSignInResults]string{"ok", "bad_credentials", "rate_limited", "error"}

// Methods as requests are labelled; any other is "other".
var methodNames = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, "other"}

const numMethods = len(methodNames)

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

const numClasses = len(statusClasses)

// otherRoute labels a request no route of the server's answered (404 for
// an unknown path) or a route added after the server was built.
const otherRoute = "other"

// The hot series' descriptions and buckets.
var (
	checksDesc = prometheus.NewDesc("tokend_token_checks_total",
		"Token checks, by result (ok, invalid, expired, revoked, rate_limited, address_refused, unavailable) and kind of token (personal, system, unknown).",
		[]string{"result", "kind"}, nil)
	checkDurationDesc = prometheus.NewDesc("tokend_token_check_duration_seconds",
		"How long a token check took, from the token's text to its answer (a database read included when the token was not cached).", nil, nil)
	checkDurationBuckets = []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1, 1}

	httpRequestsDesc = prometheus.NewDesc("tokend_http_requests_total",
		"HTTP requests answered, by route pattern, method and status class.", []string{"route", "method", "code"}, nil)
	httpDurationDesc = prometheus.NewDesc("tokend_http_request_duration_seconds",
		"How long answering an HTTP request took, by route pattern and method.", []string{"route", "method"}, nil)
	httpDurationBuckets = []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 5e-2, 0.25, 1, 5}
)

// NewMetrics makes the metrics with the Go runtime's, the process's and
// the build's. log, when given, is the log whose dropped lines are
// counted.
func NewMetrics(log *LogOutput) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg,
		checks:        stripe.NewCounts(int(numCheckResults) * numKinds),
		checkDuration: stripe.NewHistograms(1, checkDurationBuckets),
		created:       time.Now(),
	}
	m.http.Store(newHTTPSeries(nil))
	signIns := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokend_sign_ins_total",
		Help: "Sign-ins through the form, by result (ok, bad_credentials, rate_limited, error).",
	}, []string{"result"})
	for r := range numSignInResults {
		m.signIns[r] = signIns.WithLabelValues(signInResultNames[r])
	}
	m.lastUseBatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tokend_last_use_batch_tokens",
		Help:    "Batches of last-use records written to the database (count), and how many tokens each held.",
		Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000},
	})
	m.changeLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tokend_change_signal_lag_seconds",
		Help: "From a change's commit (a revoke, a member removed) to this process's token cache reflecting it. " +
			"On PostgreSQL another instance's change counts from when its notification arrives.",
		Buckets: []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5},
	})
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tokend_access_log_dropped_total",
		Help: "Log lines lost because the log's destination refused them. A slow destination loses none: tokend waits for it.",
	}, func() float64 {
		if log == nil {
			return 0
		}
		return float64(log.Dropped())
	})
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "tokend_build_info",
		Help:        "Always 1; the labels say which build of tokend runs.",
		ConstLabels: buildLabels(),
	})
	info.Set(1)
	reg.MustRegister(hotCollector{m}, signIns, m.lastUseBatch, m.changeLag, dropped, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	return m
}

// buildLabels are tokend_build_info's: the module version, the Go version
// and, where the build recorded it, the VCS revision.
func buildLabels() prometheus.Labels {
	l := prometheus.Labels{"version": "unknown", "goversion": "unknown", "revision": "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		l["version"], l["goversion"] = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				l["revision"] = s.Value
			}
		}
	}
	return l
}

// Handler serves the metrics in Prometheus's text format at /metrics.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}

// Registry is where the metrics are registered, for a test or another
// collector.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// watchStore adds the store's figures: its token cache, its pools and
// what its background work reports.
func (m *Metrics) watchStore(db *store.DB) {
	m.reg.MustRegister(cacheCollector{db})
	for name, pool := range db.Pools() {
		m.reg.MustRegister(collectors.NewDBStatsCollector(pool, name))
	}
	db.SetObserver(storeObserver{m})
}

// bindRoutes gives each route pattern its series, before the server
// answers its first request. A Metrics is bound once: the routes of a
// second server bound to it count under otherRoute.
func (m *Metrics) bindRoutes(routes []*echo.Route) {
	if len(m.http.Load().patterns) > 1 {
		return
	}
	patterns := make([]string, len(routes))
	for i, r := range routes {
		patterns[i] = r.Path
	}
	m.http.Store(newHTTPSeries(patterns))
}

// recordCheck counts one token check and how long it took.
func (m *Metrics) recordCheck(r checkResult, kind int, took time.Duration) {
	t := stripe.Take()
	m.checks.Add(t, int(r)*numKinds+kind)
	m.checkDuration.Observe(t, 0, took)
	t.Release()
}

func (m *Metrics) recordSignIn(r signInResult) { m.signIns[r].Inc() }

// recordRequest counts an answered request by its route's pattern (c.Path,
// never the path requested), method and status.
func (m *Metrics) recordRequest(pattern, method string, status int, took time.Duration) {
	hs := m.http.Load()
	series := hs.routes[pattern]*numMethods + methodIndex(method) // a pattern not bound is 0, otherRoute
	class := status/100 - 1
	if class < 0 || class >= numClasses {
		class = numClasses - 1
	}
	t := stripe.Take()
	hs.requests.Add(t, series*numClasses+class)
	hs.duration.Observe(t, series, took)
	t.Release()
}

func methodIndex(method string) int {
	for i, m := range methodNames[:numMethods-1] {
		if m == method {
			return i
		}
	}
	return numMethods - 1
}

// hotCollector gives the striped series at each scrape: every check
// result and kind, and each route's methods and status classes once they
// have answered a request.
type hotCollector struct{ m *Metrics }

func (hc hotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- checksDesc
	ch <- checkDurationDesc
	ch <- httpRequestsDesc
	ch <- httpDurationDesc
}

func (hc hotCollector) Collect(ch chan<- prometheus.Metric) {
	m := hc.m
	for r := range numCheckResults {
		for k := range numKinds {
			ch <- counterMetric(checksDesc, m.checks.Value(int(r)*numKinds+k), m.created, checkResultNames[r], kindNames[k])
		}
	}
	s, _ := m.checkDuration.Snapshot(0)
	ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(checkDurationDesc, s.Count, s.Sum.Seconds(), s.Buckets, m.created)
	hs := m.http.Load()
	for route, pattern := range hs.patterns {
		for method := range numMethods {
			series := route*numMethods + method
			for class := range numClasses {
				if n := hs.requests.Value(series*numClasses + class); n > 0 {
					ch <- counterMetric(httpRequestsDesc, n, hs.created, pattern, methodNames[method], statusClasses[class])
				}
			}
			if s, ok := hs.duration.Snapshot(series); ok {
				ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(httpDurationDesc, s.Count, s.Sum.Seconds(), s.Buckets,
					hs.created, pattern, methodNames[method])
			}
		}
	}
}

// counterMetric is a counter's value at a scrape, with created, the time
// since which it has counted (its series' making, or the routes' binding).
func counterMetric(desc *prometheus.Desc, n uint64, created time.Time, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetricWithCreatedTimestamp(desc, prometheus.CounterValue, float64(n), created, labels...)
}

// storeObserver turns what the store reports into metrics.
type storeObserver struct{ m *Metrics }

func (o storeObserver) LastUseWritten(tokens int) { o.m.lastUseBatch.Observe(float64(tokens)) }

func (o storeObserver) ChangeApplied(lag time.Duration) { o.m.changeLag.Observe(lag.Seconds()) }

// cacheCollector reads the token cache's figures at each scrape.
type cacheCollector struct{ db *store.DB }

var (
	cacheEntriesDesc = prometheus.NewDesc("tokend_token_cache_entries",
		"Verified tokens held in memory now.", nil, nil)
	cacheCapacityDesc = prometheus.NewDesc("tokend_token_cache_capacity",
		"The most verified tokens held in memory (--cache-size).", nil, nil)
	cacheHitsDesc = prometheus.NewDesc("tokend_token_cache_hits_total",
		"Token checks answered from memory.", nil, nil)
	cacheMissesDesc = prometheus.NewDesc("tokend_token_cache_misses_total",
		"Token checks of a token not in memory (read from the database, or refused unread to a client past its failure budget).", nil, nil)
	cacheEvictionsDesc = prometheus.NewDesc("tokend_token_cache_evictions_total",
		"Tokens dropped from memory to make room for another.", nil, nil)
	cacheRefreshesDesc = prometheus.NewDesc("tokend_token_cache_refreshes_total",
		"Times the cache dropped what a change (a revoke, a member removed, in any process) made stale.", nil, nil)
)

func (cc cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheEntriesDesc, cacheCapacityDesc, cacheHitsDesc, cacheMissesDesc, cacheEvictionsDesc, cacheRefreshesDesc} {
		ch <- d
	}
}

func (cc cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := cc.db.CacheStats()
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(cacheCapacityDesc, prometheus.GaugeValue, float64(s.Capacity))
	ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(cacheEvictionsDesc, prometheus.CounterValue, float64(s.Evictions))
	ch <- prometheus.MustNewConstMetric(cacheRefreshesDesc, prometheus.CounterValue, float64(s.Refreshes))
}

// kindOfText is the kind a token's text claims by its prefix, for a check
// that failed before the token was known.
func kindOfText(text string) int {
	switch {
	case strings.HasPrefix(text, "tkp_"):
		return kindPersonal
	case strings.HasPrefix(text, "tks_"):
		return kindSystem
	}
	return kindUnknown
}

// kindOf is the label index of a verified token's kind.
func kindOf(k store.TokenKind) int {
	switch k {
	case store.KindPersonal:
		return kindPersonal
	case store.KindSystem:
		return kindSystem
	}
	return kindUnknown
}

// countSignIns counts the sign-ins POST /login answers, by what it
// answered: 303 signed in, 401 refused, 429 rate limited, an error.
func (s *Server) countSignIns(next echo.HandlerFunc) echo.HandlerFunc {
	if s.metrics == nil {
		return next
	}
	return func(c echo.Context) error {
		err := next(c)
		r := signInError
		if err == nil {
			switch c.Response().Status {
			case http.StatusSeeOther:
				r = signInOK
			case http.StatusUnauthorized:
				r = signInBadCredentials
			case http.StatusTooManyRequests:
				r = signInRateLimited
			}
		}
		s.metrics.recordSignIn(r)
		return err
	}
}

// checkStarted is when a token check began, for its metrics, on the
// monotonic clock alone (see sinceBase); zero when there are none.
func (s *Server) checkStarted() time.Duration {
	if s.metrics == nil {
		return 0
	}
	return sinceBase()
}

// monotonicBase is a time with a monotonic reading, taken when this
// package was initialized, that the check's durations are measured from.
var monotonicBase = time.Now()

// sinceBase is the time since monotonicBase. A duration needs only the
// monotonic clock, and time.Since reads that alone, where time.Now reads
// the wall clock as well: on the virtual machines tokend is measured on,
// 35 ns against 55 for each of the millions of token checks.
func sinceBase() time.Duration { return time.Since(monotonicBase) }

// checkDone counts a token check begun at start: its result, the kind of
// token, how long it took. text is the token as presented; it only gives
// the kind of a token that was refused. wait is the rate limit's.
func (s *Server) checkDone(start time.Duration, text string, p store.Principal, err error, wait time.Duration) {
	if s.metrics == nil {
		return
	}
	r, kind := checkOK, kindOf(p.Kind)
	if err != nil {
		kind = kindOfText(text)
		switch {
		case wait > 0:
			r = checkRateLimited
		case err == store.ErrTokenExpired:
			r = checkExpired
		case err == store.ErrTokenRevoked:
			r = checkRevoked
		case err == store.ErrAddressNotAllowed:
			r = checkAddressRefused
		case store.ErrorCode(err) == store.EUNAUTHORIZED:
			r = checkInvalid
		default:
			r = checkUnavailable
		}
	}
	s.metrics.recordCheck(r, kind, sinceBase()-start)
}
