package sessions

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func setup(t *testing.T) (*Manager, *ent.User, *time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, testenv.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := db.Ent.User.Create().SetUserID("auth0|s1").SaveX(authz.SystemContext(ctx))
	now := time.Now()
	return &Manager{DB: db.Ent, Now: func() time.Time { return now }}, u, &now
}

func login(t *testing.T, m *Manager, u *ent.User) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if _, err := m.Create(context.Background(), rec, httptest.NewRequest("POST", "/login", nil), Params{UserID: u.ID, AuthTime: m.now(), AMR: []string{"pwd"}}); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
		t.Fatalf("cookie attributes on an http issuer: %+v", c)
	}
	return c
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/authorize", nil)
	r.AddCookie(c)
	return r
}

func TestSessionLifecycle(t *testing.T) {
	m, u, now := setup(t)
	ctx := context.Background()
	c := login(t, m, u)
	s, err := m.Current(ctx, withCookie(c))
	if err != nil || s.UserRef != u.ID {
		t.Fatalf("Current = %v, %v", s, err)
	}
	// Stored as a hash, never as the cookie value.
	if s.TokenHash == c.Value {
		t.Fatal("token stored in clear")
	}
	// Unknown cookie.
	if _, err := m.Current(ctx, withCookie(&http.Cookie{Name: CookieName, Value: "forged"})); !errors.Is(err, ErrNoSession) {
		t.Fatal("forged cookie accepted")
	}
	// Idle expiry: 3 days without use.
	*now = now.Add(DefaultIdle + time.Minute)
	if _, err := m.Current(ctx, withCookie(c)); !errors.Is(err, ErrNoSession) {
		t.Fatal("idle session still valid")
	}
}

func TestActivityExtendsIdleButNotAbsolute(t *testing.T) {
	m, u, now := setup(t)
	ctx := context.Background()
	c := login(t, m, u)
	for range 3 { // used every two days: idle never expires…
		*now = now.Add(2 * 24 * time.Hour)
		if _, err := m.Current(ctx, withCookie(c)); err != nil {
			t.Fatalf("active session expired: %v", err)
		}
	}
	*now = now.Add(2 * 24 * time.Hour) // …but day 8 is past the absolute 7 days
	if _, err := m.Current(ctx, withCookie(c)); !errors.Is(err, ErrNoSession) {
		t.Fatal("session outlived its absolute lifetime")
	}
}

func TestRevocationAndBlocking(t *testing.T) {
	m, u, _ := setup(t)
	ctx := context.Background()
	c1, c2 := login(t, m, u), login(t, m, u)
	rec := httptest.NewRecorder()
	if _, err := m.End(ctx, rec, withCookie(c1)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Current(ctx, withCookie(c1)); !errors.Is(err, ErrNoSession) {
		t.Fatal("ended session still valid")
	}
	if _, err := m.Current(ctx, withCookie(c2)); err != nil {
		t.Fatal("ending one session ended another")
	}
	m.DB.User.UpdateOne(u).SetBlocked(true).ExecX(authz.SystemContext(ctx))
	if _, err := m.Current(ctx, withCookie(c2)); !errors.Is(err, ErrNoSession) {
		t.Fatal("blocked user's session still valid")
	}
	m.DB.User.UpdateOne(u).SetBlocked(false).ExecX(authz.SystemContext(ctx))
	if err := RevokeUser(ctx, m.DB, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Current(ctx, withCookie(c2)); !errors.Is(err, ErrNoSession) {
		t.Fatal("RevokeUser left a session alive")
	}
}

func TestSecureIssuerCookie(t *testing.T) {
	m, u, _ := setup(t)
	m.Secure = true
	rec := httptest.NewRecorder()
	if _, err := m.Create(context.Background(), rec, httptest.NewRequest("POST", "/login", nil), Params{UserID: u.ID, AuthTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if !c.Secure || c.SameSite != http.SameSiteNoneMode || !c.HttpOnly {
		t.Fatalf("https cookie must be Secure; SameSite=None; HttpOnly: %+v", c)
	}
}

func TestAddAMR(t *testing.T) {
	m, u, now := setup(t)
	ctx := context.Background()
	c := login(t, m, u)
	s, err := m.Current(ctx, withCookie(c))
	if err != nil {
		t.Fatal(err)
	}
	amr, err := m.AddAMR(ctx, s.ID, "otp", "mfa")
	if err != nil || len(amr) != 3 || amr[0] != "pwd" || amr[1] != "otp" || amr[2] != "mfa" {
		t.Fatalf("AddAMR = %v, %v", amr, err)
	}
	// Methods already there are not repeated; the session reads them back.
	if amr, err = m.AddAMR(ctx, s.ID, "mfa"); err != nil || len(amr) != 3 {
		t.Fatalf("AddAMR again = %v, %v", amr, err)
	}
	if s, err = m.Current(ctx, withCookie(c)); err != nil || len(s.Amr) != 3 || s.Amr[2] != "mfa" {
		t.Fatalf("stored amr %v, %v", s.Amr, err)
	}
	// An ended or expired session takes no factor.
	*now = now.Add(DefaultAbsolute + time.Minute)
	if _, err := m.AddAMR(ctx, s.ID, "otp"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("AddAMR on an expired session: %v", err)
	}
}
