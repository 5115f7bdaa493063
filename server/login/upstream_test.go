package login_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server/login"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/store"
)

// upstreamEnv is newEnv with the upstream service wired in and an LDAP
// connection "corp" on a real slapd.
func upstreamEnv(t *testing.T, dsn string) (*env, *testenv.SlapdServer) {
	t.Helper()
	slapd := testenv.StartSlapd(t, testenv.SlapdOptions{})
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New(secretbox.NewKey())
	conns := &connections.Service{Box: box}
	e := &env{t: t, db: db.Ent, op: newFakeOP(t, db.Ent)}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	issuer := e.srv.URL + "/"
	e.auth = &dbauth.Service{DB: db.Ent, Issuer: issuer, Logger: slog.New(slog.DiscardHandler), ResetFloor: 20 * time.Millisecond}
	up := &upstream.Service{DB: db.Ent, Connections: conns, Sealer: box, Logger: slog.New(slog.DiscardHandler)}
	h, err := login.New(login.Config{
		Issuer: issuer, DB: db.Ent, Handoff: e.op, Sessions: e.op.sessions, Auth: e.auth,
		Upstream: up, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	withIP := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		h.ServeHTTP(w, r.WithContext(logs.WithRequest(r.Context(), logs.Request{IP: host, UserAgent: r.UserAgent()})))
	})
	mux.Handle("/login", withIP)
	mux.Handle("/login/", withIP)
	t.Cleanup(func() { e.srv.Close(); db.Close() })

	e.conn("db", "database", nil)
	if _, err := conns.Create(sys, db.Ent, connections.CreateParams{Name: "corp", Strategy: "ldap", Options: map[string]any{
		"url": slapd.URL, "allow_insecure": true, "bind_dn": "cn=reader,ou=system," + slapd.Suffix, "bind_password": "reader-pw",
		"user_search_base": "ou=people," + slapd.Suffix, "user_search_filter": "(|(uid={username})(mail={username}))",
		"domain_aliases": []any{"example.org"},
	}}); err != nil {
		t.Fatal(err)
	}
	return e, slapd
}

func withCorp(r *loginflow.Request) {
	r.EnabledConnections = []loginflow.Connection{{Name: "db", Strategy: "database"}, {Name: "corp", Strategy: "ldap"}}
}

func TestLDAPLoginThroughPage(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e, slapd := upstreamEnv(t, b.dsn(t))
			b1 := browser()
			id := e.request(withCorp)
			page := e.get(b1, "/login?req="+id)
			if !strings.Contains(page.body, `name="federated" value="corp"`) {
				t.Fatalf("chooser lacks the LDAP connection:\n%s", page.body)
			}
			// The button leads to the same username/password form.
			r := e.submit(b1, page, url.Values{"federated": {"corp"}})
			if r.status != http.StatusSeeOther {
				t.Fatalf("federated corp: %d %s", r.status, r.body)
			}
			form := e.get(b1, r.header.Get("Location"))
			if !strings.Contains(form.body, `name="connection" value="corp"`) || !strings.Contains(form.body, `name="password"`) ||
				strings.Contains(form.body, "Sign up") {
				t.Fatalf("LDAP form:\n%s", form.body)
			}
			// Wrong password, unknown user and an injection: one answer.
			for _, u := range []string{"alice", "nobody", "*)(uid=*"} {
				r := e.submit(b1, form, url.Values{"username": {u}, "password": {"nope"}})
				if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong username or password.") {
					t.Fatalf("%s: %d\n%s", u, r.status, r.body)
				}
			}
			r = e.submit(b1, form, url.Values{"username": {"alice"}, "password": {"alice-pw"}})
			if r.status != http.StatusFound {
				t.Fatalf("login: %d\n%s", r.status, r.body)
			}
			l, _, ok := e.op.outcome(id)
			if !ok || l.Connection != "corp" || l.AMR[0] != "pwd" {
				t.Fatalf("outcome: %+v", l)
			}
			u, err := e.db.User.Get(sys, l.UserID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(u.UserID, "ad|corp|") || *u.Email != "alice@example.org" || !u.EmailVerified || *u.Name != "Alice Liddell" {
				t.Fatalf("user: %+v", u)
			}
			types := map[string]int{}
			for _, ev := range e.db.LogEvent.Query().Where(logevent.Connection("corp")).AllX(sys) {
				types[ev.Type]++
			}
			if types["s"] != 1 || types["fp"] != 1 || types["fu"] != 2 {
				t.Fatalf("log events: %v", types)
			}

			// Home-realm discovery: an example.org address typed in the
			// database form goes to the directory, and finds the same user.
			id2 := e.request(withCorp)
			b2 := browser()
			dbForm := e.get(b2, "/login?connection=db&req="+id2)
			r = e.submit(b2, dbForm, url.Values{"username": {"alice@example.org"}, "password": {"alice-pw"}})
			if r.status != http.StatusFound {
				t.Fatalf("HRD login: %d\n%s", r.status, r.body)
			}
			l2, _, _ := e.op.outcome(id2)
			if l2.UserID != l.UserID || l2.Connection != "corp" {
				t.Fatalf("HRD outcome: %+v", l2)
			}
			if n := e.db.Identity.Query().Where(identity.HasUserWith(user.ID(u.ID))).CountX(sys); n != 1 {
				t.Fatalf("identities: %d", n)
			}

			// Directory down: a clear error, nothing written.
			before := e.db.User.Query().CountX(sys)
			slapd.Stop()
			id3 := e.request(withCorp)
			b3 := browser()
			form3 := e.get(b3, "/login?connection=corp&req="+id3)
			r = e.submit(b3, form3, url.Values{"username": {"bob"}, "password": {"bob-pw"}})
			if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "connection unavailable") {
				t.Fatalf("directory down: %d\n%s", r.status, r.body)
			}
			if after := e.db.User.Query().CountX(sys); after != before {
				t.Fatalf("users written while the directory was down: %d -> %d", before, after)
			}
		})
	}
}

// TestLDAPBruteForce: LDAP logins are counted per (connection, username,
// IP) like database logins — 429 too_many_attempts once blocked, even with
// the right password, a limit_wc event, unblockUserAttempts lifts it;
// parallel attempts are counted before the directory is asked; an
// unreachable directory does not count; brute_force_protection false turns
// it off.
func TestLDAPBruteForce(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e, slapd := upstreamEnv(t, b.dsn(t))
			br := browser()
			id := e.request(withCorp)
			form := e.get(br, "/login?connection=corp&req="+id)
			for i := 1; i <= dbauth.DefaultMaxAttempts; i++ {
				if r := e.submit(br, form, url.Values{"username": {"Alice"}, "password": {"nope"}}); r.status != http.StatusUnauthorized {
					t.Fatalf("failure %d: %d\n%s", i, r.status, r.body)
				}
			}
			r := e.submit(br, form, url.Values{"username": {"alice"}, "password": {"alice-pw"}})
			if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "too_many_attempts") {
				t.Fatalf("11th attempt with the right password: %d\n%s", r.status, r.body)
			}
			if n := e.db.LogEvent.Query().Where(logevent.Connection("corp"), logevent.Type("limit_wc")).CountX(sys); n != 1 {
				t.Fatalf("limit_wc events: %d", n)
			}
			if n, err := e.auth.UnblockAttempts(sys, "ALICE"); err != nil || n != 1 {
				t.Fatalf("UnblockAttempts = %d, %v", n, err)
			}
			if r := e.submit(br, form, url.Values{"username": {"alice"}, "password": {"alice-pw"}}); r.status != http.StatusFound {
				t.Fatalf("after unblock: %d\n%s", r.status, r.body)
			}

			// 25 parallel wrong passwords: at most 10 reach the directory.
			br = browser() // without the session of the login above
			id2 := e.request(withCorp)
			form2 := e.get(br, "/login?connection=corp&req="+id2)
			fields := url.Values{"csrf_token": {csrfRE.FindStringSubmatch(form2.body)[1]}, "req": {id2}, "connection": {"corp"},
				"username": {"bob"}, "password": {"nope"}}
			statuses := make(chan int, 25)
			for range 25 {
				go func() {
					res, err := br.PostForm(e.srv.URL+"/login?req="+id2, fields)
					if err != nil {
						statuses <- 0
						return
					}
					res.Body.Close()
					statuses <- res.StatusCode
				}()
			}
			got := map[int]int{}
			for range 25 {
				got[<-statuses]++
			}
			fp := e.db.LogEvent.Query().Where(logevent.Connection("corp"), logevent.UserName("bob"), logevent.TypeIn("fp", "fu")).CountX(sys)
			if fp > dbauth.DefaultMaxAttempts || got[http.StatusUnauthorized] != fp || got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != 25 {
				t.Fatalf("parallel attempts: statuses %v, %d passwords checked; want at most %d checked, the rest 429", got, fp, dbauth.DefaultMaxAttempts)
			}

			// The directory down: no verdict on the password, not counted.
			slapd.Stop()
			for range 2 {
				if r := e.submit(br, form2, url.Values{"username": {"dave"}, "password": {"nope"}}); r.status != http.StatusServiceUnavailable {
					t.Fatalf("directory down: %d", r.status)
				}
			}
			if a, err := e.db.LoginAttempt.Query().Where(loginattempt.Identifier("dave")).Only(sys); err != nil || a.Failures != 0 {
				t.Fatalf("attempts counted while the directory was down: %+v, %v", a, err)
			}

			// brute_force_protection false: never counted.
			if _, err := e.db.Connection.Update().Where(connection.Name("corp")).
				SetOptions(map[string]any{"url": slapd.URL, "allow_insecure": true, "bind_dn": "cn=reader,ou=system," + slapd.Suffix,
					"user_search_base": "ou=people," + slapd.Suffix, "user_search_filter": "(uid={username})", "brute_force_protection": false}).
				Save(sys); err != nil {
				t.Fatal(err)
			}
			before := e.db.LoginAttempt.Query().CountX(sys)
			for range 3 {
				e.submit(br, form2, url.Values{"username": {"carol"}, "password": {"nope"}})
			}
			if after := e.db.LoginAttempt.Query().CountX(sys); after != before {
				t.Fatalf("counted with brute_force_protection false: %d -> %d", before, after)
			}
		})
	}
}
