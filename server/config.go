package server

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/authgraph/authgraph/internal/sysmem"
	"github.com/authgraph/authgraph/passwords"
	"github.com/authgraph/authgraph/server/apiv2"
	"github.com/authgraph/authgraph/store"
)

// Config is the server's configuration. Every field has a flag and an
// AUTHGRAPH_* environment variable; flags win.
type Config struct {
	// Listen is the TCP address to serve on. Default 127.0.0.1:8080: a fresh
	// install is reachable only from this machine until told otherwise.
	Listen string
	// DatabaseURL is postgres://… or sqlite:PATH. Default sqlite:authgraph.db,
	// so `make run` needs nothing else.
	DatabaseURL string
	// Issuer is the OpenID issuer URL, ending in "/". Default
	// http://<listen>/. An http:// issuer is accepted only on a loopback
	// address: tokens and cookies must not cross a network in the clear.
	Issuer string
	// MasterKey (AUTHGRAPH_MASTER_KEY, 32 bytes in standard base64) seals
	// secrets and signing keys at rest. Without it, SQLite installs generate
	// one into PATH.key beside the database (with a warning); Postgres
	// installs refuse to start, since nodes sharing a database must share it.
	MasterKey string
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed. Default
	// none: otherwise any client could choose the IP that brute-force
	// protection and logs see.
	TrustedProxies []netip.Prefix
	// AdminClientID and AdminClientSecret (env only) fix the bootstrap admin
	// client's credentials; otherwise they are generated and printed once.
	AdminClientID     string
	AdminClientSecret string
	// LogFormat is json (default) or text.
	LogFormat string
	// SMTPURL (AUTHGRAPH_SMTP_URL: smtp://user:pass@host:587?from=… or
	// smtps://…) sends verification and password-reset email. Default: none,
	// and emails are only logged (development).
	SMTPURL string
	// RulesCacheDir (--rules-cache-dir, AUTHGRAPH_RULES_CACHE_DIR) holds the
	// rules engine's compilation cache, so that a restart compiles no rule on
	// the login path. Default: PATH.rules-cache beside the SQLite file, or
	// authgraph/rules under the OS user cache directory (Postgres).
	RulesCacheDir string
	// Serving is set by `authgraph serve` (not a flag): only a serving node
	// aligns the issuer-bound records (the management API identifier, the
	// dashboard client's URLs) with its issuer. CLI commands run with
	// whatever --issuer they were given and must not re-point them.
	Serving bool
	// SessionIdle and SessionLifetime bound SSO sessions (defaults 3 days
	// idle, 7 days absolute).
	SessionIdle, SessionLifetime time.Duration
	// ResetTicketTTL (--reset-ticket-ttl, AUTHGRAPH_RESET_TICKET_TTL) is the
	// lifetime of the password-reset links forgot-password emails (default
	// 1h, at least 1m). Tickets made through the management API keep their
	// ttlSec, by default 5 days as in Auth0.
	ResetTicketTTL time.Duration
	// APIRateLimit (--api-rate-limit, AUTHGRAPH_API_RATE_LIMIT) is the
	// sustained requests per second each client may make to the REST
	// management API on one node (burst twice that); "off" disables it.
	// Default 500.
	APIRateLimit apiv2.RateLimit
	// PasswordHashConcurrency (--password-hash-concurrency,
	// AUTHGRAPH_PASSWORD_HASH_CONCURRENCY) bounds the password hash
	// computations (logins, signups, resets, changes) running at once on
	// one node: each holds 19 MiB or more, and a login storm must not
	// exhaust memory. 0, the default, sizes it from GOMAXPROCS and the
	// memory limit (passwords.DefaultConcurrency).
	PasswordHashConcurrency int
	// PasswordHashQueueTimeout (--password-hash-queue-timeout,
	// AUTHGRAPH_PASSWORD_HASH_QUEUE_TIMEOUT) is how long a computation waits
	// for its turn before the request is answered 503 with Retry-After
	// (default 2s). In the field, 0 is the default and a negative duration
	// no waiting at all (the flag's 0).
	PasswordHashQueueTimeout time.Duration
	// DatabaseReplicaURL (--database-replica,
	// AUTHGRAPH_DATABASE_REPLICA_URL) is an optional Postgres streaming
	// replica that the users list, search and exports read from while it
	// lags at most DatabaseReplicaMaxLag (--database-replica-max-lag,
	// AUTHGRAPH_DATABASE_REPLICA_MAX_LAG, default 5s) behind the primary
	// (server/replica.go).
	DatabaseReplicaURL    string
	DatabaseReplicaMaxLag time.Duration
	// MetricsListen (--metrics-listen, AUTHGRAPH_METRICS_LISTEN) is the TCP
	// address of a second listener that serves only GET /metrics
	// (Prometheus, docs/METRICS.md). Default empty: no metrics listener,
	// and nothing is measured. It is unauthenticated: bind it where only
	// the scraper reaches it.
	MetricsListen string

	// Pools, timeouts and shutdown (server/nodes_config.go). DatabasePool
	// sizes the Postgres pools and sets statement_timeout
	// (--database-max-open-conns, --database-max-idle-conns,
	// --database-conn-max-lifetime, --database-statement-timeout).
	// RequestTimeout (--request-timeout) is the deadline of a request's
	// work; ShutdownDrain (--shutdown-drain) how long /readyz answers 503
	// before the listener closes on SIGTERM, ShutdownTimeout
	// (--shutdown-timeout) how long in-flight requests then have. In these
	// three, 0 is the default and a negative duration "none".
	DatabasePool                                   store.Pool
	RequestTimeout, ShutdownDrain, ShutdownTimeout time.Duration
	// SigningKeyRotation (--signing-key-rotation,
	// AUTHGRAPH_SIGNING_KEY_ROTATION) is the scheduled signing key
	// rotation period; 0 (off, the default) rotates only on request.
	SigningKeyRotation time.Duration
}

// FlagSet declares the shared flags on fs and returns a loader that applies
// environment defaults and validates.
func FlagSet(fs *flag.FlagSet) func() (*Config, error) {
	c := &Config{}
	var proxies string
	fs.StringVar(&c.Listen, "listen", "", "address to listen on (AUTHGRAPH_LISTEN, default 127.0.0.1:8080)")
	fs.StringVar(&c.DatabaseURL, "database", "", "postgres://… or sqlite:PATH (AUTHGRAPH_DATABASE_URL, default sqlite:authgraph.db)")
	fs.StringVar(&c.Issuer, "issuer", "", "OpenID issuer URL (AUTHGRAPH_ISSUER, default http://<listen>/)")
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-* headers are believed (AUTHGRAPH_TRUSTED_PROXIES, default none)")
	fs.StringVar(&c.LogFormat, "log-format", "", "json or text (AUTHGRAPH_LOG_FORMAT, default json)")
	fs.StringVar(&c.RulesCacheDir, "rules-cache-dir", "", "rules compilation cache directory (AUTHGRAPH_RULES_CACHE_DIR, default beside the SQLite file or in the user cache directory)")
	var idle, lifetime, resetTTL, rate string
	fs.StringVar(&rate, "api-rate-limit", "", "requests per second per client on the REST management API, or off (AUTHGRAPH_API_RATE_LIMIT, default 500)")
	fs.StringVar(&idle, "session-idle", "", "SSO session idle timeout (AUTHGRAPH_SESSION_IDLE, default 72h)")
	fs.StringVar(&lifetime, "session-lifetime", "", "SSO session absolute lifetime (AUTHGRAPH_SESSION_LIFETIME, default 168h)")
	fs.StringVar(&resetTTL, "reset-ticket-ttl", "", "lifetime of forgot-password reset links (AUTHGRAPH_RESET_TICKET_TTL, default 1h)")
	var hashConc, hashWait string
	fs.StringVar(&hashConc, "password-hash-concurrency", "", "password hash computations at once; 0 sizes it from cores and memory (AUTHGRAPH_PASSWORD_HASH_CONCURRENCY, default 0)")
	fs.StringVar(&hashWait, "password-hash-queue-timeout", "", "how long a password hash waits for its turn before 503 (AUTHGRAPH_PASSWORD_HASH_QUEUE_TIMEOUT, default 2s)")
	loadReplica := replicaFlags(fs, c) // server/replica.go
	fs.StringVar(&c.MetricsListen, "metrics-listen", "", "address of the Prometheus /metrics listener (AUTHGRAPH_METRICS_LISTEN, default none: off)")
	loadNodes := nodeFlags(fs, c) // server/nodes_config.go
	keyRotation := fs.String("signing-key-rotation", "", "scheduled signing key rotation period, e.g. 90d, or off (AUTHGRAPH_SIGNING_KEY_ROTATION, default off)")
	return func() (*Config, error) {
		c.Listen = firstNonEmpty(c.Listen, os.Getenv("AUTHGRAPH_LISTEN"), "127.0.0.1:8080")
		c.MetricsListen = firstNonEmpty(c.MetricsListen, os.Getenv("AUTHGRAPH_METRICS_LISTEN"))
		c.DatabaseURL = firstNonEmpty(c.DatabaseURL, os.Getenv("AUTHGRAPH_DATABASE_URL"), "sqlite:authgraph.db")
		c.Issuer = firstNonEmpty(c.Issuer, os.Getenv("AUTHGRAPH_ISSUER"))
		c.LogFormat = firstNonEmpty(c.LogFormat, os.Getenv("AUTHGRAPH_LOG_FORMAT"), "json")
		c.MasterKey = os.Getenv("AUTHGRAPH_MASTER_KEY")
		c.SMTPURL = os.Getenv("AUTHGRAPH_SMTP_URL")
		c.RulesCacheDir = firstNonEmpty(c.RulesCacheDir, os.Getenv("AUTHGRAPH_RULES_CACHE_DIR"))
		c.AdminClientID = os.Getenv("AUTHGRAPH_ADMIN_CLIENT_ID")
		c.AdminClientSecret = os.Getenv("AUTHGRAPH_ADMIN_CLIENT_SECRET")
		proxies = firstNonEmpty(proxies, os.Getenv("AUTHGRAPH_TRUSTED_PROXIES"))
		for _, d := range []struct {
			dst  *time.Duration
			flag string
			env  string
			def  time.Duration
		}{{&c.SessionIdle, idle, "AUTHGRAPH_SESSION_IDLE", 72 * time.Hour}, {&c.SessionLifetime, lifetime, "AUTHGRAPH_SESSION_LIFETIME", 168 * time.Hour},
			{&c.ResetTicketTTL, resetTTL, "AUTHGRAPH_RESET_TICKET_TTL", time.Hour}} {
			raw := firstNonEmpty(d.flag, os.Getenv(d.env))
			*d.dst = d.def
			if raw != "" {
				v, err := time.ParseDuration(raw)
				if err != nil || v < time.Minute {
					return nil, fmt.Errorf("%s: %q is not a duration of at least 1m", d.env, raw)
				}
				*d.dst = v
			}
		}
		if raw := firstNonEmpty(rate, os.Getenv("AUTHGRAPH_API_RATE_LIMIT")); raw == "off" {
			c.APIRateLimit.PerSecond = -1
		} else if raw != "" {
			v, err := strconv.ParseFloat(raw, 64)
			if err != nil || v <= 0 || v > 1e6 {
				return nil, fmt.Errorf("AUTHGRAPH_API_RATE_LIMIT: %q is not a positive number of requests per second or off", raw)
			}
			c.APIRateLimit.PerSecond = v
		}
		if raw := firstNonEmpty(hashConc, os.Getenv("AUTHGRAPH_PASSWORD_HASH_CONCURRENCY")); raw != "" {
			v, err := strconv.Atoi(raw)
			if err != nil || v < 0 || v > 1<<20 {
				return nil, fmt.Errorf("AUTHGRAPH_PASSWORD_HASH_CONCURRENCY: %q is not a number of computations (0: sized from cores and memory)", raw)
			}
			c.PasswordHashConcurrency = v
		}
		if raw := firstNonEmpty(hashWait, os.Getenv("AUTHGRAPH_PASSWORD_HASH_QUEUE_TIMEOUT")); raw != "" {
			v, err := time.ParseDuration(raw)
			if err != nil || v < 0 || v > time.Minute {
				return nil, fmt.Errorf("AUTHGRAPH_PASSWORD_HASH_QUEUE_TIMEOUT: %q is not a duration between 0 and 1m", raw)
			}
			c.PasswordHashQueueTimeout = v
			if v == 0 {
				c.PasswordHashQueueTimeout = -1 // no waiting
			}
		}
		if v, err := parseKeyRotation(firstNonEmpty(*keyRotation, os.Getenv("AUTHGRAPH_SIGNING_KEY_ROTATION"))); err != nil {
			return nil, err
		} else {
			c.SigningKeyRotation = v
		}
		if c.SessionIdle > c.SessionLifetime {
			return nil, fmt.Errorf("the session idle timeout cannot exceed the session lifetime")
		}
		if err := loadReplica(); err != nil {
			return nil, err
		}
		if err := loadNodes(); err != nil {
			return nil, err
		}
		var err error
		if c.TrustedProxies, err = parseCIDRs(proxies); err != nil {
			return nil, err
		}
		return c, c.normalize()
	}
}

func (c *Config) normalize() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if c.Issuer == "" {
		c.Issuer = "http://" + c.Listen + "/"
	}
	if !strings.HasSuffix(c.Issuer, "/") {
		c.Issuer += "/"
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--issuer %q must be an absolute URL without query or fragment", c.Issuer)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) || !isLoopback(host) {
			return errors.New("an http:// issuer is allowed only when both the issuer and --listen are loopback addresses; use https")
		}
	default:
		return fmt.Errorf("--issuer %q must use https", c.Issuer)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return fmt.Errorf("--log-format must be json or text")
	}
	return c.checkMetricsListen()
}

// PasswordLimiter builds the node's password hashing limiter from the
// configuration; a concurrency of 0 is sized from GOMAXPROCS and the
// memory limit (GOMEMLIMIT, the cgroup's, or the RAM).
func (c *Config) PasswordLimiter() *passwords.Limiter {
	n := c.PasswordHashConcurrency
	if n <= 0 {
		mem, _ := sysmem.Limit()
		n = passwords.DefaultConcurrency(mem, runtime.GOMAXPROCS(0))
	}
	wait := c.PasswordHashQueueTimeout
	if wait == 0 {
		wait = passwords.DefaultQueueTimeout
	}
	return passwords.NewLimiter(n, max(wait, 0))
}

// InsecureIssuer reports whether the issuer is plain http (loopback only).
func (c *Config) InsecureIssuer() bool { return strings.HasPrefix(c.Issuer, "http://") }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func parseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			ip, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is not a CIDR or IP", part)
			}
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not a CIDR", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
