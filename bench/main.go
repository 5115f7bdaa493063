// Command bench measures Authgraph end to end: a real server on a real TCP
// port, a real Postgres, and a load generator, all on this machine (so the
// figures include the generator's own CPU). It prints a Markdown table for
// docs/BENCHMARKS.md.
//
//	go run ./bench -duration 10s -concurrency 8 [-database postgres://…]
//
// Without -database it creates a fresh database on the Postgres at
// 127.0.0.1:5432 (AUTHGRAPH_BENCH_DATABASE_URL overrides the server URL).
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/passwords"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server"
	"github.com/authgraph/authgraph/server/apiv2"
)

func main() {
	var (
		duration    = flag.Duration("duration", 10*time.Second, "how long each workload runs")
		concurrency = flag.Int("concurrency", 8, "concurrent clients")
		database    = flag.String("database", "", "database URL (default: a fresh database on local Postgres)")
		seed        = flag.Int("seed", 2000, "users created before the read workloads")
		cpuprofile  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		only        = flag.String("only", "", "run only the workload whose name starts with this")
		op          = flag.String("op", "", "with -only login: comma-separated OpenID Provider workloads (argon2id, bcrypt-10, client_credentials, refresh); default all")
		rounds      = flag.Int("rounds", 4, "alternating raw-hash/login windows per password workload")
		explainFlag = flag.Bool("explain", false, "with -only login: print the SQL statements of one bcrypt password login and stop; with -scenario mfa: those of one password login and one password + TOTP login")
		scenario    = flag.String("scenario", "", "search: user searches and deep keyset pages on a kept database of -users users (make bench-search); storm: -concurrency simultaneous argon2id logins with peak RSS; mfa: password vs password+TOTP logins, and passkey logins; instead of the default workloads")
		hashConc    = flag.Int("hash-concurrency", 0, "the server's --password-hash-concurrency (0: its default, sized from cores and memory; -1: unbounded)")
		mfaUsers    = flag.Int("mfa-users", 600, "with -scenario mfa: users per kind (TOTP users take one login each per 30 s step)")
		mfaCost     = flag.Int("mfa-bcrypt-cost", 10, "with -scenario mfa: bcrypt cost of every user's password")
		hashWait    = flag.Duration("hash-queue-timeout", 0, "the server's --password-hash-queue-timeout (0: its default)")
		metricsFlag = flag.Bool("metrics", false, "run the server with Prometheus metrics on (--metrics-listen), scraped every 5 s while the workloads run")
	)
	flag.Parse()
	metricsOn = *metricsFlag
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	hashConcurrency, hashQueueTimeout = *hashConc, *hashWait
	switch *scenario {
	case "":
	case "storm":
		if err := runStorm(*duration, *concurrency, *database); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	case "mfa":
		benchHost = "localhost"
		if err := runMFA(*duration, *concurrency, *database, *mfaUsers, *mfaCost, max(*rounds, 1), *explainFlag); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	case "search":
		conc := *concurrency
		set := false
		flag.Visit(func(f *flag.Flag) { set = set || f.Name == "concurrency" })
		if !set {
			conc = 4
		}
		if err := runSearch(conc); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
		return
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown -scenario %q (search, storm, mfa)\n", *scenario)
		os.Exit(2)
	}
	onlyWorkload, opWorkloads, opRounds, explainLogin = *only, *op, max(*rounds, 1), *explainFlag
	if err := run(*duration, *concurrency, *database, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// startServer serves Authgraph on dsn (migrating an empty database) on a
// local port and returns a client logged in with the admin client's token.
func startServer(ctx context.Context, dsn string, conc int, masterKey string) (*server.Deps, *client, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	addr := ln.Addr().String()
	// The issuer (and the client's base URL) may name the port by host
	// name: WebAuthn needs a domain as RP ID; connections still go to addr.
	_, port, _ := net.SplitHostPort(addr)
	public := net.JoinHostPort(benchHost, port)
	cfg := &server.Config{
		Listen: addr, DatabaseURL: dsn, Issuer: "http://" + public + "/",
		MasterKey:     masterKey,
		AdminClientID: "bench-admin", AdminClientSecret: "bench-admin-secret-0123456789abcdefgh",
		LogFormat: "text", Serving: true,
		// The REST API's per-client rate limit would cap the generator's one
		// client; the bench measures the server, not the limit.
		APIRateLimit: apiv2.RateLimit{PerSecond: -1},
		// -hash-concurrency -1: no bound worth the name, for comparison.
		PasswordHashConcurrency: hashConcurrency, PasswordHashQueueTimeout: hashQueueTimeout,
	}
	if hashConcurrency < 0 {
		cfg.PasswordHashConcurrency = 1 << 20
	}
	if metricsOn {
		cfg.MetricsListen = "127.0.0.1:0" // the registry; benchMetrics serves it (metrics.go)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	deps, err := server.Prepare(ctx, cfg, logger, io.Discard, server.MigrateIfEmpty)
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	h, err := server.Handler(deps)
	if err != nil {
		ln.Close()
		deps.Close()
		return nil, nil, nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck
	stopMetrics, err := benchMetrics(deps)
	if err != nil {
		srv.Close()
		deps.Close()
		return nil, nil, nil, err
	}
	stop := func() {
		stopMetrics()
		srv.Close()
		deps.Close()
	}
	var d net.Dialer
	c := &client{base: "http://" + public, http: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc * 2,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}}
	if err := c.login(cfg.AdminClientID, cfg.AdminClientSecret); err != nil {
		stop()
		return nil, nil, nil, err
	}
	return deps, c, stop, nil
}

func run(duration time.Duration, conc int, dsn string, seed int) error {
	ctx := context.Background()
	if dsn == "" {
		var cleanup func()
		var err error
		dsn, cleanup, err = freshPostgres(ctx)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	deps, c, stop, err := startServer(ctx, dsn, conc, base64.StdEncoding.EncodeToString(secretbox.NewKey()))
	if err != nil {
		return err
	}
	defer stop()

	fmt.Fprintf(os.Stderr, "seeding %d users…\n", seed)
	var ids, userIDs, emails []string
	for i := range seed {
		email := fmt.Sprintf("seed%d@bench.example", i)
		var out struct {
			CreateUser struct {
				ID     string
				UserID string `json:"userId"`
			} `json:"createUser"`
		}
		if err := c.gql(createUser, map[string]any{"in": map[string]any{
			"connection": "Username-Password-Authentication", "email": email, "name": fmt.Sprintf("Seed User %d", i),
			"appMetadata": map[string]any{"plan": "gold", "roles": []string{"user"}},
		}}, &out); err != nil {
			return err
		}
		ids = append(ids, out.CreateUser.ID)
		userIDs = append(userIDs, url.PathEscape(out.CreateUser.UserID)) // as Auth0's SDKs send it
		emails = append(emails, email)
	}

	var created atomic.Int64
	workloads := []struct {
		name string
		fn   func(i int) error
	}{
		{"user(id)", func(i int) error {
			return c.gql(`query($id: ID!) { user(id: $id) { id userId email name appMetadata identities { provider userId } } }`,
				map[string]any{"id": ids[i%len(ids)]}, nil)
		}},
		{"usersByEmail", func(i int) error {
			return c.gql(`query($e: String!) { usersByEmail(email: $e) { id userId email name } }`,
				map[string]any{"e": emails[i%len(emails)]}, nil)
		}},
		{"users(first:100)", func(i int) error {
			return c.gql(`{ users(first: 100) { edges { cursor node { id userId email name appMetadata } } pageInfo { hasNextPage endCursor } } }`, nil, nil)
		}},
		{"createUser (no password)", func(i int) error {
			n := created.Add(1)
			return c.gql(createUser, map[string]any{"in": map[string]any{
				"connection": "Username-Password-Authentication",
				"email":      fmt.Sprintf("new%d-%d@bench.example", time.Now().UnixNano(), n),
			}}, nil)
		}},
		// The same operations through the REST Management API v2, as an
		// Auth0 SDK calls them.
		{"REST GET /api/v2/users/{id}", func(i int) error {
			return c.rest(http.MethodGet, "/api/v2/users/"+userIDs[i%len(userIDs)], nil, http.StatusOK)
		}},
		{"REST GET /api/v2/users-by-email", func(i int) error {
			return c.rest(http.MethodGet, "/api/v2/users-by-email?email="+url.QueryEscape(emails[i%len(emails)]), nil, http.StatusOK)
		}},
		{"REST GET /api/v2/users?per_page=100", func(i int) error {
			// Auth0 caps a listing at 1,000 results: pages 0–9 of 100.
			page := i % min(10, len(ids)/100+1)
			return c.rest(http.MethodGet, fmt.Sprintf("/api/v2/users?per_page=100&page=%d&include_totals=true", page), nil, http.StatusOK)
		}},
		{"REST POST /api/v2/users (no password)", func(i int) error {
			n := created.Add(1)
			return c.rest(http.MethodPost, "/api/v2/users", map[string]any{
				"connection": "Username-Password-Authentication",
				"email":      fmt.Sprintf("rest%d-%d@bench.example", time.Now().UnixNano(), n),
			}, http.StatusCreated)
		}},
	}

	fmt.Printf("\n| operation | ops/s | p50 | p99 | errors |\n|---|---:|---:|---:|---:|\n")
	for _, w := range workloads {
		if !strings.HasPrefix(w.name, onlyWorkload) {
			continue
		}
		r := load(duration, conc, w.fn)
		fmt.Printf("| %s | %.0f | %s | %s | %d |\n", w.name, r.rate, r.p50, r.p99, r.errors)
	}
	if err := loginWorkloads(ctx, deps, c, duration, conc); err != nil {
		return err
	}
	fmt.Printf("\n%d concurrent clients, %s per operation, %d seeded users, GOMAXPROCS=%d, %s\n",
		conc, duration, seed, runtime.GOMAXPROCS(0), runtime.Version())
	return nil
}

var onlyWorkload string

// benchHost is the host name of the issuer: an IP address but for the
// MFA scenario, whose passkeys need a domain (localhost).
var benchHost = "127.0.0.1"

// hashConcurrency and hashQueueTimeout configure the server's password
// limiter (-hash-concurrency, -hash-queue-timeout).
var (
	hashConcurrency  int
	hashQueueTimeout time.Duration
)

// loginWorkloads measures the OpenID Provider: full password logins against
// the raw hash rate, client_credentials tokens and refresh exchanges.
//
// A password login is compared with the raw verification rate of the same
// hash at the same concurrency, measured in the same minutes: the two
// alternate in `rounds` short windows each (raw first in even rounds, login
// first in odd ones), so a change in the machine's other load affects both
// sides alike. The ratio is the login rate over the raw rate, both summed
// over all their windows.
func loginWorkloads(ctx context.Context, deps *server.Deps, c *client, d time.Duration, conc int) error {
	if onlyWorkload != "" && !strings.HasPrefix("login", onlyWorkload) {
		return nil
	}
	lb, err := newLoginBench(ctx, deps, c.base, c.http.Transport)
	if err != nil {
		return err
	}
	const pw = "Bench-Password-2026!"
	users := func(kind string) []string {
		var out []string
		for i := range 8 {
			out = append(out, fmt.Sprintf("%s%d@login.bench", kind, i))
		}
		return out
	}
	argonUsers, bcryptUsers := users("argon"), users("bcrypt")
	for _, e := range append(append([]string{}, argonUsers...), bcryptUsers...) {
		if err := c.gql(createUser, map[string]any{"in": map[string]any{
			"connection": "Username-Password-Authentication", "email": e, "password": pw}}, nil); err != nil {
			return err
		}
	}
	for _, e := range bcryptUsers {
		if err := setBcrypt(ctx, deps, e, pw); err != nil {
			return err
		}
	}
	argonHash := passwords.Hash(pw)
	bcryptHash, _ := bcrypt.GenerateFromPassword([]byte(pw), 10)
	m := &meter{db: deps.DB}
	if explainLogin {
		return explain(deps, lb, bcryptUsers[0], pw)
	}

	fmt.Printf("\nOpenID Provider, %d rounds per password workload, load average %s at start\n\n", opRounds, loadAvg())
	fmt.Printf("| operation | ops/s | p50 | p99 | errors | CPU/op (server+generator) | Postgres CPU/op | statements/op | transactions/op |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, s *series) {
		p50, p99 := s.latencies()
		self, pg, st, tx := s.perOp()
		fmt.Printf("| %s | %.1f | %s | %s | %d | %s | %s | %.1f | %.1f |\n", name, s.rate(), p50, p99, s.errors(),
			ms(self), ms(pg), st, tx)
	}
	type ratio struct {
		name               string
		raw, login         *series
		perRound           []float64
		loadStart, loadEnd string
	}
	var ratios []ratio
	password := func(name string, hash string, users []string) {
		if !opSelected(name) {
			return
		}
		login := func(i int) error { _, err := lb.login(users[i%len(users)], pw); return err }
		raw := func(int) error { return passwords.Verify(hash, pw) }
		load(time.Second, conc, login) // warm-up: prepared statements, caches, connections
		rt := ratio{name: name, raw: &series{}, login: &series{}, loadStart: loadAvg()}
		w := d / time.Duration(opRounds)
		for i := range opRounds {
			var rw, lw window
			if i%2 == 0 {
				rw = m.measured(ctx, w, conc, raw)
				lw = m.measured(ctx, w, conc, login)
			} else {
				lw = m.measured(ctx, w, conc, login)
				rw = m.measured(ctx, w, conc, raw)
			}
			rt.raw.add(rw)
			rt.login.add(lw)
			rt.perRound = append(rt.perRound, lw.r.rate/rw.r.rate)
		}
		rt.loadEnd = loadAvg()
		row("raw "+name+" verification (ceiling)", rt.raw)
		row("password login, "+name+" (authorize → form → code → token)", rt.login)
		ratios = append(ratios, rt)
	}
	password("argon2id", argonHash, argonUsers)
	password("bcrypt-10", string(bcryptHash), bcryptUsers)

	if opSelected("client_credentials") {
		s := &series{}
		cc := c.ccRequester("bench-admin", "bench-admin-secret-0123456789abcdefgh")
		load(time.Second, conc, cc)
		s.add(m.measured(ctx, d, conc, cc))
		row("client_credentials token", s)
	}

	if opSelected("refresh") {
		chain := make(chan string, conc)
		for i := range conc {
			tok, err := lb.login(argonUsers[i%8], pw)
			if err != nil {
				return err
			}
			chain <- tok.RefreshToken
		}
		s := &series{}
		s.add(m.measured(ctx, d, conc, func(int) error {
			rt := <-chain
			next, err := lb.refresh(rt)
			if err != nil {
				chain <- rt
				return err
			}
			chain <- next
			return nil
		}))
		row("refresh_token exchange (rotation)", s)
	}
	fmt.Println()
	for _, rt := range ratios {
		var rounds []string
		for _, r := range rt.perRound {
			rounds = append(rounds, fmt.Sprintf("%.0f%%", 100*r))
		}
		lSelf, lPG, _, _ := rt.login.perOp()
		rSelf, rPG, _, _ := rt.raw.perOp()
		nonHash := lSelf + lPG - rSelf - rPG
		fmt.Printf("%s: logins reach %.1f%% of the raw hash rate (%.1f/s vs %.1f/s; rounds %s; load %s → %s);"+
			" CPU per login %s, per raw verification %s: %s outside the hash\n",
			rt.name, 100*rt.login.rate()/rt.raw.rate(), rt.login.rate(), rt.raw.rate(), strings.Join(rounds, " "),
			rt.loadStart, rt.loadEnd, ms(lSelf+lPG), ms(rSelf+rPG), ms(nonHash))
	}
	return nil
}

// explainLogin prints one login's statements instead of measuring.
var explainLogin bool

// explain prints, for one password login (after a warm-up login), each
// statement ent sends, with the HTTP request that sent it.
func explain(deps *server.Deps, lb *loginBench, user, pw string) error {
	if _, err := lb.login(user, pw); err != nil {
		return err
	}
	return explained(deps, lb, func() error { _, err := lb.login(user, pw); return err })
}

// explained runs fn (one login) printing each statement ent sends, with the
// HTTP request that sent it, and the total.
func explained(deps *server.Deps, lb *loginBench, fn func() error) error {
	var mu sync.Mutex
	n := 0
	deps.DB.TraceStatements(func(q string, inTx bool) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if len(q) > 140 {
			q = q[:140] + "…"
		}
		tx := "  "
		if inTx {
			tx = "tx"
		}
		fmt.Printf("%3d %s %s\n", n, tx, q)
	})
	lb.trace = func(step string) { fmt.Println("--- " + step) }
	err := fn()
	deps.DB.TraceStatements(nil)
	lb.trace = nil
	fmt.Printf("=== %d statements\n", n)
	return err
}

// opRounds is how many alternating windows a password workload gets.
var opRounds = 4

// opWorkloads selects OpenID Provider workloads (-op); empty means all.
var opWorkloads string

func opSelected(name string) bool {
	if opWorkloads == "" {
		return true
	}
	for _, w := range strings.Split(opWorkloads, ",") {
		if w != "" && strings.HasPrefix(name, w) {
			return true
		}
	}
	return false
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

const createUser = `mutation($in: CreateUserInput!) { createUser(input: $in) { id userId } }`

type result struct {
	rate     float64
	p50, p99 time.Duration
	errors   int64
	n        int64
	elapsed  time.Duration
	lat      []time.Duration // sorted
}

// load runs fn from conc goroutines for d and reports throughput and latency.
func load(d time.Duration, conc int, fn func(i int) error) result {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lat     []time.Duration
		errs    atomic.Int64
		counter atomic.Int64
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				i := int(counter.Add(1))
				t0 := time.Now()
				if err := fn(i); err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "first error:", err)
					}
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	return result{rate: float64(len(lat)) / elapsed.Seconds(), p50: percentile(lat, 0.50), p99: percentile(lat, 0.99),
		errors: errs.Load(), n: int64(len(lat)), elapsed: elapsed, lat: lat}
}

// percentile reads p from sorted latencies.
func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[int(float64(len(lat)-1)*p)].Round(10 * time.Microsecond)
}

type client struct {
	base  string
	http  *http.Client
	token string
}

func (c *client) login(id, secret string) error {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, c.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return fmt.Errorf("token request failed: %d %v", resp.StatusCode, err)
	}
	c.token = body.AccessToken
	return nil
}

// ccRequester returns a client_credentials request as a machine client
// would send it again and again: the form and the Basic credentials are
// encoded once; the answer must be 200 with an access token, which is not
// decoded further.
func (c *client) ccRequester(id, secret string) func(int) error {
	body := []byte(url.Values{"grant_type": {"client_credentials"}}.Encode())
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	prefix := []byte(`{"access_token":"ey`)
	return func(int) error {
		req, _ := http.NewRequest(http.MethodPost, c.base+"/oauth/token", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, prefix) {
			return fmt.Errorf("token request failed: %d %v", resp.StatusCode, err)
		}
		return nil
	}
}

// rest sends one REST management request and expects status want.
func (c *client) rest(method, path string, body any, want int) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return nil
}

func (c *client) gql(query string, vars map[string]any, out any) error {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.base+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return err
	}
	if len(body.Errors) > 0 {
		return &gqlError{body.Errors[0].Message}
	}
	if out != nil {
		return json.Unmarshal(body.Data, out)
	}
	return nil
}

// gqlError is an error the GraphQL API answered (the request was refused),
// as opposed to a failure to get an answer.
type gqlError struct{ msg string }

func (e *gqlError) Error() string { return "graphql: " + e.msg }

// freshPostgres creates a throwaway database on the local server.
func freshPostgres(ctx context.Context) (string, func(), error) {
	admin := os.Getenv("AUTHGRAPH_BENCH_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	db, err := sql.Open("postgres", admin)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("authgraph_bench_%d", time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("creating bench database (is Postgres on 127.0.0.1:5432?): %w", err)
	}
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		db.Close()
	}, nil
}
