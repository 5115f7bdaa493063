package rules

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	ctx := ctxTimeout(t, time.Minute)
	big := make([]byte, MaxModuleSize+1)
	_, _ = rand.Read(big)
	cases := []struct {
		name    string
		module  []byte
		want    error
		message string
	}{
		{"go rule", fixture(t, "go-roles"), nil, ""},
		{"assemblyscript rule", fixture(t, "as-roles"), nil, ""},
		{"import outside allowed namespaces", fixture(t, "as-badimport"), ErrForbiddenImport, "evil.steal"},
		{"custom-database import", fixture(t, "as-dbimport"), ErrForbiddenImport, "reserved for custom-database scripts"},
		{"ABI not exported", fixture(t, "as-noexport"), ErrMissingExport, "idp_abi_version"},
		{"too large", big, ErrModuleTooLarge, "limit is 8388608"},
		{"not wasm", []byte("\x00asm but not really"), ErrInvalidModule, "malformed module"},
		{"bad version", []byte("\x00asm\x02\x00\x00\x00"), ErrInvalidModule, "version 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := e.Validate(ctx, c.module)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) || !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("Validate = %v, want %v wrapped in ErrInvalidModule", err, c.want)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Fatalf("Validate = %q, want it to mention %q", err, c.message)
			}
		})
	}
}

// TestHostile runs each hostile module and then checks that the engine
// still serves well-behaved rules.
func TestHostile(t *testing.T) {
	const limit = DefaultTimeout
	e := newEngine(t, Config{CacheDir: testCacheDir})
	cases := []struct {
		fixture string
		want    error
		message string
	}{
		{"as-loop", ErrTimeout, "stopped after 1s"},
		{"go-loop", ErrTimeout, "stopped after 1s"},
		{"as-recurse", ErrTimeout, "stopped after 1s"}, // no loop at all: see instrument.go
		{"as-memgrow", ErrMemoryLimit, "32 MiB"},
		{"go-oom", ErrMemoryLimit, "out of memory"},
		{"go-wasiopen", ErrRuleReported, "file access refused as expected"},
		{"as-bigoutput", ErrOutputTooLarge, "limit is 262144"},
		{"go-panic", ErrRuleReported, "panic: assignment to entry in nil map"},
		{"as-abort", ErrTrap, "abort: boom for auth0|01HV8Z6Q3K4M2N7P9R5T1W0XYZ"},
		{"as-badjson", ErrBadResult, "not a JSON object"},
		{"as-badimport", ErrForbiddenImport, "evil.steal"},
	}
	healthy := []RuleVersion{ruleFor(t, "go-roles"), ruleFor(t, "as-roles")}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			// Each case gets its own budget: compiling a Go module under
			// -race on a loaded machine takes tens of seconds.
			ctx := ctxTimeout(t, 2*time.Minute)
			rv := ruleFor(t, c.fixture)
			if c.want != ErrTimeout {
				// Only the loops race the clock; the others must reach
				// their own limit first, however slow the machine.
				rv.Timeout = 20 * time.Second
			}
			// Compiling is not charged to the rule; do it first so that the
			// timing below measures the limit alone.
			_ = e.Prepare(ctx, rv)
			ev := loginEvent(t)
			ev.Stats.LoginsCount = 60 // as-recurse: 2^60 calls
			start := time.Now()
			_, err := e.RunPipeline(ctx, []RuleVersion{rv}, ev)
			took := time.Since(start)
			var re *RuleError
			if !errors.As(err, &re) || !errors.Is(err, ErrRuleFailed) || !errors.Is(err, c.want) {
				t.Fatalf("RunPipeline = %v, want a RuleError wrapping %v", err, c.want)
			}
			if re.RuleID != rv.ID || !strings.Contains(err.Error(), `rule_failed: rule "`+c.fixture+`"`) {
				t.Fatalf("error does not name the rule: %v", err)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Fatalf("error %q does not mention %q", err, c.message)
			}
			if c.want == ErrTimeout && (took < limit || took > limit+deadlineSlack) {
				t.Fatalf("loop stopped after %s, want within [%s, %s]", took, limit, limit+deadlineSlack)
			}
			t.Logf("%s after %s", err, took)
			res, err := e.RunPipeline(ctx, healthy, loginEvent(t))
			if err != nil || len(res.IDTokenClaims) != 1 {
				t.Fatalf("engine unhealthy after %s: %v %v", c.fixture, res.IDTokenClaims, err)
			}
		})
	}
}

// deadlineSlack is how late after its limit a runaway rule may be stopped in
// these tests. On a quiet machine the fuel check stops it within a
// millisecond (the tests log the figure); the slack is wide because the suite
// runs every package in parallel on two cores, where the test goroutine itself
// can wait that long to be scheduled. A rule the deadline failed to stop runs
// forever, so the check still fails on a broken deadline.
const deadlineSlack = time.Second

func TestPerRuleTimeout(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	rv := ruleFor(t, "as-loop")
	rv.Timeout = 100 * time.Millisecond
	if err := e.Prepare(context.Background(), rv); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := e.RunPipeline(context.Background(), []RuleVersion{rv}, loginEvent(t))
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) || took > rv.Timeout+deadlineSlack {
		t.Fatalf("err = %v after %s, want a timeout after 100ms", err, took)
	}
	t.Logf("100ms limit: stopped after %s", took)
	if got := (Config{Timeout: time.Hour}).withDefaults().Timeout; got != MaxTimeout {
		t.Fatalf("engine timeout not clamped: %s", got)
	}
	rv.Timeout = time.Hour
	if got := e.cfg.timeoutFor(&rv); got != MaxTimeout {
		t.Fatalf("rule timeout not clamped: %s", got)
	}
}

func TestCancelledLogin(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := e.RunPipeline(ctx, []RuleVersion{ruleFor(t, "as-loop")}, loginEvent(t))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want the login's cancellation", err)
	}
}

func TestPipelineEffects(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	secrets := map[string]string{"API_KEY": "k3y-VALUE-42"}
	rs := []RuleVersion{ruleFor(t, "go-counter"), ruleFor(t, "as-counter"), ruleFor(t, "go-counter")}
	for i := range rs {
		rs[i].Secrets = secrets
		rs[i].ID = fmt.Sprintf("rul_%d", i) // distinct rules sharing a module
	}
	ev := loginEvent(t)
	ev.User.UserMetadata["obsolete"] = "x"
	res, err := e.RunPipeline(context.Background(), rs, ev)
	if err != nil {
		t.Fatal(err)
	}
	if ev.User.UserMetadata["obsolete"] != "x" || ev.User.AppMetadata["counter"] != nil {
		t.Fatal("the caller's event was mutated")
	}
	// Each rule saw the previous one's update: 0 → 1 → 2 → 3.
	wantApp := map[string]any{"counter": 3.0, "last_rule": "go"}
	if fmt.Sprint(res.AppMetadata) != fmt.Sprint(wantApp) {
		t.Fatalf("app_metadata updates = %v, want %v", res.AppMetadata, wantApp)
	}
	if v, ok := res.UserMetadata["obsolete"]; !ok || v != nil {
		t.Fatalf("user_metadata updates = %v, want obsolete deleted (nil)", res.UserMetadata)
	}
	if _, ok := res.User.UserMetadata["obsolete"]; ok || res.User.AppMetadata["counter"] != 3.0 || res.User.AppMetadata["plan"] != "enterprise" {
		t.Fatalf("updated user = %v / %v", res.User.AppMetadata, res.User.UserMetadata)
	}
	wantID := map[string]any{"https://example.com/counter": 3.0}
	wantAccess := map[string]any{"urn:example:counter": 3.0}
	if fmt.Sprint(res.IDTokenClaims) != fmt.Sprint(wantID) || fmt.Sprint(res.AccessTokenClaims) != fmt.Sprint(wantAccess) {
		t.Fatalf("claims = %v / %v, want %v / %v", res.IDTokenClaims, res.AccessTokenClaims, wantID, wantAccess)
	}
	if got := strings.Join(res.Runs[0].DroppedClaims, " "); got != "roles sub https://tenant.auth0.com/x scope" {
		t.Fatalf("dropped claims = %q", got)
	}
	if got := strings.Join(res.Runs[1].DroppedClaims, " "); got != "sub urn:auth0:x" {
		t.Fatalf("dropped claims = %q", got)
	}
	if res.AccessTokenClaimsFor("https://id.example.com/api/v2/", "https://id.example.com/api/v2/") != nil ||
		len(res.AccessTokenClaimsFor("https://api.example.com/", "https://id.example.com/api/v2/")) != 1 {
		t.Fatal("management API audience must get no rule claims")
	}
	if len(res.Runs) != 3 {
		t.Fatalf("%d runs", len(res.Runs))
	}
	for i, want := range []string{"go counter=1 key=[REDACTED]", "as counter=2 key=[REDACTED]", "go counter=3 key=[REDACTED]"} {
		if got := strings.Join(res.Runs[i].Logs, "|"); got != want {
			t.Fatalf("run %d logs = %q, want %q", i, got, want)
		}
		if res.Runs[i].Duration <= 0 {
			t.Fatalf("run %d has no duration", i)
		}
	}
}

func TestDeny(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	rs := []RuleVersion{ruleFor(t, "go-counter"), ruleFor(t, "tpl-as-deny-unverified"), ruleFor(t, "go-roles")}
	ev := loginEvent(t)
	ev.User.EmailVerified = false
	res, err := e.RunPipeline(context.Background(), rs, ev)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deny == nil || res.Deny.RuleName != "tpl-as-deny-unverified" || res.Deny.Reason != "Please verify your email address before logging in." {
		t.Fatalf("deny = %+v", res.Deny)
	}
	if len(res.Runs) != 2 {
		t.Fatalf("the pipeline went on after the deny: %d runs", len(res.Runs))
	}
	if len(res.AppMetadata)+len(res.UserMetadata)+len(res.IDTokenClaims)+len(res.AccessTokenClaims) != 0 {
		t.Fatalf("a denied login must persist and issue nothing: %+v", res)
	}
	if got := strings.Join(res.Runs[1].Logs, ""); !strings.Contains(got, "denied: unverified email") {
		t.Fatalf("deny rule logs = %q", got)
	}
}

func TestLogCapsAndRedaction(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir, MaxLogLines: 10, MaxLogLineBytes: 100})
	rv := ruleFor(t, "as-logspam")
	rv.Secrets = map[string]string{"API_KEY": "s3cr3t-value", "SHORT": "ab"}
	res, err := e.RunPipeline(context.Background(), []RuleVersion{rv}, loginEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	logs := res.Runs[0].Logs
	if len(logs) != 11 || logs[10] != "[993 more log lines dropped: limit is 10]" {
		t.Fatalf("%d log lines, last %q", len(logs), logs[len(logs)-1])
	}
	if logs[0] != "secret is [REDACTED] and short ab" {
		t.Fatalf("first line %q", logs[0])
	}
	if !strings.HasSuffix(logs[1], "…[truncated]") || len(logs[1]) > 100+len("…[truncated]") {
		t.Fatalf("long line not truncated: %d bytes", len(logs[1]))
	}
	if res.Deny == nil || res.Deny.Reason != "denied with [REDACTED]" {
		t.Fatalf("deny reason not redacted: %+v", res.Deny)
	}
	for _, l := range logs {
		if strings.Contains(l, "s3cr3t") {
			t.Fatalf("secret leaked in %q", l)
		}
	}
}

func TestTraceIsLogged(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	rv := ruleFor(t, "as-logspam")
	res, err := e.RunPipeline(context.Background(), []RuleVersion{rv}, loginEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	logs := res.Runs[0].Logs
	if got := logs[len(logs)-1]; got != "[903 more log lines dropped: limit is 100]" {
		t.Fatalf("last line %q", got)
	}
	e2 := newEngine(t, Config{CacheDir: testCacheDir, MaxLogLines: 2000})
	res, err = e2.RunPipeline(context.Background(), []RuleVersion{rv}, loginEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	logs = res.Runs[0].Logs
	if got := logs[len(logs)-1]; got != "trace: traced 1.5 2.5" {
		t.Fatalf("last line %q", got)
	}
}

// TestConcurrentLogins drives 64 logins at once through pooled instances;
// run it with -race.
func TestConcurrentLogins(t *testing.T) {
	// A long time limit: this test is about pooled state under concurrency,
	// and 8 calls sharing 2 loaded cores can take over the 1 s default.
	e := newEngine(t, Config{CacheDir: testCacheDir, MaxConcurrent: 8, MaxIdle: 4, RecycleAfter: 5, Timeout: 10 * time.Second})
	rs := []RuleVersion{ruleFor(t, "go-counter"), ruleFor(t, "as-counter"), ruleFor(t, "go-roles"), ruleFor(t, "as-roles")}
	ctx := ctxTimeout(t, time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := loginEvent(t)
			ev.User.AppMetadata["counter"] = float64(i)
			ev.User.AppMetadata["roles"] = []any{fmt.Sprint("role-", i)}
			res, err := e.RunPipeline(ctx, rs, ev)
			switch {
			case err != nil:
				errs <- err
			case res.IDTokenClaims["https://example.com/counter"] != float64(i+2):
				errs <- fmt.Errorf("login %d: counter claim %v", i, res.IDTokenClaims["https://example.com/counter"])
			case fmt.Sprint(res.IDTokenClaims["https://example.com/roles"]) != fmt.Sprintf("[role-%d]", i):
				errs <- fmt.Errorf("login %d: roles claim %v (instances leaked state?)", i, res.IDTokenClaims["https://example.com/roles"])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The pools stayed within their bounds and recycled instances.
	e.mu.Lock()
	defer e.mu.Unlock()
	for key, m := range e.modules {
		if n := len(m.idle); n > 4 {
			t.Errorf("%s: %d idle instances, max 4", key, n)
		}
		for range len(m.idle) {
			in := <-m.idle
			if in.calls >= 5 {
				t.Errorf("%s: instance kept after %d calls", key, in.calls)
			}
			m.idle <- in
		}
	}
}

func TestStaleVersionRecompiles(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	rv := ruleFor(t, "as-roles")
	if _, err := e.RunPipeline(context.Background(), []RuleVersion{rv}, loginEvent(t)); err != nil {
		t.Fatal(err)
	}
	rv.Module = fixture(t, "go-panic") // same ID and version, other bytes
	_, err := e.RunPipeline(context.Background(), []RuleVersion{rv}, loginEvent(t))
	if !errors.Is(err, ErrRuleReported) {
		t.Fatalf("stale module ran: %v", err)
	}
	e.Evict(context.Background(), rv.ID, rv.Version)
	if len(e.modules) != 0 {
		t.Fatal("Evict kept the module")
	}
}

func TestCompilationCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	mod := fixture(t, "go-roles")
	for range 2 {
		e, err := New(context.Background(), Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Validate(context.Background(), mod); err != nil {
			t.Fatal(err)
		}
		_ = e.Close(context.Background())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir is empty: %v", err)
	}
}

func TestClosedEngine(t *testing.T) {
	e := newEngine(t, Config{})
	_ = e.Close(context.Background())
	_, err := e.RunPipeline(context.Background(), []RuleVersion{ruleFor(t, "as-roles")}, loginEvent(t))
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}

// TestResultsMatchSchema checks real guests' output against the schema.
func TestResultsMatchSchema(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	schema := loadSchema(t, "result.schema.json")
	payload := mustJSON(t, loginEvent(t))
	for _, name := range []string{"go-counter", "as-counter", "go-roles", "as-roles", "go-panic", "tpl-go-domain-allowlist", "tpl-as-first-login"} {
		rv := ruleFor(t, name)
		inv, err := e.Invoke(context.Background(), &rv, payload)
		if err != nil {
			t.Fatal(name, err)
		}
		if errs := schema.validate(decodeAny(t, inv.Output)); len(errs) > 0 {
			t.Errorf("%s: %s: %v", name, inv.Output, errs)
		}
		if !bytes.HasPrefix(inv.Output, []byte("{")) {
			t.Errorf("%s: %s", name, inv.Output)
		}
	}
}
