package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authgraph/authgraph/secretbox"
)

// runStorm measures a login storm: conc clients log in at once, each as
// its own argon2id user (distinct users, so brute-force protection's
// in-flight counting of one identifier does not refuse them), for d. A
// client answered busy (503 with Retry-After) waits the second Retry-After
// asks for, as a browser's user would, and counts a busy answer. It reports
// logins/s, latencies, busy answers, and the process's resident memory
// before the storm and its peak during it (VmHWM, reset at the start:
// server and generator, which is the same for every configuration).
func runStorm(d time.Duration, conc int, dsn string) error {
	ctx := context.Background()
	if dsn == "" {
		var cleanup func()
		var err error
		if dsn, cleanup, err = freshPostgres(ctx); err != nil {
			return err
		}
		defer cleanup()
	}
	deps, c, stop, err := startServer(ctx, dsn, conc, base64.StdEncoding.EncodeToString(secretbox.NewKey()))
	if err != nil {
		return err
	}
	defer stop()
	lb, err := newLoginBench(ctx, deps, c.base, c.http.Transport)
	if err != nil {
		return err
	}
	const pw = "Bench-Password-2026!"
	users := make([]string, conc)
	for i := range users {
		users[i] = fmt.Sprintf("storm%d@login.bench", i)
		if err := c.gql(createUser, map[string]any{"in": map[string]any{
			"connection": "Username-Password-Authentication", "email": users[i], "password": pw}}, nil); err != nil {
			return err
		}
	}
	var busy atomic.Int64
	login := func(i int) error {
		_, err := lb.login(users[i%len(users)], pw)
		if errors.Is(err, errBusy) {
			busy.Add(1)
			time.Sleep(time.Second) // Retry-After
		}
		return err
	}
	load(time.Second, 2, login) // warm-up: statements, caches, connections
	busy.Store(0)
	runtime.GC()
	before := procStatus("VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak RSS: %w", err)
	}
	start := loadAvg()
	r := load(d, conc, login)
	peak := procStatus("VmHWM")
	fmt.Printf("| clients | hash concurrency | logins/s | p50 | p99 | busy (503) | other errors | RSS before | peak RSS | load |\n")
	fmt.Printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	fmt.Printf("| %d | %s | %.1f | %s | %s | %d | %d | %d MB | %d MB | %s → %s |\n", conc, limiterLabel(deps.Auth.Passwords.Concurrency()),
		r.rate, r.p50, r.p99, busy.Load(), r.errors-busy.Load(), before>>20, peak>>20, start, loadAvg())
	fmt.Printf("\nGOMAXPROCS=%d, %s, %s\n", runtime.GOMAXPROCS(0), d, runtime.Version())
	return nil
}

func limiterLabel(n int) string {
	if n >= 1<<20 {
		return "unbounded"
	}
	return strconv.Itoa(n)
}

// procStatus reads a memory line of /proc/self/status, in bytes.
func procStatus(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
