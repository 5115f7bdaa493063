package dbauth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/passwords"
	"golang.org/x/crypto/bcrypt"
)

const goodPW = "Corr3ct-Horse"

func TestLoginSuccessWrongPasswordUnknownUser(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", map[string]any{"passwordPolicy": "good"})
		u := e.user("db", "Ann@Example.com", goodPW)
		dummy := countDummy(t)
		ctx := ipCtx("203.0.113.7")

		res, err := e.login(ctx, LoginInput{Connection: "db", Identifier: " ANN@example.COM ", Password: goodPW, ClientID: "cli_1"})
		if err != nil {
			t.Fatal(err)
		}
		if res.User.ID != u.ID || res.User.LoginsCount != 1 || res.User.LastIP == nil || *res.User.LastIP != "203.0.113.7" || res.User.LastLogin == nil {
			t.Fatalf("login bookkeeping: %+v", res.User)
		}
		if ev := e.lastLog("s"); ev.UserID != u.UserID || ev.Connection != "db" || ev.ClientID != "cli_1" || ev.IP != "203.0.113.7" {
			t.Fatalf("s event: %+v", ev)
		}

		_, errWrong := e.login(ctx, LoginInput{Connection: "db", Identifier: "ann@example.com", Password: "nope"})
		_, errUnknown := e.login(ctx, LoginInput{Connection: "db", Identifier: "bob@example.com", Password: "nope"})
		if !errors.Is(errWrong, ErrInvalidCredentials) || !errors.Is(errUnknown, ErrInvalidCredentials) || errWrong.Error() != errUnknown.Error() {
			t.Fatalf("wrong password %v, unknown user %v: want the same ErrInvalidCredentials", errWrong, errUnknown)
		}
		if e.lastLog("fp").UserID != u.UserID || e.lastLog("fu").UserID != "" {
			t.Fatal("fp/fu events")
		}
		if got := dummy.Load(); got != 1 {
			t.Fatalf("dummy verifications: %d, want 1 (the unknown user only)", got)
		}
		if e.reload(u).LoginsCount != 1 {
			t.Fatal("a failed login bumped logins_count")
		}
		if _, err := e.login(ctx, LoginInput{Connection: "nope", Identifier: "ann@example.com", Password: goodPW}); !errors.Is(err, ErrUnknownConnection) {
			t.Fatalf("unknown connection: %v", err)
		}
	})
}

// TestUnknownUserTakesAsLongAsWrongPassword checks that the unknown-user path
// does the same hash work as a wrong password. Samples alternate between the
// two paths and each side keeps its minimum: load from other test processes
// only ever adds time, so the minimum is the work itself, and alternating
// spreads any slow period over both sides. The bounds stay generous; the
// dummy-verification count in TestLoginSuccessWrongPasswordUnknownUser is
// the exact check.
func TestUnknownUserTakesAsLongAsWrongPassword(t *testing.T) {
	e := newEnv(t, "sqlite:"+t.TempDir()+"/t.db")
	e.conn("db", map[string]any{"brute_force_protection": false})
	e.user("db", "ann@example.com", goodPW)
	once := func(id string) time.Duration {
		start := time.Now()
		_, _ = e.login(ipCtx("192.0.2.1"), LoginInput{Connection: "db", Identifier: id, Password: "wrong"})
		return time.Since(start)
	}
	once("ann@example.com") // warm-up: first statement preparation, page cache
	known, unknown := time.Duration(1<<62), time.Duration(1<<62)
	for range 9 {
		known = min(known, once("ann@example.com"))
		unknown = min(unknown, once("nobody@example.com"))
	}
	ratio := float64(unknown) / float64(known)
	t.Logf("fastest wrong password %v, fastest unknown user %v, ratio %.2f", known, unknown, ratio)
	if ratio < 0.5 || ratio > 2 {
		t.Fatalf("unknown/known time ratio %.2f outside [0.5, 2]", ratio)
	}
}

func TestLoginByUsername(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", map[string]any{"requires_username": true})
		email, name, pw := "cy@example.com", "Cyrus", goodPW
		u, err := e.svc.Signup(ipCtx("192.0.2.1"), SignupInput{Connection: "db", Email: email, Username: name, Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"cyrus", "CYRUS", "cy@example.com"} {
			res, err := e.login(ipCtx("192.0.2.1"), LoginInput{Connection: "db", Identifier: id, Password: pw})
			if err != nil || res.User.ID != u.ID {
				t.Fatalf("login as %q: %v", id, err)
			}
		}
	})
}

func TestBlockedUserOnlyAfterCorrectPassword(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", nil)
		u := e.user("db", "blk@example.com", goodPW)
		e.db.User.UpdateOne(u).SetBlocked(true).ExecX(sys)
		ctx := ipCtx("198.51.100.2")
		if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: "blk@example.com", Password: "wrong"}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password of a blocked user: %v (must not reveal the block)", err)
		}
		if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: "blk@example.com", Password: goodPW}); !errors.Is(err, ErrBlocked) {
			t.Fatalf("right password of a blocked user: %v", err)
		}
		if ev := e.lastLog("f"); ev.Description != "user is blocked" || ev.UserID != u.UserID {
			t.Fatalf("f event: %+v", ev)
		}
		got := e.reload(u)
		if got.LoginsCount != 1 || got.LastLogin == nil {
			t.Fatalf("a blocked login must still bump logins_count and last_login: %+v", got)
		}
	})
}

func TestBcryptHashIsUpgraded(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", nil)
		u := e.user("db", "old@example.com", goodPW)
		bc, _ := bcrypt.GenerateFromPassword([]byte(goodPW), 10)
		idn := u.QueryIdentities().OnlyX(sys)
		idn.Update().SetPasswordHash(string(bc)).ExecX(sys)
		if _, err := e.login(ipCtx("192.0.2.9"), LoginInput{Connection: "db", Identifier: "old@example.com", Password: goodPW}); err != nil {
			t.Fatal(err)
		}
		h := *u.QueryIdentities().OnlyX(sys).PasswordHash
		if !strings.HasPrefix(h, "$argon2id$") || passwords.NeedsRehash(h) || passwords.Verify(h, goodPW) != nil {
			t.Fatalf("hash after login: %q", h)
		}
	})
}

func TestBruteForce(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", map[string]any{"passwordPolicy": "low"})
		u := e.user("db", "bf@example.com", goodPW)
		ctx, other := ipCtx("203.0.113.50"), ipCtx("203.0.113.51")
		login := func(c context.Context, id, pw string) error {
			_, err := e.login(c, LoginInput{Connection: "db", Identifier: id, Password: pw})
			return err
		}
		for i := 1; i <= 10; i++ {
			if err := login(ctx, "bf@example.com", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("failure %d: %v", i, err)
			}
			if err := login(ctx, "ghost@example.com", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("unknown identifier, failure %d: %v", i, err)
			}
		}
		// The 11th attempt is refused even with the right password, and so is
		// the unknown identifier: the same answer whether or not it exists.
		if err := login(ctx, "bf@example.com", goodPW); !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("11th attempt: %v", err)
		}
		if err := login(ctx, "ghost@example.com", "x"); !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("unknown identifier, 11th attempt: %v", err)
		}
		if n := len(slices.DeleteFunc(e.logTypes(), func(s string) bool { return s != "limit_wc" })); n != 2 {
			t.Fatalf("limit_wc events: %d, want 2", n)
		}
		// Another IP is not blocked.
		if err := login(other, "bf@example.com", goodPW); err != nil {
			t.Fatalf("other IP: %v", err)
		}
		// unblockUserAttempts.
		n, err := e.svc.UnblockAttempts(sys, "BF@example.com")
		if err != nil || n != 1 {
			t.Fatalf("UnblockAttempts = %d, %v; want 1", n, err)
		}
		if err := login(ctx, "bf@example.com", goodPW); err != nil {
			t.Fatalf("after unblock: %v", err)
		}
		if e.lastLog("ublkdu") == nil {
			t.Fatal("no ublkdu")
		}
		// A password change lifts the block.
		for range 10 {
			_ = login(ctx, "bf@example.com", "wrong")
		}
		if err := login(ctx, "bf@example.com", goodPW); !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("blocked again: %v", err)
		}
		if err := e.svc.ChangePassword(sys, e.db, u, "N3w-Passw0rd"); err != nil {
			t.Fatal(err)
		}
		if err := login(ctx, "bf@example.com", "N3w-Passw0rd"); err != nil {
			t.Fatalf("after password change: %v", err)
		}
		// 30 days after the last failure the block ends by itself.
		for range 10 {
			_ = login(ctx, "ghost@example.com", "wrong")
		}
		*e.now = e.now.Add(DefaultBlockFor + time.Minute)
		if err := login(ctx, "ghost@example.com", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("after 30 days: %v", err)
		}
		if a := e.db.LoginAttempt.Query().Where(loginattempt.Identifier("ghost@example.com")).OnlyX(sys); a.Failures != 1 || a.BlockedUntil != nil {
			t.Fatalf("counter after expiry: %+v", a)
		}
	})
}

func TestBruteForceProtectionCanBeTurnedOff(t *testing.T) {
	e := newEnv(t, "sqlite:"+t.TempDir()+"/t.db")
	e.conn("db", map[string]any{"brute_force_protection": false})
	e.user("db", "off@example.com", goodPW)
	e.svc.MaxAttempts = 2
	for range 4 {
		_, _ = e.login(ipCtx("192.0.2.3"), LoginInput{Connection: "db", Identifier: "off@example.com", Password: "x"})
	}
	if _, err := e.login(ipCtx("192.0.2.3"), LoginInput{Connection: "db", Identifier: "off@example.com", Password: goodPW}); err != nil {
		t.Fatal(err)
	}
	if n := e.db.LoginAttempt.Query().CountX(sys); n != 0 {
		t.Fatalf("%d attempts counted with protection off", n)
	}
}

// TestBruteForceParallelAttempts: 25 wrong passwords sent at once for one
// (identifier, IP) with the threshold at 10 — each attempt is counted
// before its password is checked, so at most 10 passwords are verified
// (fp events) and the rest are refused with ErrTooManyAttempts (limit_wc).
func TestBruteForceParallelAttempts(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.conn("db", nil)
		e.user("db", "race@example.com", goodPW)
		ctx := ipCtx("203.0.113.77")
		const n = 25
		errs := make(chan error, n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				_, err := e.login(ctx, LoginInput{Connection: "db", Identifier: "race@example.com", Password: "wrong"})
				errs <- err
			}()
		}
		close(start)
		var wrong, tooMany int
		for range n {
			switch err := <-errs; {
			case errors.Is(err, ErrInvalidCredentials):
				wrong++
			case errors.Is(err, ErrTooManyAttempts):
				tooMany++
			default:
				t.Errorf("attempt: %v", err)
			}
		}
		types := e.logTypes()
		fp := len(slices.DeleteFunc(slices.Clone(types), func(s string) bool { return s != "fp" }))
		limited := len(slices.DeleteFunc(slices.Clone(types), func(s string) bool { return s != "limit_wc" }))
		t.Logf("wrong %d, too many %d, fp %d, limit_wc %d", wrong, tooMany, fp, limited)
		if wrong > DefaultMaxAttempts || fp > DefaultMaxAttempts || wrong+tooMany != n || limited != tooMany {
			t.Fatalf("%d passwords evaluated (fp %d), %d refused (limit_wc %d); want at most %d evaluated, the rest refused",
				wrong, fp, tooMany, limited, DefaultMaxAttempts)
		}
		// The block holds: the right password is refused now.
		if _, err := e.login(ctx, LoginInput{Connection: "db", Identifier: "race@example.com", Password: goodPW}); !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("right password after the burst: %v", err)
		}
	})
}
