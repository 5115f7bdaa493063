package dbauth

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authn/loginstore"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/passwords"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var backends = []struct {
	name string
	dsn  func(testing.TB) string
}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}}

var sys = authz.SystemContext(context.Background())

type env struct {
	t    *testing.T
	db   *ent.Client
	svc  *Service
	smtp *testenv.SMTPServer
	now  *time.Time
}

// forEach runs fn on SQLite and on Postgres.
func forEach(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, newEnv(t, b.dsn(t))) })
	}
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	srv := testenv.StartSMTP(t)
	sender, err := mail.NewSMTP(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e := &env{t: t, db: db.Ent, smtp: srv, now: &now}
	e.svc = &Service{
		DB: db.Ent, Mail: sender, Issuer: "http://127.0.0.1:9999/", Logger: slog.New(slog.DiscardHandler),
		ResetFloor: 50 * time.Millisecond,
		Now:        func() time.Time { return *e.now },
	}
	t.Cleanup(func() { e.svc.Wait(); db.Close() })
	return e
}

// conn creates a database connection with options.
func (e *env) conn(name string, opts map[string]any) *ent.Connection {
	e.t.Helper()
	c, err := e.db.Connection.Create().SetName(name).SetStrategy(connection.StrategyDatabase).SetOptions(opts).Save(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) user(conn, email, password string) *ent.User {
	e.t.Helper()
	u, err := identity.Create(sys, e.db, nil, identity.CreateInput{Connection: conn, Email: &email, Password: &password})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// ipCtx is a request context from ip.
func ipCtx(ip string) context.Context {
	return logs.WithRequest(context.Background(), logs.Request{IP: ip, UserAgent: "test"})
}

// logTypes returns the log event types, oldest first.
func (e *env) logTypes() []string {
	e.t.Helper()
	evs, err := e.db.LogEvent.Query().Order(ent.Asc(logevent.FieldDate), ent.Asc(logevent.FieldID)).All(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func (e *env) lastLog(typ string) *ent.LogEvent {
	e.t.Helper()
	ev, err := e.db.LogEvent.Query().Where(logevent.Type(typ)).Order(ent.Desc(logevent.FieldDate), ent.Desc(logevent.FieldID)).First(sys)
	if err != nil {
		e.t.Fatalf("no %q log event: %v (have %v)", typ, err, e.logTypes())
	}
	return ev
}

func (e *env) reload(u *ent.User) *ent.User {
	e.t.Helper()
	return e.db.User.GetX(sys, u.ID)
}

// countDummy counts calls of the dummy verification during a test.
func countDummy(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	orig := verifyDummy
	verifyDummy = func(l *passwords.Limiter, ctx context.Context, pw string) error {
		n.Add(1)
		return orig(l, ctx, pw)
	}
	t.Cleanup(func() { verifyDummy = orig })
	return &n
}

// login is Login followed, for a correct password, by the writes
// authn.Finalize makes for an allowed login: its pending record (the
// counter's end, the login counters, the hash upgrade, the s event), through
// the same store. ErrBlocked when the record finds the user blocked; the
// result's user is then read back.
func (e *env) login(ctx context.Context, in LoginInput) (*LoginResult, error) {
	res, err := e.svc.Login(ctx, in)
	if err != nil {
		return nil, err
	}
	p := res.Pending
	ev := p.Event
	ev.Type = logs.TypeSuccessLogin
	done, err := loginstore.New(e.db).Record(ctx, &authn.Record{
		UserID: res.User.ID, Now: time.Now(), IP: logs.RequestFrom(ctx).IP, CountLogin: p.CountLogin, Attempt: p.Attempt,
		UpgradeIdentity: p.UpgradeIdentity, UpgradeHash: p.UpgradeHash, Event: &ev,
	})
	if err != nil {
		return nil, err
	}
	res.User = e.db.User.GetX(sys, res.User.ID)
	if done.Blocked {
		return res, ErrBlocked
	}
	return res, nil
}
