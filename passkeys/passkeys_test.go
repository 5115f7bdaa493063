package passkeys_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/internal/webauthntest"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/passkeys"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var sys = authz.SystemContext(context.Background())

const (
	issuer = "https://id.example.test:8443/"
	origin = "https://id.example.test:8443"
	rpID   = "id.example.test"
)

type env struct {
	t    *testing.T
	db   *ent.Client
	mfa  *mfa.Service
	svc  *passkeys.Service
	user *ent.User
}

func forEach(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		t.Run(b.name, func(t *testing.T) { fn(t, newEnv(t, b.dsn(t))) })
	}
}

func newEnv(t *testing.T, dsn string) *env {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	m, err := mfa.New(mfa.Config{DB: db.Ent, Box: box, Mail: &mail.LogSender{Logger: logger}, Issuer: issuer, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := passkeys.New(passkeys.Config{DB: db.Ent, MFA: m, Box: box, Issuer: issuer, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.Ent.User.Create().SetUserID("auth0|alice").SetEmail("alice@example.test").Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db.Ent, mfa: m, svc: svc, user: u}
	e.settings(mfa.PolicyAlways, mfa.FactorWebAuthn, mfa.FactorRecoveryCode)
	return e
}

func (e *env) settings(p mfa.Policy, f ...mfa.Factor) {
	if _, err := e.mfa.UpdateSettings(context.Background(), mfa.Settings{Policy: p, Factors: f}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) logs(typ string) int {
	n, err := e.db.LogEvent.Query().Where(logevent.Type(typ)).Count(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// register registers k for the user under binding.
func (e *env) register(k *webauthntest.Key, binding string, passkey bool) *passkeys.Registered {
	e.t.Helper()
	ctx := context.Background()
	c, err := e.svc.BeginRegistration(ctx, e.user.ID, binding, passkey)
	if err != nil {
		e.t.Fatal(err)
	}
	reg, err := e.svc.FinishRegistration(ctx, e.user.ID, binding, c.State, k.Create(c.Options), mfa.LoginContext{})
	if err != nil {
		e.t.Fatal(err)
	}
	return reg
}

func TestNewNeedsADomain(t *testing.T) {
	box, _ := secretbox.New(secretbox.NewKey())
	logger := slog.New(slog.DiscardHandler)
	m, err := mfa.New(mfa.Config{DB: &ent.Client{}, Box: box, Mail: &mail.LogSender{Logger: logger}, Issuer: "http://127.0.0.1:8080/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := passkeys.New(passkeys.Config{DB: &ent.Client{}, MFA: m, Box: box, Issuer: "http://127.0.0.1:8080/"}); err == nil {
		t.Fatal("an IP address was accepted as RP ID")
	}
	s, err := passkeys.New(passkeys.Config{DB: &ent.Client{}, MFA: m, Box: box, Issuer: "http://localhost:8080/"})
	if err != nil || s.RPID() != "localhost" {
		t.Fatalf("localhost: %v", err)
	}
}

// A security key is registered, then answers second-factor challenges;
// its answer works once, and a credential whose sign count goes back is
// refused and left as it was.
func TestSecurityKey(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if ok, _ := e.mfa.Enrolled(ctx, e.user.ID); ok {
			t.Fatal("enrolled before registering")
		}
		k := webauthntest.New(t, origin, rpID)
		reg := e.register(k, "req-1", false)
		if reg.Name != passkeys.NameSecurityKey || reg.Passkey {
			t.Fatalf("registered %+v", reg)
		}
		row, err := e.db.Authenticator.Get(sys, pulid.ID(reg.AuthenticatorID))
		if err != nil || row.Type != authenticator.TypeWebauthn || !row.Confirmed || string(*row.CredentialID) != string(k.CredID) ||
			!slices.Equal(row.Transports, []string{"usb"}) || len(*row.Aaguid) != 16 {
			t.Fatalf("row %+v, %v", row, err)
		}
		if ok, err := e.mfa.Enrolled(ctx, e.user.ID); !ok || err != nil {
			t.Fatalf("Enrolled = %v, %v", ok, err)
		}
		// Users name their keys.
		if err := e.mfa.Rename(ctx, e.user.ID, reg.AuthenticatorID, "  Blue key "); err != nil {
			t.Fatal(err)
		}
		if as, _ := e.mfa.Authenticators(ctx, e.user.ID); len(as) != 1 || as[0].Name != "Blue key" || as[0].Type != mfa.FactorWebAuthn {
			t.Fatalf("after rename: %+v", as)
		}
		if err := e.mfa.Rename(ctx, e.user.ID, "mfa_nope", "x"); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("rename unknown = %v", err)
		}
		if e.logs("gd_enrollment_complete") != 1 {
			t.Error("no gd_enrollment_complete")
		}
		// The same answer again: the credential is registered already.
		c, _ := e.svc.BeginRegistration(ctx, e.user.ID, "req-1", false)
		again := k.Create(c.Options)
		if _, err := e.svc.FinishRegistration(ctx, e.user.ID, "req-1", c.State, again, mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCeremony) {
			t.Fatalf("registering twice = %v", err)
		}

		// A challenge.
		c, err = e.svc.BeginMFA(ctx, e.user.ID, "req-2")
		if err != nil {
			t.Fatal(err)
		}
		answer := k.Get(c.Options)
		// Another binding does not open the state.
		if _, err := e.svc.FinishMFA(ctx, e.user.ID, "req-3", c.State, answer, mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCeremony) {
			t.Fatalf("other binding = %v", err)
		}
		res, err := e.svc.FinishMFA(ctx, e.user.ID, "req-2", c.State, answer, mfa.LoginContext{})
		if err != nil || !slices.Equal(res.AMR, []string{"hwk"}) || res.UserID != e.user.ID || res.AuthenticatorID != string(row.ID) {
			t.Fatalf("FinishMFA = %+v, %v", res, err)
		}
		// Replayed: refused (its count is not above the stored one).
		if _, err := e.svc.FinishMFA(ctx, e.user.ID, "req-2", c.State, answer, mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCloned) {
			t.Fatalf("replay = %v", err)
		}
		row, _ = e.db.Authenticator.Get(sys, row.ID)
		if row.SignCount != 1 || row.LastUsedAt == nil {
			t.Fatalf("after use: count %d, last used %v", row.SignCount, row.LastUsedAt)
		}

		// A clone: its count is behind the stored one.
		if err := e.db.Authenticator.UpdateOne(row).SetSignCount(50).Exec(sys); err != nil {
			t.Fatal(err)
		}
		c, _ = e.svc.BeginMFA(ctx, e.user.ID, "req-4")
		if _, err := e.svc.FinishMFA(ctx, e.user.ID, "req-4", c.State, k.Get(c.Options), mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCloned) {
			t.Fatalf("clone = %v", err)
		}
		if e.logs(passkeys.TypeCloneDetected) != 2 {
			t.Error("no clone event")
		}
		if row, _ = e.db.Authenticator.Get(sys, row.ID); row.SignCount != 50 {
			t.Fatalf("count updated to %d", row.SignCount)
		}
		// Equal counts are a clone too; a higher one passes.
		c, _ = e.svc.BeginMFA(ctx, e.user.ID, "req-5")
		if _, err := e.svc.FinishMFA(ctx, e.user.ID, "req-5", c.State, k.GetAt(c.Options, 50), mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCloned) {
			t.Fatalf("equal count = %v", err)
		}
		c, _ = e.svc.BeginMFA(ctx, e.user.ID, "req-6")
		if _, err := e.svc.FinishMFA(ctx, e.user.ID, "req-6", c.State, k.GetAt(c.Options, 51), mfa.LoginContext{}); err != nil {
			t.Fatalf("higher count = %v", err)
		}

		// Turned off: nothing begins.
		e.settings(mfa.PolicyNever, mfa.FactorTOTP)
		if _, err := e.svc.BeginMFA(ctx, e.user.ID, "req-7"); !errors.Is(err, passkeys.ErrUnavailable) {
			t.Fatalf("disabled = %v", err)
		}
		if ok, _ := e.mfa.Enrolled(ctx, e.user.ID); ok {
			t.Fatal("a disabled factor counts as enrolled")
		}
	})
}

// A passkey signs in without naming the user; a synced one (backup
// eligible) is a software key; a blocked user is refused.
func TestPasskeyLogin(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		k := webauthntest.New(t, origin, rpID)
		k.UV, k.BE = true, true
		if reg := e.register(k, "req-1", true); !reg.Passkey || reg.Name != passkeys.NamePasskey {
			t.Fatalf("registered %+v", reg)
		}
		c, err := e.svc.BeginLogin(ctx, "req-2")
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.FinishLogin(ctx, "req-2", c.State, k.Get(c.Options), mfa.LoginContext{})
		if err != nil || res.UserID != e.user.ID || !res.UserVerified || !slices.Equal(res.AMR, []string{"swk", "user"}) {
			t.Fatalf("FinishLogin = %+v, %v", res, err)
		}
		// An authenticator without a counter (always 0): a replayed answer
		// is refused all the same, the credential having been used since
		// its ceremony began.
		z := webauthntest.New(t, origin, rpID)
		z.UV = true
		e.register(z, "req-z", true)
		c, _ = e.svc.BeginLogin(ctx, "req-z")
		answer := z.GetAt(c.Options, 0)
		if res, err := e.svc.FinishLogin(ctx, "req-z", c.State, answer, mfa.LoginContext{}); err != nil || !slices.Equal(res.AMR, []string{"hwk", "user"}) {
			t.Fatalf("zero counter = %+v, %v", res, err)
		}
		if _, err := e.svc.FinishLogin(ctx, "req-z", c.State, answer, mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCeremony) {
			t.Fatalf("replay = %v", err)
		}
		// A second-factor state does not sign anyone in.
		m, _ := e.svc.BeginMFA(ctx, e.user.ID, "req-3")
		if _, err := e.svc.FinishLogin(ctx, "req-3", m.State, k.Get(m.Options), mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCeremony) {
			t.Fatalf("mfa state for a login = %v", err)
		}
		// Without user verification: refused.
		k.UV = false
		c, _ = e.svc.BeginLogin(ctx, "req-4")
		if _, err := e.svc.FinishLogin(ctx, "req-4", c.State, k.Get(c.Options), mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCeremony) {
			t.Fatalf("no UV = %v", err)
		}
		k.UV = true
		if err := e.db.User.UpdateOne(e.user).SetBlocked(true).Exec(sys); err != nil {
			t.Fatal(err)
		}
		// A blocked user's passkey still verifies: the login is refused
		// when it is decided (authn.Finalize), with the user as read here.
		c, _ = e.svc.BeginLogin(ctx, "req-5")
		if res, err := e.svc.FinishLogin(ctx, "req-5", c.State, k.Get(c.Options), mfa.LoginContext{}); err != nil || res.User == nil || !res.User.Blocked {
			t.Fatalf("blocked = %+v, %v", res, err)
		}
		// An unknown credential.
		other := webauthntest.New(t, origin, rpID)
		other.UV, other.Handle = true, []byte(e.user.ID)
		c, _ = e.svc.BeginLogin(ctx, "req-6")
		if _, err := e.svc.FinishLogin(ctx, "req-6", c.State, other.Get(c.Options), mfa.LoginContext{}); !errors.Is(err, passkeys.ErrCeremony) {
			t.Fatalf("unknown credential = %v", err)
		}
	})
}
