package dbauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/session"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

// TestLoginRecordsSessionForLoginPage follows the login page: a password
// login given the page's sessions.Prepared stores the session with its bookkeeping (one
// statement on Postgres, one transaction on SQLite), and the page's CreatePrepared
// hands out that row instead of inserting another. A blocked user gets no
// session, an f event, and still the bookkeeping; a deleted user is an
// error that writes nothing.
func TestLoginRecordsSessionForLoginPage(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", nil)
		u := e.user("db", "ann@example.com", goodPW)
		m := &sessions.Manager{DB: e.db}
		ctx := ipCtx("198.51.100.4")
		pre := m.Prepare()

		// A failure first, so that a counter exists for the success to clear.
		if _, err := e.svc.Login(ctx, LoginInput{Connection: "db", Identifier: "ann@example.com", Password: "wrong", Session: pre}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		res, err := e.svc.Login(ctx, LoginInput{Connection: "db", Identifier: "ann@example.com", Password: goodPW, ClientID: "cli_1", ClientName: "App", Session: pre})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.db.LoginAttempt.Query().Where(loginattempt.Identifier("ann@example.com")).CountX(sys); n != 0 {
			t.Fatalf("the failure counter survived a correct password: %d", n)
		}
		stored := e.db.Session.Query().Where(session.UserRef(u.ID)).AllX(sys)
		if len(stored) != 1 {
			t.Fatalf("sessions after the login: %d, want 1", len(stored))
		}
		s := stored[0]
		if s.Connection != "db" || s.IP != "198.51.100.4" || s.UserAgent != "test" || len(s.Amr) != 1 || s.Amr[0] != "pwd" ||
			s.RevokedAt != nil || !s.ExpiresAt.After(s.IdleExpiresAt.Add(-time.Second)) || s.IdleExpiresAt.Before(time.Now()) {
			t.Fatalf("stored session: %+v", s)
		}
		got := e.reload(u)
		if got.LoginsCount != 1 || got.LastIP == nil || *got.LastIP != "198.51.100.4" || got.LastLogin == nil ||
			!got.LastLogin.Truncate(time.Millisecond).Equal(res.User.LastLogin.Truncate(time.Millisecond)) {
			t.Fatalf("bookkeeping: stored %+v, returned %+v", got, res.User)
		}
		if ev := e.lastLog("s"); ev.UserID != u.UserID || ev.ClientID != "cli_1" || ev.ClientName != "App" ||
			ev.Connection != "db" || ev.IP != "198.51.100.4" || ev.UserAgent != "test" || ev.UserName != "ann@example.com" ||
			ev.StrategyType != "database" || ev.Description != "" {
			t.Fatalf("s event: %+v", ev)
		}

		// The page's CreatePrepared sets the cookie of that row; nothing new is stored.
		w := httptest.NewRecorder()
		created, err := m.CreatePrepared(ctx, w, httptest.NewRequest(http.MethodPost, "/login", nil), sessions.Params{
			UserID: u.ID, AuthTime: s.AuthTime, AMR: []string{"pwd"}, Connection: "db", IP: "198.51.100.4", UserAgent: "test",
		}, res.Session)
		if err != nil {
			t.Fatal(err)
		}
		if created.ID != s.ID || len(w.Result().Cookies()) != 1 {
			t.Fatalf("Create made %s (cookies %v), want the login's %s", created.ID, w.Result().Cookies(), s.ID)
		}
		if n := e.db.Session.Query().CountX(sys); n != 1 {
			t.Fatalf("sessions after Create: %d, want 1", n)
		}
		if cur, err := m.Current(ctx, &http.Request{Header: http.Header{"Cookie": {w.Result().Cookies()[0].String()}}}); err != nil || cur.ID != s.ID {
			t.Fatalf("the cookie does not name the session: %v, %v", cur, err)
		}

		// Blocked: bookkeeping and an f event, no session.
		e.db.User.UpdateOneID(u.ID).SetBlocked(true).ExecX(sys)
		if _, err := e.svc.Login(ctx, LoginInput{Connection: "db", Identifier: "ann@example.com", Password: goodPW, Session: m.Prepare()}); !errors.Is(err, ErrBlocked) {
			t.Fatalf("blocked user: %v", err)
		}
		if n := e.db.Session.Query().CountX(sys); n != 1 {
			t.Fatalf("a blocked login stored a session: %d sessions", n)
		}
		if ev := e.lastLog("f"); ev.Description != blockedDescription || ev.UserID != u.UserID {
			t.Fatalf("f event: %+v", ev)
		}
		if got := e.reload(u); got.LoginsCount != 2 {
			t.Fatalf("logins_count after the blocked login: %d, want 2", got.LoginsCount)
		}

		// Deleted between the read and the bookkeeping: an error, nothing written.
		nLogs := len(e.logTypes())
		ev := logs.Event{Connection: "db", UserID: "auth0|gone", StrategyType: "database"}
		_, _, _, err = e.svc.recordLogin(sys, ev, &ent.User{ID: "usr_gone", UserID: "auth0|gone"}, nil, nil, "", m.Prepare())
		if !ent.IsNotFound(err) {
			t.Fatalf("bookkeeping of a deleted user: %v, want not found", err)
		}
		if len(e.logTypes()) != nLogs || e.db.User.Query().Where(user.ID("usr_gone")).ExistX(sys) {
			t.Fatal("the bookkeeping of a deleted user wrote something")
		}
	})
}

// TestLoginStatementsPostgres pins the statements a password login sends on
// Postgres (docs/BENCHMARKS.md): counting the attempt before the hash
// replaced reading the counter, and a correct password deletes the counter
// inside the bookkeeping statement, so a successful login is still four —
// the attempt's count, the identity, its user, the bookkeeping — with or
// without earlier failures; a wrong password is four too (the count, the
// identity, its user, the fp event).
func TestLoginStatementsPostgres(t *testing.T) {
	e := newEnv(t, testenv.Postgres(t))
	e.conn("db", nil)
	e.user("db", "count@example.com", goodPW)
	db := store.Of(e.db)
	ctx := ipCtx("198.51.100.40")
	// The connection comes from the login's cache: fill it first.
	if _, err := e.svc.Connection(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	statements := func(pw string) int64 {
		var sent []string
		var mu sync.Mutex
		// Refill the connection cache right before counting: on a loaded
		// machine its TTL can run out between one login and the next.
		if _, err := e.svc.Connection(ctx, "db"); err != nil {
			t.Fatal(err)
		}
		db.TraceStatements(func(q string, _ bool) { mu.Lock(); sent = append(sent, q); mu.Unlock() })
		defer db.TraceStatements(nil)
		before := db.Stats().Statements
		_, _ = e.svc.Login(ctx, LoginInput{Connection: "db", Identifier: "count@example.com", Password: pw})
		n := db.Stats().Statements - before
		if n != 4 {
			t.Logf("statements:\n%s", strings.Join(sent, "\n"))
		}
		return n
	}
	if n := statements(goodPW); n != 4 {
		t.Fatalf("successful login: %d statements, want 4", n)
	}
	if n := statements("wrong"); n != 4 {
		t.Fatalf("wrong password: %d statements, want 4", n)
	}
	if n := statements(goodPW); n != 4 {
		t.Fatalf("successful login after a failure: %d statements, want 4", n)
	}
	if c := e.db.LoginAttempt.Query().CountX(sys); c != 0 {
		t.Fatalf("counters left after a correct password: %d", c)
	}
}
