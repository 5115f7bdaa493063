// Package metrics is Authgraph's Prometheus instrumentation: one Registry
// per server (never the process-global default registry, so that several
// servers can run in one process, as tests do), the collectors of every
// metric (docs/METRICS.md), and the handler of the separate metrics
// listener.
//
// Every recording method is safe on a nil *Registry and then does nothing:
// components hold a possibly nil Registry and call it unconditionally, so
// metrics off costs one nil check. Label children are created once and
// kept (pre-curried), so a recording on a hot path is a map read under a
// read lock and an atomic add, without allocation.
package metrics

import (
	"database/sql"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every Authgraph metric.
const Namespace = "authgraph"

// Login outcomes (label outcome of authgraph_logins_total).
const (
	// LoginSuccess: a fresh authentication was decided and recorded, and
	// gets its code.
	LoginSuccess = "success"
	// LoginMFARequired: the password (or upstream login) was right, and the
	// user must now pass a second factor.
	LoginMFARequired = "mfa_required"
	// LoginDenied: the credentials were right but the login was refused (a
	// blocked user, a rule's denial, a connection not enabled, …).
	LoginDenied = "denied"
	// LoginFailure: wrong or unknown credentials.
	LoginFailure = "failure"
	// LoginBlocked: refused by brute-force protection before any check.
	LoginBlocked = "blocked"
	// LoginError: a server error while deciding or recording.
	LoginError = "error"
)

// Rule pipeline outcomes (label outcome of authgraph_rules_duration_seconds).
const (
	RulesOK          = "ok"
	RulesDenied      = "denied"
	RulesFailed      = "failed"
	RulesMFARequired = "mfa_required"
)

// Custom-database script outcomes (label outcome of
// authgraph_customdb_script_duration_seconds).
const (
	ScriptOK = "ok"
	// ScriptFailed: the script trapped, hit a limit or returned garbage
	// (authgraph_customdb_script_failures_total says which).
	ScriptFailed = "failed"
)

// maxDynamicLabels caps the distinct values of a label taken from the
// tenant's data (connection names); beyond it values are reported as
// "other", so a misbehaving tenant cannot grow the series without bound.
const maxDynamicLabels = 500

// labelOther replaces a label value outside its known set.
const labelOther = "other"

// Registry holds one server's metrics.
type Registry struct {
	reg *prometheus.Registry

	http *httpMetrics

	logins     *prometheus.CounterVec
	loginKids  childCache[[2]string, prometheus.Counter]
	bruteForce *prometheus.CounterVec
	bfKids     childCache[string, prometheus.Counter]

	tokensIssued  map[string]prometheus.Counter // by grant type, pre-curried
	tokensRefused *prometheus.CounterVec
	refusedKids   childCache[[2]string, prometheus.Counter]

	rules        map[string]prometheus.Observer // by outcome, pre-curried
	ruleFailures *prometheus.CounterVec

	scripts        *prometheus.HistogramVec
	scriptKids     childCache[[2]string, prometheus.Observer]
	scriptFailures *prometheus.CounterVec
}

// GrantTypes are the token endpoint's grant types with their own series;
// any other value is counted as "other".
var GrantTypes = []string{"authorization_code", "refresh_token", "client_credentials", "password"}

// New returns a registry with Go runtime, process and build collectors and
// every Authgraph metric registered (at zero where the labels are known).
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	r := &Registry{reg: reg, http: newHTTPMetrics(reg)}

	r.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "logins_total",
		Help: "Logins decided, by connection and outcome (success, mfa_required, denied, failure, blocked, error).",
	}, []string{"connection", "outcome"})
	r.bruteForce = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "bruteforce_blocks_total",
		Help: "Login attempts refused by brute-force protection (log type limit_wc), by connection.",
	}, []string{"connection"})
	issued := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "tokens_issued_total",
		Help: "Token responses issued by the token endpoint, by grant type.",
	}, []string{"grant_type"})
	r.tokensIssued = map[string]prometheus.Counter{}
	for _, gt := range append(GrantTypes, labelOther) {
		r.tokensIssued[gt] = issued.WithLabelValues(gt)
	}
	r.tokensRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "token_errors_total",
		Help: "Token requests refused, by grant type and OAuth error code.",
	}, []string{"grant_type", "error"})
	rules := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "rules_duration_seconds",
		Help:    "Time to run a login's enabled rules (the whole pipeline), by outcome.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"outcome"})
	r.rules = map[string]prometheus.Observer{}
	for _, o := range []string{RulesOK, RulesDenied, RulesFailed, RulesMFARequired} {
		r.rules[o] = rules.WithLabelValues(o)
	}
	r.ruleFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "rule_failures_total",
		Help: "Rules that failed a login, by reason (timeout, memory_limit, trap, …).",
	}, []string{"reason"})
	r.scripts = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "customdb_script_duration_seconds",
		Help:    "Custom-database script runs, by operation (login, get_user, …) and outcome (ok, failed, or the script's error code).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
	}, []string{"operation", "outcome"})
	r.scriptFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "customdb_script_failures_total",
		Help: "Custom-database scripts that failed (trap, limit, invalid result), by operation and reason.",
	}, []string{"operation", "reason"})
	reg.MustRegister(r.logins, r.bruteForce, issued, r.tokensRefused, rules, r.ruleFailures, r.scripts, r.scriptFailures)
	return r
}

// Gatherer is the registry, for tests and custom exposition.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// MustRegister adds collectors (a cache's, say) to the registry.
func (r *Registry) MustRegister(cs ...prometheus.Collector) {
	if r == nil {
		return
	}
	r.reg.MustRegister(cs...)
}

// Handler serves the registry in the Prometheus exposition formats.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		Registry:            r.reg, // promhttp_metric_handler_errors_total
		EnableOpenMetrics:   true,
		Timeout:             10 * time.Second,
		MaxRequestsInFlight: 4,
	})
}

// WatchDB exports db's connection pool statistics
// (go_sql_* with db_name=name).
func (r *Registry) WatchDB(name string, db *sql.DB) {
	if r == nil || db == nil {
		return
	}
	r.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// Login counts one login decision.
func (r *Registry) Login(connection, outcome string) {
	if r == nil {
		return
	}
	r.loginKids.get([2]string{connection, outcome}, otherFirst, func(k [2]string) prometheus.Counter {
		return r.logins.WithLabelValues(k[0], k[1])
	}).Inc()
}

// BruteForceBlock counts an attempt refused by brute-force protection.
func (r *Registry) BruteForceBlock(connection string) {
	if r == nil {
		return
	}
	r.bfKids.get(connection, otherName, func(c string) prometheus.Counter {
		return r.bruteForce.WithLabelValues(c)
	}).Inc()
}

// TokenIssued counts a token response of grantType.
func (r *Registry) TokenIssued(grantType string) {
	if r == nil {
		return
	}
	c, ok := r.tokensIssued[grantType]
	if !ok {
		c = r.tokensIssued[labelOther]
	}
	c.Inc()
}

// TokenRefused counts a refused token request with its OAuth error code.
func (r *Registry) TokenRefused(grantType, code string) {
	if r == nil {
		return
	}
	if _, ok := r.tokensIssued[grantType]; !ok {
		grantType = labelOther
	}
	r.refusedKids.get([2]string{grantType, code}, otherSecond, func(k [2]string) prometheus.Counter {
		return r.tokensRefused.WithLabelValues(k[0], k[1])
	}).Inc()
}

// RulesRun records a login's rule pipeline: its outcome (RulesOK…) and
// duration.
func (r *Registry) RulesRun(outcome string, d time.Duration) {
	if r == nil {
		return
	}
	if o, ok := r.rules[outcome]; ok {
		o.Observe(d.Seconds())
	}
}

// RuleFailed counts a rule that failed a login, with the reason's short
// name (rules.Reason).
func (r *Registry) RuleFailed(reason string) {
	if r == nil {
		return
	}
	r.ruleFailures.WithLabelValues(reason).Inc()
}

// Script records a custom-database script run of operation op. outcome is
// ScriptOK, ScriptFailed or the error code the script returned
// (wrong_credentials, user_exists, validation, system; anything else is
// "other").
func (r *Registry) Script(op, outcome string, d time.Duration) {
	if r == nil {
		return
	}
	switch outcome {
	case ScriptOK, ScriptFailed, "wrong_credentials", "user_exists", "validation", "system":
	default:
		outcome = labelOther
	}
	r.scriptKids.get([2]string{op, outcome}, otherFirst, func(k [2]string) prometheus.Observer {
		return r.scripts.WithLabelValues(k[0], k[1])
	}).Observe(d.Seconds())
}

// ScriptFailed counts a failed script run of operation op with the reason's
// short name (rules.Reason).
func (r *Registry) ScriptFailed(op, reason string) {
	if r == nil {
		return
	}
	r.scriptFailures.WithLabelValues(op, reason).Inc()
}

// childCache keeps the label children of a vector by their label values,
// so that recording does not hash and allocate the values every time. Past
// maxDynamicLabels distinct keys, a new key is replaced by overflow(key)
// (its tenant-chosen part reported as "other"), which bounds the series.
type childCache[K comparable, M any] struct {
	mu sync.RWMutex
	m  map[K]M
}

func (c *childCache[K, M]) get(k K, overflow func(K) K, make func(K) M) M {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[K]M{}
	}
	if v, ok := c.m[k]; ok {
		return v
	}
	if len(c.m) >= maxDynamicLabels {
		k = overflow(k)
		if v, ok := c.m[k]; ok {
			return v
		}
	}
	v = make(k)
	c.m[k] = v
	return v
}

// otherFirst reports the first label value (a connection name) as "other".
func otherFirst(k [2]string) [2]string { return [2]string{labelOther, k[1]} }

// otherSecond reports the second label value as "other".
func otherSecond(k [2]string) [2]string { return [2]string{k[0], labelOther} }

// otherName reports a name as "other".
func otherName(string) string { return labelOther }
