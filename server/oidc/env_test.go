package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backend is a database the suite runs on.
type backend struct {
	name string
	dsn  func(t testing.TB) string
}

// backends are SQLite and Postgres (testenv finds or starts a server; it
// skips outside CI when it cannot, and fails under CI).
func backends() []backend {
	return []backend{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}}
}

var migrateMu sync.Mutex

// testConnection is the connection of the test logins and sessions.
const testConnection = "Username-Password-Authentication"

// env is a running provider on a real HTTP server and database.
type env struct {
	t        testing.TB
	ctx      context.Context
	db       *store.DB
	keys     *KeySet
	box      *secretbox.Box
	provider *Provider
	srv      *httptest.Server
	issuer   string
	tokenURL string
	sessions *sessions.Manager
	// hook is the ClaimsHook tests install (atomic.Value of ClaimsHook).
	hook atomic.Value
	// logins records the loginflow.Request of each login page visit.
	mu     sync.Mutex
	logins []*loginflow.Request
}

// newEnv starts a provider whose issuer is the test server's root, or
// pathPrefix under it ("auth/").
func newEnv(t testing.TB, dsn, pathPrefix string) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// ent's schema migration mutates package-level table descriptors, so
	// two migrations in one process race (go test -race): serialise them.
	migrateMu.Lock()
	_, err = db.Migrate(ctx)
	migrateMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	// The database connection the stand-in login page signs users in
	// through (flow_env_test.go); clients created later are enabled on it.
	if err := db.Ent.Connection.Create().SetName(testConnection).SetStrategy(connection.StrategyDatabase).
		Exec(authz.SystemContext(ctx)); err != nil {
		t.Fatal(err)
	}
	keys := NewKeySet(db.Ent, box)
	if err := db.WithLock(ctx, keys.Ensure); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String() + "/" + pathPrefix
	e := &env{t: t, ctx: ctx, db: db, keys: keys, box: box, srv: srv, issuer: issuer}
	e.sessions = &sessions.Manager{DB: db.Ent, Path: "/" + pathPrefix}
	cfg := Config{Issuer: issuer, DB: db.Ent, Keys: keys, AllowInsecure: true, Sessions: e.sessions,
		Claims: func(ctx context.Context, ev *ClaimsEvent) (*CustomClaims, error) {
			if h, _ := e.hook.Load().(ClaimsHook); h != nil {
				return h(ctx, ev)
			}
			return nil, nil
		}}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.provider, e.tokenURL = p, p.URL(TokenPath)
	mux := http.NewServeMux()
	for _, path := range p.Paths() {
		mux.Handle(path, p)
	}
	mux.HandleFunc("/"+pathPrefix+"login", e.fakeLogin)
	mux.HandleFunc("/"+pathPrefix+"login/mfa", e.fakeMFA)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

// client registers a client as the system.
func (e *env) client(typ string, scopes ...string) *clients.Created {
	e.t.Helper()
	c, err := clients.Create(authz.SystemContext(e.ctx), e.db.Ent, clients.Params{Name: "test " + typ, Type: typ, Scopes: scopes})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// setGrantTypes replaces a client's grant types.
func (e *env) setGrantTypes(app *ent.Application, grants ...string) {
	e.t.Helper()
	if err := e.db.Ent.Application.UpdateOne(app).SetGrantTypes(grants).Exec(authz.SystemContext(e.ctx)); err != nil {
		e.t.Fatal(err)
	}
}

// tokenResponse is a raw token endpoint answer.
type tokenResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r tokenResponse) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("token response %d is not JSON: %s", r.status, r.body)
	}
	return m
}

func (r tokenResponse) errorCode(t testing.TB) string {
	t.Helper()
	code, _ := r.json(t)["error"].(string)
	return code
}

// post sends a token request: form in the body, Basic credentials when
// basicID is non-empty.
func (e *env) post(form url.Values, basicID, basicSecret string) tokenResponse {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return tokenResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// ccForm is a client_credentials form with client_secret_post credentials.
func ccForm(id, secret string, kv ...string) url.Values {
	f := url.Values{"grant_type": {"client_credentials"}}
	if id != "" {
		f.Set("client_id", id)
		f.Set("client_secret", secret)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact token (%d parts)", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
