package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/authgraph/authgraph/ent"
)

// Cross-node invalidation. Several nodes may share one Postgres database,
// and Postgres is all they share. Each node's read caches (Cache) are
// dropped when a watched entity type's generation moves (cache.go); on
// Postgres the generations also move for changes committed by other
// processes:
//
//   - after a tracked mutation commits (right after it, outside a
//     transaction), the node sends NOTIFY on ChangesChannel with the entity
//     type names as payload. Sending is asynchronous and coalesced: one
//     goroutine sends whatever types piled up while it was sending, so a
//     burst of writes costs a few notifications, and a failed or slow
//     notification never blocks or fails the write.
//   - every node LISTENs on ChangesChannel through a dedicated, reconnecting
//     connection (pq.Listener) and bumps the named types' generations, so
//     the caches of those types drop their entries within milliseconds. A
//     node's own notifications come back too and just bump once more.
//
// NOTIFY is sent after the commit rather than with pg_notify inside the
// transaction (where Postgres would deliver it atomically with the commit):
// in the transaction it would add a round trip to every tracked write,
// logins' included, and writes made outside a transaction would need their
// own statement anyway. The price is a window: a node that dies between a
// commit and its notification leaves the others to notice the change by
// TTL, which ListeningTTL bounds.
//
// Fallback. While the listening connection is down, or has not answered a
// ping for listenHealthWindow, caches expire entries after their own
// (short) TTL, as without notifications. When the connection comes back,
// every generation is bumped once (nothing said while it was down is
// known), and only then are the longer ListeningTTL used again. A
// notification lost to a dead connection thus leaves a stale entry for at
// most about the cache's own TTL.

// ChangesChannel is the Postgres notification channel of entity changes.
const ChangesChannel = "authgraph_changes"

// ListenerApplicationName is the application_name of the listening
// session (pg_stat_activity shows it).
const ListenerApplicationName = "authgraph-listener"

// ListeningTTL is the lifetime of a cache entry while the node's listening
// connection is healthy (a cache whose own TTL is longer keeps its own).
// Notifications do the invalidating then; the TTL only bounds what a
// notification lost with a crashed sender can leave stale.
var ListeningTTL = 30 * time.Second

const (
	// listenPing is how often the listening connection is pinged.
	listenPing = 500 * time.Millisecond
	// listenHealthWindow is how long after its last sign of life the
	// listening connection still counts as healthy: past it, caches fall
	// back to their own TTL.
	listenHealthWindow = 1500 * time.Millisecond
	// firstListenWait bounds how long Open waits for LISTEN.
	firstListenWait = 2 * time.Second
	// notifyTimeout bounds one NOTIFY.
	notifyTimeout = 5 * time.Second
	// notifiedPayloadMax keeps a payload far below Postgres' 8000 bytes.
	notifiedPayloadMax = 4000
)

// sharedTypes are the entity types whose changes are always announced,
// whether or not this process caches them: a CLI command that creates a
// client or a rule must tell the serving nodes, which do.
var sharedTypes = []string{
	ent.TypeAdminGrant, ent.TypeApplication, ent.TypeClientGrant, ent.TypeConnection,
	ent.TypeGrant, ent.TypeMfaConfig, ent.TypeResourceServer, ent.TypeRole, ent.TypeRolePermission,
	ent.TypeRule, ent.TypeSigningKey, ent.TypeUser, ent.TypeUserPermission, ent.TypeUserRole,
}

// notifier sends and receives the change notifications of one DB.
type notifier struct {
	ch *changes
	db *sql.DB
	// id tags this node's notifications ("id Type,Type"), which it skips
	// when they come back: its caches already saw the change.
	id string

	mu      sync.Mutex
	pending map[string]bool
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	first   chan struct{} // closed once LISTEN is first in place

	l         *pq.Listener
	connected atomic.Bool
	lastOK    atomic.Int64 // unix nanoseconds of the last sign of life
	resyncs   atomic.Int64 // full forgets after (re)connecting

	cbMu sync.Mutex
	cbs  map[string][]func()
}

// startNotifier announces ch's changes through db and applies those
// announced on dsn's database.
func startNotifier(dsn string, db *sql.DB, ch *changes) *notifier {
	n := &notifier{ch: ch, db: db, id: rand.Text()[:12], pending: map[string]bool{}, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), first: make(chan struct{}), cbs: map[string][]func(){}}
	for _, t := range sharedTypes {
		ch.gen(t)
	}
	// The listening session names itself, so operators can tell it apart
	// in pg_stat_activity.
	if u, err := url.Parse(dsn); err == nil {
		q := u.Query()
		q.Set("application_name", ListenerApplicationName)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	n.l = pq.NewDialListener(listenDialer{}, dsn, 50*time.Millisecond, 2*time.Second, n.event)
	ch.notify = n
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); n.send() }()
	go func() { defer wg.Done(); n.receive() }()
	go func() { defer wg.Done(); n.ping() }()
	go func() { wg.Wait(); close(n.done) }()
	// Open returns listening, normally: caches filled before would be
	// forgotten when LISTEN is in place.
	select {
	case <-n.first:
	case <-time.After(firstListenWait):
	}
	return n
}

// changed queues typ for announcement.
func (n *notifier) changed(typ string) {
	n.mu.Lock()
	n.pending[typ] = true
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// send announces queued changes. A failed announcement is queued again
// and retried with backoff (100 ms doubling to 2 s) until it goes through:
// the other nodes keep entries for ListeningTTL while they listen, so a
// change left unannounced would stay stale there that long.
func (n *notifier) send() {
	var retry <-chan time.Time
	backoff := notifyRetryMin
	for {
		select {
		case <-n.kick:
		case <-retry:
			retry = nil
		case <-n.stop:
			n.flush() // a CLI command's last change still reaches the nodes
			return
		}
		if n.flush() {
			backoff = notifyRetryMin
			continue
		}
		if retry == nil {
			retry = time.After(backoff)
			backoff = min(2*backoff, notifyRetryMax)
		}
	}
}

// Bounds of the retry pause after a failed announcement.
const (
	notifyRetryMin = 100 * time.Millisecond
	notifyRetryMax = 2 * time.Second
)

// flush sends every queued change; it reports false when one could not be
// sent, and queues those again.
func (n *notifier) flush() bool {
	n.mu.Lock()
	types := make([]string, 0, len(n.pending))
	for t := range n.pending {
		types = append(types, t)
	}
	clear(n.pending)
	n.mu.Unlock()
	if len(types) == 0 {
		return true
	}
	slices.Sort(types)
	for len(types) > 0 {
		payload, rest := n.id+" "+types[0], types[1:]
		for len(rest) > 0 && len(payload)+1+len(rest[0]) <= notifiedPayloadMax {
			payload += "," + rest[0]
			rest = rest[1:]
		}
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		_, err := n.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", ChangesChannel, payload)
		cancel()
		if err != nil {
			n.mu.Lock()
			for _, t := range types { // this payload's types and the rest
				n.pending[t] = true
			}
			n.mu.Unlock()
			return false
		}
		types = rest
	}
	return true
}

// event follows the listening connection's state.
func (n *notifier) event(ev pq.ListenerEventType, _ error) {
	switch ev {
	case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
		n.connected.Store(false)
	}
	// The first connection counts once LISTEN is in place (receive);
	// ListenerEventReconnected is followed by a nil notification, sent once
	// LISTEN is in place again, which receive handles.
}

// resync forgets every cache, then counts the connection healthy.
func (n *notifier) resync() {
	n.ch.gens.Range(func(_, g any) bool {
		g.(*atomic.Uint64).Add(1)
		return true
	})
	n.cbMu.Lock()
	var all []func()
	for _, fns := range n.cbs {
		all = append(all, fns...)
	}
	n.cbMu.Unlock()
	for _, fn := range all {
		fn()
	}
	n.resyncs.Add(1)
	n.lastOK.Store(time.Now().UnixNano())
	n.connected.Store(true)
}

func (n *notifier) receive() {
	// Listen returns once LISTEN is in place on the first connection
	// (retried in the background until then). Caches filled before used
	// their own TTL; forget them anyway, as after a reconnection.
	go func() {
		if n.l.Listen(ChangesChannel) == nil {
			n.resync()
			close(n.first)
		}
	}()
	for {
		select {
		case <-n.stop:
			_ = n.l.Close()
			return
		case msg := <-n.l.Notify:
			if msg == nil {
				n.resync() // reconnected: anything may have changed meanwhile
				continue
			}
			n.lastOK.Store(time.Now().UnixNano())
			from, types, _ := strings.Cut(msg.Extra, " ")
			if from != n.id {
				n.apply(strings.Split(types, ","))
			}
		}
	}
}

// apply bumps the generations of types changed elsewhere and runs their
// callbacks.
func (n *notifier) apply(types []string) {
	var fns []func()
	for _, t := range types {
		if g, ok := n.ch.gens.Load(t); ok {
			g.(*atomic.Uint64).Add(1)
		}
		n.cbMu.Lock()
		fns = append(fns, n.cbs[t]...)
		n.cbMu.Unlock()
	}
	for _, fn := range fns {
		fn()
	}
}

func (n *notifier) ping() {
	t := time.NewTicker(listenPing)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if !n.connected.Load() {
				continue
			}
			// Ping may block on a dead connection until the kernel gives
			// up: the health window, not the ping, decides meanwhile.
			if n.l.Ping() == nil {
				n.lastOK.Store(time.Now().UnixNano())
			}
		}
	}
}

// healthy reports whether notifications can be trusted to arrive.
func (n *notifier) healthy(now time.Time) bool {
	return n.connected.Load() && now.UnixNano()-n.lastOK.Load() < int64(listenHealthWindow)
}

// listenBlocked makes the listening connection's dials fail (tests of the
// fallback: a network that stays down).
var listenBlocked atomic.Bool

var errListenBlocked = errors.New("listening blocked")

// listenDialer is lib/pq's default dialer, but for listenBlocked.
type listenDialer struct{}

func (listenDialer) Dial(network, address string) (net.Conn, error) {
	return listenDialer{}.DialTimeout(network, address, 0)
}

func (listenDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	if listenBlocked.Load() {
		return nil, errListenBlocked
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Second}
	return d.Dial(network, address)
}

// close sends what is pending and stops listening.
func (n *notifier) close() {
	close(n.stop)
	select {
	case <-n.done:
	case <-time.After(notifyTimeout):
	}
}

// ttl is the lifetime of an entry of a cache whose own TTL is own.
func (c *changes) ttl(own time.Duration, now time.Time) time.Duration {
	if n := c.notify; n != nil && n.healthy(now) {
		return max(own, ListeningTTL)
	}
	return own
}

// announce queues typ's change for the other nodes (Postgres only).
func (c *changes) announce(typ string) {
	if n := c.notify; n != nil {
		n.changed(typ)
	}
}

// OnRemoteChange calls fn whenever another process announces a change of
// one of types in client's database, and when the node's listening
// connection is (re)established (when changes may have gone unannounced).
// It is for in-memory state that does not live in a Cache (signing keys):
// fn must be quick and must not block. Changes made through this process
// are not reported: their writer knows. Nothing happens on SQLite or for a
// client Open did not return.
func OnRemoteChange(client *ent.Client, fn func(), types ...string) {
	t, ok := trackers.Load(client)
	if !ok {
		return
	}
	n := t.(*changes).notify
	if n == nil {
		return
	}
	n.cbMu.Lock()
	for _, typ := range types {
		n.cbs[typ] = append(n.cbs[typ], fn)
	}
	n.cbMu.Unlock()
}

// Generation returns a function summing the generations of types in
// client's database: its result moves whenever one of them changes, through
// this process or, on Postgres, another. For caches that cannot be a Cache.
// For a client Open did not return, the function always returns 0.
func Generation(client *ent.Client, types ...string) func() uint64 {
	t, ok := trackers.Load(client)
	if !ok {
		return func() uint64 { return 0 }
	}
	var gens []*atomic.Uint64
	for _, typ := range types {
		gens = append(gens, t.(*changes).gen(typ))
	}
	return func() uint64 {
		var sum uint64
		for _, g := range gens {
			sum += g.Load()
		}
		return sum
	}
}

// Listening reports whether d's node currently receives change
// notifications (always false on SQLite, where there is nothing to
// receive): for tests and diagnostics.
func (d *DB) Listening() bool {
	n := d.notifier
	return n != nil && n.healthy(time.Now())
}
