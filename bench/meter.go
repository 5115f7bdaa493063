package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/authgraph/authgraph/store"
)

// meter measures what one window of load cost: the CPU of this process
// (server and load generator together), the CPU of the Postgres backends
// serving the bench database (read from /proc), and the statements ent sent.
// Dividing by the operations done gives a per-operation cost that does not
// depend on how busy the rest of the machine is, unlike a rate.
type meter struct {
	db *store.DB
}

// sample is a point-in-time reading of the counters.
type sample struct {
	at    time.Time
	self  time.Duration
	pg    map[int]int64 // backend pid → CPU ticks
	stats store.Stats
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

func (m *meter) read(ctx context.Context) sample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s := sample{
		at:    time.Now(),
		self:  time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		pg:    pgTicks(ctx, m.db.SQL),
		stats: m.db.Stats(),
	}
	return s
}

// cost is the difference between two samples.
type cost struct {
	elapsed    time.Duration
	self, pg   time.Duration
	statements int64
	txs        int64
}

func (m *meter) since(ctx context.Context, a sample) cost {
	b := m.read(ctx)
	var ticks int64
	for pid, t := range b.pg {
		ticks += t - a.pg[pid] // a backend started in the window counts from 0
	}
	return cost{
		elapsed:    b.at.Sub(a.at),
		self:       b.self - a.self,
		pg:         time.Duration(ticks) * time.Second / clockTicks,
		statements: b.stats.Statements - a.stats.Statements,
		txs:        b.stats.Transactions - a.stats.Transactions,
	}
}

// pgTicks returns the CPU ticks (user+system) of every backend connected to
// the bench database. Postgres' shared processes (WAL writer, checkpointer)
// are left out: other databases on the server use them too.
func pgTicks(ctx context.Context, db *sql.DB) map[int]int64 {
	out := map[int]int64{}
	rows, err := db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces): state is
		// field 3; utime and stime are fields 14 and 15.
		_, rest, ok := strings.Cut(string(b), ") ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = u + s
	}
	return out
}

// window is one measured run of a workload.
type window struct {
	r result
	c cost
}

// measured runs a workload for d, counting what it cost.
func (m *meter) measured(ctx context.Context, d time.Duration, conc int, fn func(i int) error) window {
	a := m.read(ctx)
	r := load(d, conc, fn)
	return window{r: r, c: m.since(ctx, a)}
}

// series sums windows of the same workload.
type series struct {
	windows []window
}

func (s *series) add(w window) { s.windows = append(s.windows, w) }

func (s *series) ops() int64 {
	var n int64
	for _, w := range s.windows {
		n += w.r.n
	}
	return n
}

func (s *series) elapsed() time.Duration {
	var d time.Duration
	for _, w := range s.windows {
		d += w.r.elapsed
	}
	return d
}

// rate is operations per second over all windows.
func (s *series) rate() float64 { return float64(s.ops()) / s.elapsed().Seconds() }

// perOp returns the CPU (this process, Postgres) and statements per
// operation over all windows.
func (s *series) perOp() (self, pg time.Duration, stmts, txs float64) {
	n := s.ops()
	if n == 0 {
		return 0, 0, 0, 0
	}
	var c cost
	for _, w := range s.windows {
		c.self += w.c.self
		c.pg += w.c.pg
		c.statements += w.c.statements
		c.txs += w.c.txs
	}
	return c.self / time.Duration(n), c.pg / time.Duration(n), float64(c.statements) / float64(n), float64(c.txs) / float64(n)
}

// latencies merges the windows' latencies.
func (s *series) latencies() (p50, p99 time.Duration) {
	var all []time.Duration
	for _, w := range s.windows {
		all = append(all, w.r.lat...)
	}
	slices.Sort(all)
	return percentile(all, 0.50), percentile(all, 0.99)
}

func (s *series) errors() int64 {
	var n int64
	for _, w := range s.windows {
		n += w.r.errors
	}
	return n
}

// loadAvg returns the 1-minute load average, for the report.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
