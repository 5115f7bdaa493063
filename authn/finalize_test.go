package authn_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authn/loginstore"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var sys = authz.SystemContext(context.Background())

// users loads users from the database, as the provider does.
type users struct{ db *ent.Client }

func (u users) User(ctx context.Context, id pulid.ID) (*ent.User, error) {
	user, err := u.db.User.Get(authz.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return user, err
}

// grants grants every requested scope but "api:admin", which needs the
// role "admin"; roles are the stored ones unless the rules changed them.
type grants struct {
	stored map[pulid.ID][]string
	calls  []string // "scopes:<user>" and "roles:<user>", in order
}

func (g *grants) RoleNames(_ context.Context, u *ent.User) ([]string, error) {
	g.calls = append(g.calls, "roles:"+string(u.ID))
	return g.stored[u.ID], nil
}

func (g *grants) Scopes(_ context.Context, req *authn.Request, u *ent.User, roles []string) ([]string, error) {
	g.calls = append(g.calls, "scopes:"+string(u.ID))
	if req.Audience == "https://gone.example.test/" {
		return nil, authn.ErrUnknownAudience
	}
	if roles == nil {
		roles = g.stored[u.ID]
	}
	var out []string
	for _, s := range req.Scopes {
		if s != "api:admin" || slices.Contains(roles, "admin") {
			out = append(out, s)
		}
	}
	return out, nil
}

// rules is the rules engine's hook.
type rules func(ctx context.Context, ev *authn.ClaimsEvent) (*authn.CustomClaims, error)

func (r rules) Login(ctx context.Context, ev *authn.ClaimsEvent) (*authn.CustomClaims, error) {
	return r(ctx, ev)
}

type env struct {
	t      *testing.T
	db     *ent.Client
	mfa    *mfa.Service
	grants *grants
	rules  rules
	f      *authn.Finalizer
	alice  *ent.User
	now    time.Time
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
	quiet := slog.New(slog.DiscardHandler)
	e := &env{t: t, db: db.Ent, grants: &grants{stored: map[pulid.ID][]string{}}, now: time.Unix(1_800_000_000, 0)}
	if e.mfa, err = mfa.New(mfa.Config{DB: db.Ent, Box: box, Mail: &mail.LogSender{Logger: quiet},
		Issuer: "https://id.example.test/", Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if e.f, err = authn.New(authn.Deps{
		Users: users{db: db.Ent}, Grants: e.grants, MFA: e.mfa, Logger: quiet, Now: func() time.Time { return e.now },
		Store: loginstore.New(db.Ent), Sessions: &sessions.Manager{DB: db.Ent, Now: func() time.Time { return e.now }},
		Rules: rules(func(ctx context.Context, ev *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			if e.rules == nil {
				return &authn.CustomClaims{}, nil
			}
			return e.rules(ctx, ev)
		}),
	}); err != nil {
		t.Fatal(err)
	}
	e.alice = e.user("alice")
	return e
}

func (e *env) user(name string) *ent.User {
	e.t.Helper()
	u, err := e.db.User.Create().SetUserID("auth0|" + name).SetEmail(name + "@example.test").Save(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) request() *authn.Request {
	return &authn.Request{
		Client:             &ent.Application{ClientID: "app"},
		EnabledConnections: []string{"db", "corp"},
		Scopes:             []string{"openid", "api:read", "api:admin"},
		Audience:           "https://api.example.test/",
		RedirectURI:        "https://app.example.test/cb",
	}
}

func (e *env) login(u *ent.User) authn.Authenticated {
	return authn.Authenticated{UserID: u.ID, SessionID: "ses_1", Connection: "db", AMR: []string{"pwd"}}
}

func (e *env) finalize(req *authn.Request, who authn.Authenticated) authn.Result {
	e.t.Helper()
	res, err := e.f.Finalize(context.Background(), req, who)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func wantDenied(t *testing.T, res authn.Result, code, desc string) {
	t.Helper()
	if res.Outcome != authn.Denied || res.Error != code || !strings.Contains(res.Description, desc) {
		t.Fatalf("got %+v, want denied %s (%s)", res, code, desc)
	}
}

func (e *env) policy(p mfa.Policy) {
	e.t.Helper()
	st := mfa.DefaultSettings()
	st.Policy = p
	if _, err := e.mfa.UpdateSettings(context.Background(), st); err != nil {
		e.t.Fatal(err)
	}
}

func TestFinalizeIssues(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		var seen *authn.ClaimsEvent
		e.rules = func(_ context.Context, ev *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			seen = ev
			return &authn.CustomClaims{IDToken: map[string]any{"https://x/c": 1}}, nil
		}
		res := e.finalize(e.request(), e.login(e.alice))
		if res.Outcome != authn.Issue || res.User.ID != e.alice.ID || !res.AuthTime.Equal(e.now) ||
			!slices.Equal(res.Scopes, []string{"openid", "api:read"}) || res.IDClaims["https://x/c"] != 1 {
			t.Fatalf("result %+v", res)
		}
		if seen == nil || seen.User.ID != e.alice.ID || seen.Connection != "db" || seen.Protocol != authn.ProtocolOIDCBasicProfile ||
			!slices.Equal(seen.Scopes, res.Scopes) || seen.Audience != "https://api.example.test/" {
			t.Fatalf("rules saw %+v", seen)
		}
		// An unknown user is refused without saying more.
		wantDenied(t, e.finalize(e.request(), authn.Authenticated{UserID: "usr_gone", Connection: "db"}), "access_denied", "unknown user")
		// An audience deleted since the request was made.
		req := e.request()
		req.Audience = "https://gone.example.test/"
		wantDenied(t, e.finalize(req, e.login(e.alice)), "invalid_target", "unknown audience")
	})
}

// The checks come in the documented order: a blocked user is refused before
// the connection, the connection before id_token_hint and the rules, which
// never run for a refused login.
func TestFinalizeOrder(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ran := false
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			ran = true
			return &authn.CustomClaims{}, nil
		}
		blocked := e.db.User.UpdateOne(e.alice).SetBlocked(true).SaveX(sys)
		who := e.login(blocked)
		who.Connection = "elsewhere"
		req := e.request()
		req.IDTokenHintSubject = "auth0|bob"
		wantDenied(t, e.finalize(req, who), "unauthorized", "user is blocked")

		bob := e.user("bob")
		who = e.login(bob)
		who.Connection = "elsewhere"
		req.IDTokenHintSubject = "auth0|carol"
		wantDenied(t, e.finalize(req, who), "access_denied", "connection is not enabled")
		// connection= names another enabled connection.
		req.Connection = "corp"
		wantDenied(t, e.finalize(req, e.login(bob)), "access_denied", "connection is not enabled")
		// A session of unknown origin.
		req.Connection = ""
		who = e.login(bob)
		who.Connection = ""
		wantDenied(t, e.finalize(req, who), "access_denied", "connection is not enabled")

		wantDenied(t, e.finalize(req, e.login(bob)), "login_required", "id_token_hint")
		if ran || len(e.grants.calls) != 0 {
			t.Fatalf("rules ran (%v) or scopes decided (%v) for a refused login", ran, e.grants.calls)
		}
		req.IDTokenHintSubject = "auth0|bob"
		if res := e.finalize(req, e.login(bob)); res.Outcome != authn.Issue || !ran {
			t.Fatalf("result %+v, rules ran %v", res, ran)
		}
	})
}

func TestFinalizeRules(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return nil, &authn.DenyError{Reason: "not today"}
		}
		wantDenied(t, e.finalize(e.request(), e.login(e.alice)), "access_denied", "not today")

		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return nil, errors.New("rule crashed")
		}
		if _, err := e.f.Finalize(context.Background(), e.request(), e.login(e.alice)); err == nil {
			t.Fatal("a failing rule must be a server error")
		}

		// Link: the login continues as the primary, whose own roles (changed
		// by the rules) decide the scopes.
		primary := e.user("primary")
		e.grants.stored[e.alice.ID] = []string{"admin"}
		e.grants.stored[primary.ID] = []string{"viewer"}
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return &authn.CustomClaims{Primary: primary, Roles: &authn.RolesChange{Add: []string{"admin"}, Remove: []string{"viewer"}}}, nil
		}
		res := e.finalize(e.request(), e.login(e.alice))
		if res.Outcome != authn.Issue || res.User.ID != primary.ID || !slices.Contains(res.Scopes, "api:admin") ||
			res.Roles == nil {
			t.Fatalf("linked result %+v", res)
		}
		if want := "roles:" + string(primary.ID); !slices.Contains(e.grants.calls, want) {
			t.Fatalf("the roles change must apply to the primary's roles: %v", e.grants.calls)
		}
		// Without a roles change the primary's own roles apply.
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return &authn.CustomClaims{Primary: primary}, nil
		}
		if res := e.finalize(e.request(), e.login(e.alice)); res.User.ID != primary.ID || slices.Contains(res.Scopes, "api:admin") {
			t.Fatalf("linked result %+v", res)
		}
		// A blocked primary is refused.
		e.db.User.UpdateOne(primary).SetBlocked(true).ExecX(sys)
		primary.Blocked = true
		wantDenied(t, e.finalize(e.request(), e.login(e.alice)), "unauthorized", "user is blocked")
	})
}

func TestFinalizeMFA(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// No policy, no rule: issued.
		if res := e.finalize(e.request(), e.login(e.alice)); res.Outcome != authn.Issue {
			t.Fatalf("result %+v", res)
		}
		// A rule requires a factor: needed, not linked yet.
		primary := e.user("primary")
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return &authn.CustomClaims{RequireMFA: true, Primary: primary}, nil
		}
		if res := e.finalize(e.request(), e.login(e.alice)); res.Outcome != authn.NeedMFA || res.User.ID != e.alice.ID {
			t.Fatalf("rule's require_mfa: %+v", res)
		}
		// Passed in the session: issued, as the primary.
		who := e.login(e.alice)
		who.AMR = []string{"pwd", "otp", "mfa"}
		if res := e.finalize(e.request(), who); res.Outcome != authn.Issue || res.User.ID != primary.ID {
			t.Fatalf("factor passed: %+v", res)
		}
		e.rules = nil

		// The tenant's policy.
		e.policy(mfa.PolicyAlways)
		if res := e.finalize(e.request(), e.login(e.alice)); res.Outcome != authn.NeedMFA {
			t.Fatalf("policy always: %+v", res)
		}
		req := e.request()
		req.PromptNone = true
		wantDenied(t, e.finalize(req, e.login(e.alice)), "interaction_required", "second factor")
		noSession := e.login(e.alice)
		noSession.SessionID = ""
		wantDenied(t, e.finalize(e.request(), noSession), "access_denied", "second factor")

		// A remembered browser skips it (while the tenant offers the
		// option), unless acr_values asks for a factor.
		st := mfa.DefaultSettings()
		st.Policy, st.RememberBrowserDays = mfa.PolicyAlways, 30
		if _, err := e.mfa.UpdateSettings(ctx, st); err != nil {
			t.Fatal(err)
		}
		value, err := e.mfa.RememberBrowser(ctx, e.alice.ID, 30)
		if err != nil {
			t.Fatal(err)
		}
		req = e.request()
		req.RememberBrowser = value
		if res := e.finalize(req, e.login(e.alice)); res.Outcome != authn.Issue {
			t.Fatalf("remembered browser: %+v", res)
		}
		bob := e.user("bob")
		if res := e.finalize(req, e.login(bob)); res.Outcome != authn.NeedMFA {
			t.Fatalf("another user's remember cookie: %+v", res)
		}
		req.ACRValues = []string{authn.MultiFactorACR}
		if res := e.finalize(req, e.login(e.alice)); res.Outcome != authn.NeedMFA {
			t.Fatalf("acr_values with a remembered browser: %+v", res)
		}

		// Opt-in: only users with a factor.
		e.policy(mfa.PolicyOptIn)
		if res := e.finalize(e.request(), e.login(e.alice)); res.Outcome != authn.Issue {
			t.Fatalf("opt-in, not enrolled: %+v", res)
		}
	})
}

// A factor the policy asks for is passed before any rule runs: rules may
// store metadata or link accounts, which the password alone must not cause.
func TestFinalizeMFABeforeRules(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		runs := 0
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			runs++
			return &authn.CustomClaims{}, nil
		}
		e.policy(mfa.PolicyAlways)
		if res := e.finalize(e.request(), e.login(e.alice)); res.Outcome != authn.NeedMFA {
			t.Fatalf("policy always: %+v", res)
		}
		req := e.request()
		req.ACRValues = []string{authn.MultiFactorACR}
		e.policy(mfa.PolicyNever)
		if res := e.finalize(req, e.login(e.alice)); res.Outcome != authn.NeedMFA {
			t.Fatalf("acr_values: %+v", res)
		}
		if runs != 0 {
			t.Fatalf("the rules ran %d times before the factor", runs)
		}
		who := e.login(e.alice)
		who.AMR = []string{"pwd", "otp", "mfa"}
		if res := e.finalize(req, who); res.Outcome != authn.Issue || runs != 1 {
			t.Fatalf("after the factor: %+v, %d runs", res, runs)
		}

		// A rule's require_mfa is not satisfied by a remembered browser: the
		// rules held their effects back and must run again after a factor.
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return &authn.CustomClaims{RequireMFA: true}, nil
		}
		st := mfa.DefaultSettings()
		st.RememberBrowserDays = 30
		if _, err := e.mfa.UpdateSettings(ctx, st); err != nil {
			t.Fatal(err)
		}
		value, err := e.mfa.RememberBrowser(ctx, e.alice.ID, 30)
		if err != nil {
			t.Fatal(err)
		}
		req = e.request()
		req.RememberBrowser = value
		if res := e.finalize(req, e.login(e.alice)); res.Outcome != authn.NeedMFA {
			t.Fatalf("rule's require_mfa with a remembered browser: %+v", res)
		}
	})
}

// After a rule links the login to a primary, the primary's own standing
// decides: under opt-in, an enrolled primary is not reached through a
// secondary identity without a factor.
func TestFinalizeMFAOfLinkedPrimary(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		st := mfa.DefaultSettings()
		st.Policy = mfa.PolicyOptIn
		if _, err := e.mfa.UpdateSettings(ctx, st); err != nil {
			t.Fatal(err)
		}
		primary := e.user("primary")
		enr, err := e.mfa.StartTOTP(ctx, primary.ID, "primary@example.test")
		if err != nil {
			t.Fatal(err)
		}
		code, err := totp.GenerateCode(enr.Secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.mfa.ConfirmTOTP(ctx, primary.ID, enr.AuthenticatorID, code, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return &authn.CustomClaims{Primary: primary}, nil
		}
		wantDenied(t, e.finalize(e.request(), e.login(e.alice)), "login_required", "second factor")
		req := e.request()
		req.PromptNone = true
		wantDenied(t, e.finalize(req, e.login(e.alice)), "interaction_required", "second factor")
		who := e.login(e.alice)
		who.AMR = []string{"pwd", "otp", "mfa"}
		if res := e.finalize(e.request(), who); res.Outcome != authn.Issue || res.User.ID != primary.ID {
			t.Fatalf("with a factor: %+v", res)
		}
	})
}
