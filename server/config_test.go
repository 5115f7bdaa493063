package server

import (
	"flag"
	"runtime"
	"testing"
	"time"
)

func load(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	for _, k := range []string{"AUTHGRAPH_LISTEN", "AUTHGRAPH_DATABASE_URL", "AUTHGRAPH_ISSUER", "AUTHGRAPH_TRUSTED_PROXIES", "AUTHGRAPH_LOG_FORMAT", "AUTHGRAPH_MASTER_KEY", "AUTHGRAPH_RESET_TICKET_TTL",
		"AUTHGRAPH_PASSWORD_HASH_CONCURRENCY", "AUTHGRAPH_PASSWORD_HASH_QUEUE_TIMEOUT"} {
		t.Setenv(k, env[k])
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l := FlagSet(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return l()
}

func TestConfigDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.DatabaseURL != "sqlite:authgraph.db" || c.Issuer != "http://127.0.0.1:8080/" || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigFlagsBeatEnvironment(t *testing.T) {
	c, err := load(t, map[string]string{"AUTHGRAPH_LISTEN": "127.0.0.1:9000", "AUTHGRAPH_DATABASE_URL": "sqlite:env.db"},
		"--database", "sqlite:flag.db")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.DatabaseURL != "sqlite:flag.db" || c.Issuer != "http://127.0.0.1:9000/" {
		t.Fatalf("got %+v", c)
	}
}

func TestConfigIssuerRules(t *testing.T) {
	for _, tc := range []struct {
		listen, issuer string
		ok             bool
		want           string
	}{
		{"127.0.0.1:8080", "http://localhost:8080", true, "http://localhost:8080/"},
		{"0.0.0.0:8080", "", false, ""},                       // default http issuer on a public address
		{"0.0.0.0:8080", "http://id.example.com/", false, ""}, // http off loopback
		{"0.0.0.0:8080", "https://id.example.com/auth", true, "https://id.example.com/auth/"},
		{"127.0.0.1:8080", "ftp://x/", false, ""},
		{"127.0.0.1:8080", "https://id.example.com/?q=1", false, ""},
	} {
		c, err := load(t, map[string]string{"AUTHGRAPH_LISTEN": tc.listen, "AUTHGRAPH_ISSUER": tc.issuer})
		if (err == nil) != tc.ok {
			t.Errorf("listen %s issuer %q: err = %v, want ok=%v", tc.listen, tc.issuer, err, tc.ok)
			continue
		}
		if tc.ok && c.Issuer != tc.want {
			t.Errorf("issuer = %q, want %q", c.Issuer, tc.want)
		}
	}
}

func TestConfigTrustedProxies(t *testing.T) {
	c, err := load(t, map[string]string{"AUTHGRAPH_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7 ,::1"})
	if err != nil || len(c.TrustedProxies) != 3 || c.TrustedProxies[1].Bits() != 32 {
		t.Fatalf("proxies = %v, %v", c.TrustedProxies, err)
	}
	if _, err := load(t, map[string]string{"AUTHGRAPH_TRUSTED_PROXIES": "nonsense"}); err == nil {
		t.Fatal("bad CIDR accepted")
	}
}

func TestConfigResetTicketTTL(t *testing.T) {
	c, err := load(t, nil)
	if err != nil || c.ResetTicketTTL != time.Hour {
		t.Fatalf("default reset ticket lifetime = %v, %v; want 1h", c.ResetTicketTTL, err)
	}
	if c, err = load(t, map[string]string{"AUTHGRAPH_RESET_TICKET_TTL": "30m"}); err != nil || c.ResetTicketTTL != 30*time.Minute {
		t.Fatalf("from the environment: %v, %v", c, err)
	}
	if c, err = load(t, map[string]string{"AUTHGRAPH_RESET_TICKET_TTL": "30m"}, "--reset-ticket-ttl", "2h"); err != nil || c.ResetTicketTTL != 2*time.Hour {
		t.Fatalf("flag over environment: %v, %v", c, err)
	}
	if _, err = load(t, nil, "--reset-ticket-ttl", "10s"); err == nil {
		t.Fatal("a 10s lifetime was accepted")
	}
}

func TestConfigPasswordHashing(t *testing.T) {
	c, err := load(t, nil)
	if err != nil || c.PasswordHashConcurrency != 0 || c.PasswordHashQueueTimeout != 0 {
		t.Fatalf("defaults: %v, %v, %v", c.PasswordHashConcurrency, c.PasswordHashQueueTimeout, err)
	}
	if l := c.PasswordLimiter(); l.Concurrency() < 1 || l.Concurrency() > runtime.GOMAXPROCS(0) {
		t.Fatalf("default concurrency %d with GOMAXPROCS %d", l.Concurrency(), runtime.GOMAXPROCS(0))
	}
	c, err = load(t, map[string]string{"AUTHGRAPH_PASSWORD_HASH_CONCURRENCY": "3", "AUTHGRAPH_PASSWORD_HASH_QUEUE_TIMEOUT": "500ms"},
		"--password-hash-concurrency", "5")
	if err != nil || c.PasswordHashConcurrency != 5 || c.PasswordHashQueueTimeout != 500*time.Millisecond || c.PasswordLimiter().Concurrency() != 5 {
		t.Fatalf("flag and environment: %+v, %v", c, err)
	}
	if c, err = load(t, nil, "--password-hash-queue-timeout", "0"); err != nil || c.PasswordHashQueueTimeout >= 0 {
		t.Fatalf("no waiting: %v, %v", c.PasswordHashQueueTimeout, err)
	}
	for _, bad := range [][]string{{"--password-hash-concurrency", "-1"}, {"--password-hash-concurrency", "many"},
		{"--password-hash-queue-timeout", "-1s"}, {"--password-hash-queue-timeout", "2h"}} {
		if _, err := load(t, nil, bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
