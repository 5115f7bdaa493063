package dbauth

import (
	"errors"
	"slices"
	"testing"

	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/passwords"
)

// TestBusyCountsNoFailure: while the password limiter is full, logins of a
// known user (right or wrong password), of an unknown user and without a
// password all fail with ErrBusy alike; none counts toward brute-force
// protection or writes a failure event, so more busy answers than the
// threshold block nothing. Signups and password changes are refused as
// busy too, writing nothing.
func TestBusyCountsNoFailure(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", map[string]any{"passwordPolicy": "low", "password_history": map[string]any{"enable": true, "size": 3}})
		u := e.user("db", "busy@example.com", goodPW)
		before := len(e.logTypes())
		lim := passwords.NewLimiter(1, 0)
		e.svc.Passwords = lim
		release, err := lim.Reserve(sys)
		if err != nil {
			t.Fatal(err)
		}
		ctx := ipCtx("203.0.113.70")
		for i := range 2 * DefaultMaxAttempts {
			for _, in := range []LoginInput{
				{Identifier: "busy@example.com", Password: "wrong"},
				{Identifier: "busy@example.com", Password: goodPW},
				{Identifier: "ghost@example.com", Password: "wrong"},
				{Identifier: "busy@example.com"},
			} {
				in.Connection = "db"
				if _, err := e.login(ctx, in); !errors.Is(err, ErrBusy) || errors.Is(err, ErrInvalidCredentials) {
					t.Fatalf("attempt %d of %q/%q: %v, want ErrBusy", i, in.Identifier, in.Password, err)
				}
			}
		}
		if _, err := e.svc.Signup(ctx, SignupInput{Connection: "db", Email: "new@example.com", Password: "An0ther-Passw0rd"}); !errors.Is(err, ErrBusy) {
			t.Fatalf("signup: %v, want ErrBusy", err)
		}
		if e.db.User.Query().Where(user.Email("new@example.com")).ExistX(sys) {
			t.Fatal("a busy signup created the user")
		}
		hashBefore := *e.db.Identity.Query().Where(identity.OwnerID(u.ID)).OnlyX(sys).PasswordHash
		if err := e.svc.ChangePassword(sys, e.db, u, "N3w-Passw0rd!"); !errors.Is(err, ErrBusy) {
			t.Fatalf("password change: %v, want ErrBusy", err)
		}
		if h := *e.db.Identity.Query().Where(identity.OwnerID(u.ID)).OnlyX(sys).PasswordHash; h != hashBefore {
			t.Fatal("a busy password change changed the hash")
		}
		if evs := e.logTypes()[before:]; len(evs) != 0 {
			t.Fatalf("busy answers logged %v", evs)
		}
		for _, a := range e.db.LoginAttempt.Query().AllX(sys) {
			if a.Failures != 0 || a.BlockedUntil != nil {
				t.Fatalf("busy answers counted: %+v", a)
			}
		}

		release()
		if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: "busy@example.com", Password: goodPW}); err != nil {
			t.Fatalf("login after the storm: %v", err)
		}
		if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: "ghost@example.com", Password: "x"}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("unknown user after the storm: %v", err)
		}
		if a := e.db.LoginAttempt.Query().Where(loginattempt.Identifier("ghost@example.com")).OnlyX(sys); a.Failures != 1 {
			t.Fatalf("a real failure after the storm: %d failures, want 1", a.Failures)
		}
		if err := e.svc.ChangePassword(sys, e.db, u, "N3w-Passw0rd!"); err != nil {
			t.Fatalf("password change after the storm: %v", err)
		}
		if !slices.Contains(e.logTypes(), "scp") {
			t.Fatal("no scp")
		}
	})
}
