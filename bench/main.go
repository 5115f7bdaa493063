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
)

func main() {
	var (
		duration    = flag.Duration("duration", 10*time.Second, "how long each workload runs")
		concurrency = flag.Int("concurrency", 8, "concurrent clients")
		database    = flag.String("database", "", "database URL (default: a fresh database on local Postgres)")
		seed        = flag.Int("seed", 2000, "users created before the read workloads")
		cpuprofile  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		only        = flag.String("only", "", "run only the workload whose name starts with this")
	)
	flag.Parse()
	onlyWorkload = *only
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*duration, *concurrency, *database, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	cfg := &server.Config{
		Listen: addr, DatabaseURL: dsn, Issuer: "http://" + addr + "/",
		MasterKey:     base64.StdEncoding.EncodeToString(secretbox.NewKey()),
		AdminClientID: "bench-admin", AdminClientSecret: "bench-admin-secret-0123456789abcdefgh",
		LogFormat: "text", Serving: true,
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	deps, err := server.Prepare(ctx, cfg, logger, io.Discard, server.MigrateIfEmpty)
	if err != nil {
		return err
	}
	defer deps.Close()
	h, err := server.Handler(deps)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()

	c := &client{base: "http://" + addr, http: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc * 2,
	}}}
	if err := c.login(cfg.AdminClientID, cfg.AdminClientSecret); err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "seeding %d users…\n", seed)
	var ids, emails []string
	for i := range seed {
		email := fmt.Sprintf("seed%d@bench.example", i)
		var out struct {
			CreateUser struct{ ID string } `json:"createUser"`
		}
		if err := c.gql(createUser, map[string]any{"in": map[string]any{
			"connection": "Username-Password-Authentication", "email": email, "name": fmt.Sprintf("Seed User %d", i),
			"appMetadata": map[string]any{"plan": "gold", "roles": []string{"user"}},
		}}, &out); err != nil {
			return err
		}
		ids = append(ids, out.CreateUser.ID)
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

// loginWorkloads measures the OpenID Provider: full password logins against
// the raw hash rate, client_credentials tokens and refresh exchanges.
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

	row := func(name string, r result) {
		fmt.Printf("| %s | %.0f | %s | %s | %d |\n", name, r.rate, r.p50, r.p99, r.errors)
	}
	rawArgon := hashRate(d, conc, argonHash, pw)
	rawBcrypt := hashRate(d, conc, string(bcryptHash), pw)
	argon := load(d, conc, func(i int) error { _, err := lb.login(argonUsers[i%8], pw); return err })
	row("password login, argon2id (authorize → form → code → token)", argon)
	bc := load(d, conc, func(i int) error { _, err := lb.login(bcryptUsers[i%8], pw); return err })
	row("password login, bcrypt-10 (authorize → form → code → token)", bc)
	row("client_credentials token", load(d, conc, func(int) error { return c.login("bench-admin", "bench-admin-secret-0123456789abcdefgh") }))

	chain := make(chan string, conc)
	for i := range conc {
		tok, err := lb.login(argonUsers[i%8], pw)
		if err != nil {
			return err
		}
		chain <- tok.RefreshToken
	}
	row("refresh_token exchange (rotation)", load(d, conc, func(int) error {
		rt := <-chain
		next, err := lb.refresh(rt)
		if err != nil {
			chain <- rt
			return err
		}
		chain <- next
		return nil
	}))
	fmt.Printf("\nraw hash verifications/s at the same concurrency: argon2id %.1f, bcrypt-10 %.1f\n", rawArgon, rawBcrypt)
	fmt.Printf("password logins reach %.0f%% (argon2id) and %.0f%% (bcrypt-10) of the raw hash rate\n",
		100*argon.rate/rawArgon, 100*bc.rate/rawBcrypt)
	return nil
}

const createUser = `mutation($in: CreateUserInput!) { createUser(input: $in) { id } }`

type result struct {
	rate     float64
	p50, p99 time.Duration
	errors   int64
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
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)].Round(10 * time.Microsecond)
	}
	return result{rate: float64(len(lat)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99), errors: errs.Load()}
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
		return fmt.Errorf("graphql: %s", body.Errors[0].Message)
	}
	if out != nil {
		return json.Unmarshal(body.Data, out)
	}
	return nil
}

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
