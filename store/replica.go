package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"

	"github.com/authgraph/authgraph/ent"
)

// Read replica. Management listings (the users list and search, user
// exports) may read from a Postgres streaming replica, so that a large
// search or export does not compete with logins for the primary. Everything
// else stays on the primary: logins, every read that precedes a write, and
// reads of one object by id, which must see the caller's own last write.
//
// Staleness is bounded. Every Interval, a checker reads the primary's WAL
// write position (pg_current_wal_lsn) and then the replica's replay position
// (pg_last_wal_replay_lsn). Once the replica has replayed past a position
// the primary had at time t, it holds every change committed before t; the
// latest such t is the replica's "fresh as of" time. A read uses the replica
// only while now - freshAsOf <= MaxLag, so a read served by the replica sees
// every change that committed on the primary more than MaxLag before it
// started. The bound is kept by construction: a checker that stalls, a
// replica that stops replaying or cannot be reached, all stop freshAsOf
// from moving, and reads go to the primary once MaxLag has passed (at once,
// when the check fails). Writes committed asynchronously (a login's
// bookkeeping, see transient.go) reach pg_current_wal_lsn only when the WAL
// writer writes them, up to wal_writer_delay (200 ms by default) later.

// ErrReplicaNeedsPostgres is returned for a replica of a database that is
// not Postgres.
var ErrReplicaNeedsPostgres = errors.New("a read replica needs a Postgres primary database (postgres://…)")

// ErrBadReplicaURL is returned for a replica URL that is not postgres://….
var ErrBadReplicaURL = errors.New("the read replica URL must be postgres://…")

// ErrReadOnlyReplica is returned for any ent mutation through the replica
// client: the replica serves reads only.
var ErrReadOnlyReplica = errors.New("store: the read replica client cannot write")

// DefaultReplicaMaxLag is the staleness bound when none is configured.
const DefaultReplicaMaxLag = 5 * time.Second

// ReplicaOptions tune a replica.
type ReplicaOptions struct {
	// MaxLag bounds how stale a read from the replica may be (default
	// DefaultReplicaMaxLag).
	MaxLag time.Duration
	// Interval is how often the lag is measured: by default a quarter of
	// MaxLag, at most a second, so that a caught-up replica stays usable
	// between two checks.
	Interval time.Duration
	// Logger receives the warnings when reads fall back to the primary
	// and the notice when they return.
	Logger *slog.Logger
	// WarnEvery spaces the warnings while reads stay on the primary
	// (default 1 minute; see warnLocked).
	WarnEvery time.Duration
}

// Replica is a read replica attached to a primary DB.
type Replica struct {
	primary *DB
	db      *DB // the replica's pool and ent client (read-only)
	o       ReplicaOptions

	// freshAsOf is the time (UnixNano) before which every change committed
	// on the primary is on the replica; 0 when unknown or unusable.
	freshAsOf atomic.Int64
	// reads and fallbacks count the reads ReadOf sent to the replica and to
	// the primary.
	reads, fallbacks atomic.Int64

	mu       sync.Mutex // guards what follows (the checker and markDown)
	samples  []lsnSample
	down     bool // the last warning said reads use the primary
	lastWarn time.Time

	stop chan struct{}
	done chan struct{}
}

// lsnSample is the primary's WAL write position at a time.
type lsnSample struct {
	at  time.Time
	lsn int64
}

var replicas sync.Map // primary *ent.Client → *Replica

// OpenReplica attaches the Postgres replica at rawURL to primary: from then
// on ReadOf(primary.Ent) and Read choose it while it is fresh. The replica
// need not answer yet (reads use the primary until it does); a URL that
// cannot name a replica is an error. opts are applied to the replica's ent
// client as Open applies them; the schema's hooks and privacy policies are
// the same for every client.
func OpenReplica(ctx context.Context, primary *DB, rawURL string, o ReplicaOptions, opts ...ent.Option) (*Replica, error) {
	if !primary.Postgres() {
		return nil, ErrReplicaNeedsPostgres
	}
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, ErrBadReplicaURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not err itself: a *url.Error repeats the URL, password included.
		return nil, ErrBadReplicaURL
	}
	// Every session of the pool is read-only: even on a server that is
	// not in recovery (a promoted replica, a wrong URL) a write fails with
	// "cannot execute … in a read-only transaction" (lib/pq sends
	// parameters it does not know as run-time parameters).
	q := u.Query()
	q.Set("default_transaction_read_only", "on")
	u.RawQuery = q.Encode()
	sdb, err := sql.Open("postgres", u.String())
	if err != nil {
		return nil, ErrBadReplicaURL // the driver's error may quote the URL
	}
	// Listings and exports only: a few connections.
	sdb.SetMaxOpenConns(10)
	sdb.SetMaxIdleConns(10)
	sdb.SetConnMaxIdleTime(5 * time.Minute)

	if o.MaxLag <= 0 {
		o.MaxLag = DefaultReplicaMaxLag
	}
	if o.Interval <= 0 {
		o.Interval = min(time.Second, max(o.MaxLag/4, 10*time.Millisecond))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WarnEvery <= 0 {
		o.WarnEvery = time.Minute
	}

	drv := newCachingDriver(entsql.OpenDB(dialect.Postgres, sdb))
	client := ent.NewClient(append([]ent.Option{ent.Driver(drv)}, opts...)...)
	// Refused before any SQL is sent, with an error that names the cause.
	client.Use(func(ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(context.Context, ent.Mutation) (ent.Value, error) {
			return nil, ErrReadOnlyReplica
		})
	})
	// Not tracked for read caches (cache.go): the replica's client sees no
	// writes, so a Cache of it would never learn of a change; NewCache
	// gives untracked clients a cache that holds nothing.
	rdb := &DB{Ent: client, SQL: sdb, Dialect: dialect.Postgres, drv: drv, transient: client}
	opened.Store(client, rdb) // hand-written reads (userlist's counts) go to the replica too

	r := &Replica{primary: primary, db: rdb, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sdb.PingContext(pingCtx); err != nil {
		r.warn("the read replica does not answer; reads use the primary until it does", "err", err)
	} else {
		r.check() // usable from the start when it is caught up
	}
	replicas.Store(primary.Ent, r)
	go r.run()
	return r, nil
}

// ReplicaOf returns the replica attached to the DB Open made client for;
// nil when there is none.
func ReplicaOf(client *ent.Client) *Replica {
	r, _ := replicas.Load(client)
	rep, _ := r.(*Replica)
	return rep
}

// ReadOf returns the client a read-only management listing should use:
// the replica's when client's DB has a replica that is fresh enough, else
// client itself. Use it only for reads that may be up to the replica's
// MaxLag stale and that no write of the same request depends on.
func ReadOf(client *ent.Client) *ent.Client {
	r := ReplicaOf(client)
	if r == nil {
		return client
	}
	if r.Usable() {
		r.reads.Add(1)
		return r.db.Ent
	}
	r.fallbacks.Add(1)
	return client
}

// Read runs f with ReadOf(client). When f fails on the replica because the
// replica went away (it does not answer a ping) or cancelled the query for
// a conflict with its recovery, the replica is set aside until the next
// check and f runs again with client: a listing answers as long as the
// primary does.
func Read[T any](ctx context.Context, client *ent.Client, f func(*ent.Client) (T, error)) (T, error) {
	c := ReadOf(client)
	v, err := f(c)
	if err == nil || c == client || ctx.Err() != nil {
		return v, err
	}
	r := ReplicaOf(client)
	if !r.failed(ctx, err) {
		return v, err
	}
	r.markDown(err)
	r.fallbacks.Add(1)
	return f(client)
}

// Client is the replica's ent client (read-only).
func (r *Replica) Client() *ent.Client { return r.db.Ent }

// DB is the replica's DB: its pool, and its statement tracing and counts.
func (r *Replica) DB() *DB { return r.db }

// MaxLag is the staleness bound.
func (r *Replica) MaxLag() time.Duration { return r.o.MaxLag }

// Usable reports whether reads may use the replica now.
func (r *Replica) Usable() bool {
	f := r.freshAsOf.Load()
	return f != 0 && time.Since(time.Unix(0, f)) <= r.o.MaxLag
}

// Lag is how far behind the primary the replica is known to be at most
// (the time since freshAsOf); ok is false while it is unknown (the replica
// does not answer or is not a standby).
func (r *Replica) Lag() (lag time.Duration, ok bool) {
	f := r.freshAsOf.Load()
	if f == 0 {
		return 0, false
	}
	return time.Since(time.Unix(0, f)), true
}

// ReplicaStats count the reads ReadOf and Read gave to each database.
type ReplicaStats struct {
	ReplicaReads, PrimaryReads int64
}

// Stats returns the read counters.
func (r *Replica) Stats() ReplicaStats {
	return ReplicaStats{ReplicaReads: r.reads.Load(), PrimaryReads: r.fallbacks.Load()}
}

// Close stops the checker and closes the replica's pool.
func (r *Replica) Close() error {
	select {
	case <-r.stop:
		return nil
	default:
	}
	close(r.stop)
	<-r.done
	replicas.CompareAndDelete(r.primary.Ent, r)
	opened.Delete(r.db.Ent)
	return r.db.Ent.Close()
}

func (r *Replica) run() {
	defer close(r.done)
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.check()
		}
	}
}

// check measures the replica's lag (see the package's comment above).
func (r *Replica) check() {
	timeout := min(max(r.o.MaxLag, time.Second), 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	at := time.Now()
	var primaryLSN int64
	if err := r.primary.SQL.QueryRowContext(ctx, `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8`).Scan(&primaryLSN); err != nil {
		// Without the primary's position nothing is learned; freshAsOf
		// ages on its own.
		return
	}
	var (
		standby bool
		replay  sql.NullInt64
	)
	err := r.db.SQL.QueryRowContext(ctx, `SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8`).Scan(&standby, &replay)
	switch {
	case err != nil:
		r.markDown(err)
		return
	case !standby || !replay.Valid:
		// A promoted replica, or a URL naming a primary: its contents
		// cannot be compared with the primary's WAL.
		r.markDown(errors.New("the server is not a standby in recovery"))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, lsnSample{at: at, lsn: primaryLSN})
	var fresh time.Time
	for _, s := range r.samples {
		if s.lsn <= replay.Int64 {
			fresh = s.at // samples are in time order, positions never decrease
		}
	}
	// Samples older than the bound can only prove a staleness beyond it.
	keep := 0
	for keep < len(r.samples)-1 && time.Since(r.samples[keep].at) > r.o.MaxLag+2*r.o.Interval {
		keep++
	}
	r.samples = r.samples[keep:]
	if !fresh.IsZero() && fresh.UnixNano() > r.freshAsOf.Load() {
		r.freshAsOf.Store(fresh.UnixNano())
	}
	if r.Usable() {
		if r.down {
			r.down = false
			r.o.Logger.Info("the read replica is caught up: listings read from it again")
		}
		return
	}
	lag, _ := r.Lag()
	r.warnLocked("the read replica lags beyond its bound: listings read from the primary",
		"lag_at_least", lag.Round(time.Millisecond).String(), "max_lag", r.o.MaxLag.String())
}

// markDown sets the replica aside until a check finds it fresh again.
func (r *Replica) markDown(err error) {
	r.freshAsOf.Store(0)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = r.samples[:0]
	r.warnLocked("the read replica cannot be used: listings read from the primary", "err", err)
}

func (r *Replica) warn(msg string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnLocked(msg, args...)
}

// warnLocked logs a fallback warning: when reads leave the replica, and
// while they stay away once per WarnEvery; never twice within a sixth of
// WarnEvery, however often a replica at the edge of its bound flaps.
func (r *Replica) warnLocked(msg string, args ...any) {
	wasDown := r.down
	r.down = true
	if since := time.Since(r.lastWarn); !r.lastWarn.IsZero() && (since < r.o.WarnEvery/6 || wasDown && since < r.o.WarnEvery) {
		return
	}
	r.lastWarn = time.Now()
	r.o.Logger.Warn(msg, args...)
}

// failed reports whether err, returned by a read on the replica, is the
// replica's failure rather than the read's: a recovery conflict cancelled
// it, or the replica does not answer a ping.
func (r *Replica) failed(ctx context.Context, err error) bool {
	if pqErr := (*pq.Error)(nil); errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "40001", // serialization_failure: canceled for a conflict with recovery
			"57P01", "57P02", "57P03": // the replica shuts down or restarts
			return true
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	return r.db.SQL.PingContext(ctx) != nil
}

// closeReplica closes the replica attached to d, if any.
func (d *DB) closeReplica() {
	if r := ReplicaOf(d.Ent); r != nil {
		r.Close()
	}
}
