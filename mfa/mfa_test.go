package mfa_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/mfastate"
	"github.com/authgraph/authgraph/ent/recoverycode"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/session"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/secretbox"
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
	box  *secretbox.Box
	svc  *mfa.Service
	smtp *testenv.SMTPServer
	now  time.Time
	user *ent.User
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
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	srv := testenv.StartSMTP(t)
	sender, err := mail.NewSMTP(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	// A fixed instant in the middle of a TOTP step.
	e := &env{t: t, db: db.Ent, box: box, smtp: srv, now: time.Unix(1_800_000_015, 0)}
	e.svc, err = mfa.New(mfa.Config{DB: db.Ent, Box: box, Mail: sender, Issuer: "https://id.example.test:8443/",
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	e.user = e.newUser("alice@example.test")
	return e
}

func (e *env) newUser(email string) *ent.User {
	e.t.Helper()
	u, err := e.db.User.Create().SetUserID("auth0|" + strings.Split(email, "@")[0]).SetEmail(email).
		SetEmailVerified(true).Save(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) settings(st mfa.Settings) {
	e.t.Helper()
	if _, err := e.svc.UpdateSettings(context.Background(), st); err != nil {
		e.t.Fatal(err)
	}
}

// code is the TOTP code of secret at the env's clock moved by steps.
func (e *env) code(secret string, steps int) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.now.Add(time.Duration(steps)*30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enrollTOTP enrolls a confirmed TOTP authenticator and returns its
// secret and the recovery codes given.
func (e *env) enrollTOTP(u *ent.User) (string, []string) {
	e.t.Helper()
	ctx := context.Background()
	en, err := e.svc.StartTOTP(ctx, u.ID, *u.Email)
	if err != nil {
		e.t.Fatal(err)
	}
	codes, err := e.svc.ConfirmTOTP(ctx, u.ID, en.AuthenticatorID, e.code(en.Secret, 0), mfa.LoginContext{})
	if err != nil {
		e.t.Fatal(err)
	}
	return en.Secret, codes
}

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

func (e *env) countLogs(typ string) int {
	e.t.Helper()
	return e.db.LogEvent.Query().Where(logevent.Type(typ)).CountX(sys)
}

// wrong is a six-digit code that is none of the three accepted now.
func (e *env) wrong(secret string) string {
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if c != e.code(secret, -1) && c != e.code(secret, 0) && c != e.code(secret, 1) {
			return c
		}
	}
	panic("unreachable")
}

func TestDefaultsAndSettings(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		st, err := e.svc.Settings(ctx)
		if err != nil || st.Policy != mfa.PolicyNever || len(st.Factors) != 2 || !st.Enabled(mfa.FactorTOTP) || !st.Enabled(mfa.FactorRecoveryCode) {
			t.Fatalf("defaults = %+v, %v", st, err)
		}
		got, err := e.svc.UpdateSettings(ctx, mfa.Settings{Policy: mfa.PolicyAlways,
			Factors: []mfa.Factor{mfa.FactorEmail, mfa.FactorTOTP, mfa.FactorEmail}, RememberBrowserDays: 30})
		if err != nil || got.Policy != mfa.PolicyAlways || len(got.Factors) != 2 || got.RememberBrowserDays != 30 {
			t.Fatalf("update = %+v, %v", got, err)
		}
		// Seen at once through the cache.
		st, err = e.svc.Settings(ctx)
		if err != nil || st.Policy != mfa.PolicyAlways || !st.Enabled(mfa.FactorEmail) || st.Enabled(mfa.FactorRecoveryCode) {
			t.Fatalf("after update = %+v, %v", st, err)
		}
		for _, bad := range []mfa.Settings{
			{Policy: "sometimes", Factors: []mfa.Factor{mfa.FactorTOTP}},
			{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorRecoveryCode}},
			{Policy: mfa.PolicyNever, Factors: []mfa.Factor{"sms"}},
			{Policy: mfa.PolicyNever, RememberBrowserDays: -1},
			{Policy: mfa.PolicyNever, RememberBrowserDays: 1000},
		} {
			var se *mfa.SettingsError
			if _, err := e.svc.UpdateSettings(ctx, bad); !errors.As(err, &se) {
				t.Errorf("UpdateSettings(%+v) = %v, want a SettingsError", bad, err)
			}
		}
		// WEBAUTHN can be enabled, and alone answers a policy's need for a
		// factor users can enroll.
		if got, err := e.svc.UpdateSettings(ctx, mfa.Settings{Policy: mfa.PolicyAlways,
			Factors: []mfa.Factor{mfa.FactorWebAuthn}}); err != nil || !got.Enabled(mfa.FactorWebAuthn) {
			t.Fatalf("enabling WEBAUTHN = %+v, %v", got, err)
		}
		if n := e.countLogs("gd_tenant_update"); n != 2 {
			t.Errorf("gd_tenant_update events = %d", n)
		}
		// A factor turned off is refused.
		e.settings(mfa.Settings{Policy: mfa.PolicyOptIn, Factors: []mfa.Factor{mfa.FactorEmail}})
		if _, err := e.svc.StartTOTP(ctx, e.user.ID, "a"); !errors.Is(err, mfa.ErrFactorDisabled) {
			t.Errorf("StartTOTP with TOTP off = %v", err)
		}
	})
}

func TestTOTPEnrollmentAndVerification(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		en, err := e.svc.StartTOTP(ctx, e.user.ID, "alice@example.test")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(en.QRCodePNG, []byte("\x89PNG\r\n\x1a\n")) {
			t.Error("QR code is not a PNG")
		}
		if !strings.HasPrefix(en.URL, "otpauth://totp/id.example.test:alice@example.test?") || !strings.Contains(en.URL, "issuer=id.example.test") ||
			!strings.Contains(en.URL, "secret="+en.Secret) {
			t.Errorf("URL = %s", en.URL)
		}
		if ok, _ := e.svc.Enrolled(ctx, e.user.ID); ok {
			t.Error("enrolled before confirmation")
		}
		// A pending authenticator does not answer a challenge.
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(en.Secret, 0), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("verify with pending = %v", err)
		}
		// Starting again replaces the pending one.
		en2, err := e.svc.StartTOTP(ctx, e.user.ID, "alice@example.test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ConfirmTOTP(ctx, e.user.ID, en.AuthenticatorID, e.code(en.Secret, 0), mfa.LoginContext{}); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("confirm of a replaced enrollment = %v", err)
		}
		if _, err := e.svc.ConfirmTOTP(ctx, e.user.ID, en2.AuthenticatorID, e.wrong(en2.Secret), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("confirm with a wrong code = %v", err)
		}
		codes, err := e.svc.ConfirmTOTP(ctx, e.user.ID, en2.AuthenticatorID, e.code(en2.Secret, 0), mfa.LoginContext{ClientID: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != 10 {
			t.Fatalf("recovery codes = %d", len(codes))
		}
		if ok, err := e.svc.Enrolled(ctx, e.user.ID); !ok || err != nil {
			t.Fatalf("Enrolled = %v, %v", ok, err)
		}
		as, err := e.svc.Authenticators(ctx, e.user.ID)
		if err != nil || len(as) != 2 || as[0].Type != mfa.FactorTOTP || !as[0].Confirmed || as[0].LastUsedAt == nil ||
			as[1].Type != mfa.FactorRecoveryCode {
			t.Fatalf("Authenticators = %+v, %v", as, err)
		}
		// The confirming code was accepted once: it cannot log in.
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(en2.Secret, 0), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("replayed confirmation code = %v", err)
		}
		// The next step's code (skew +1) is accepted, once.
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(en2.Secret, 1), mfa.LoginContext{}); err != nil {
			t.Fatalf("code of step +1 = %v", err)
		}
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(en2.Secret, 1), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("replayed code = %v", err)
		}
		// Later: -1 accepted (with spaces as typed), ±2 refused.
		e.now = e.now.Add(5 * time.Minute)
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(en2.Secret, 2), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("code of step +2 = %v", err)
		}
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(en2.Secret, -2), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("code of step -2 = %v", err)
		}
		c := e.code(en2.Secret, -1)
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, c[:3]+" "+c[3:], mfa.LoginContext{}); err != nil {
			t.Fatalf("code of step -1 = %v", err)
		}
		// An older step than the last accepted is refused even within skew.
		e.now = e.now.Add(30 * time.Second)
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(en2.Secret, -2), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("code older than the last accepted = %v", err)
		}
		for _, typ := range []string{"gd_start_enroll", "gd_enrollment_complete", "gd_auth_succeed", "gd_auth_failed"} {
			if e.countLogs(typ) == 0 {
				t.Errorf("no %s event (have %v)", typ, e.logTypes())
			}
		}
	})
}

func TestSealedSeedNotInDatabase(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		en, err := e.svc.StartTOTP(ctx, e.user.ID, "alice@example.test")
		if err != nil {
			t.Fatal(err)
		}
		a := e.db.Authenticator.GetX(sys, pulid.ID(en.AuthenticatorID))
		if a.SecretSealed == nil || bytes.Contains(*a.SecretSealed, []byte(en.Secret)) {
			t.Fatal("the seed is readable in the row")
		}
		raw := e.rawSecret(en.AuthenticatorID)
		if bytes.Contains(raw, []byte(en.Secret)) || len(raw) == 0 {
			t.Fatalf("the seed is readable in the column (%d bytes)", len(raw))
		}
		if plain, err := e.box.Open(raw, "authenticator:"+en.AuthenticatorID+":user:"+string(e.user.ID)); err != nil || string(plain) != en.Secret {
			t.Fatalf("sealed value opens to %q, %v", plain, err)
		}
		// Moved to another user's row, it does not open: the code fails.
		bob := e.newUser("bob@example.test")
		en2, err := e.svc.StartTOTP(ctx, bob.ID, "bob@example.test")
		if err != nil {
			t.Fatal(err)
		}
		e.db.Authenticator.UpdateOneID(pulid.ID(en2.AuthenticatorID)).SetSecretSealed(raw).ExecX(sys)
		if _, err := e.svc.ConfirmTOTP(ctx, bob.ID, en2.AuthenticatorID, e.code(en.Secret, 0), mfa.LoginContext{}); err == nil || errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("a moved seed = %v, want an opening error", err)
		}
	})
}

func (e *env) rawSecret(id string) []byte {
	e.t.Helper()
	rows, err := e.db.QueryContext(sys, "SELECT secret_sealed FROM authenticators WHERE id = '"+id+"'")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var b []byte
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			e.t.Fatal(err)
		}
	}
	return b
}

func TestLockout(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		secret, codes := e.enrollTOTP(e.user)
		e.now = e.now.Add(time.Minute)
		// Wrong codes across factors count together.
		for i := 0; i < mfa.MaxFailures-1; i++ {
			var err error
			if i%2 == 0 {
				err = e.svc.VerifyTOTP(ctx, e.user.ID, e.wrong(secret), mfa.LoginContext{})
			} else {
				err = e.svc.VerifyRecoveryCode(ctx, e.user.ID, "AAAA-AAAA-AAAA-AAAA", mfa.LoginContext{})
			}
			if !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("wrong code %d = %v", i+1, err)
			}
		}
		err := e.svc.VerifyTOTP(ctx, e.user.ID, e.wrong(secret), mfa.LoginContext{})
		var le *mfa.LockedError
		if !errors.As(err, &le) || !errors.Is(err, mfa.ErrLocked) || !le.Until.Equal(e.now.Add(mfa.LockFor)) {
			t.Fatalf("5th wrong code = %v", err)
		}
		// Locked: even a right code or a recovery code is refused.
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(secret, 0), mfa.LoginContext{}); !errors.Is(err, mfa.ErrLocked) {
			t.Fatalf("right code while locked = %v", err)
		}
		if err := e.svc.VerifyRecoveryCode(ctx, e.user.ID, codes[0], mfa.LoginContext{}); !errors.Is(err, mfa.ErrLocked) {
			t.Fatalf("recovery code while locked = %v", err)
		}
		if until, _ := e.svc.Locked(ctx, e.user.ID); until.IsZero() {
			t.Fatal("Locked reports no lock")
		}
		if n := e.countLogs("gd_otp_rate_limit_exceed"); n != 1 {
			t.Fatalf("gd_otp_rate_limit_exceed events = %d (have %v)", n, e.logTypes())
		}
		// Another user is not affected.
		bob := e.newUser("bob@example.test")
		bobSecret, _ := e.enrollTOTP(bob)
		e.now = e.now.Add(time.Minute)
		if err := e.svc.VerifyTOTP(ctx, bob.ID, e.code(bobSecret, 0), mfa.LoginContext{}); err != nil {
			t.Fatalf("another user = %v", err)
		}
		// 15 minutes after the lock, codes work again.
		e.now = e.now.Add(mfa.LockFor)
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(secret, 0), mfa.LoginContext{}); err != nil {
			t.Fatalf("right code after the lock = %v", err)
		}
		// A correct code starts the count over.
		for i := 0; i < mfa.MaxFailures-1; i++ {
			if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.wrong(secret), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("wrong code %d after unlock = %v", i+1, err)
			}
		}
		e.now = e.now.Add(30 * time.Second)
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(secret, 0), mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.wrong(secret), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("wrong code after a right one = %v", err)
		}
	})
}

func TestRecoveryCodes(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, codes := e.enrollTOTP(e.user)
		seen := map[string]bool{}
		for _, c := range codes {
			if !regexp.MustCompile(`^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$`).MatchString(c) || seen[c] {
				t.Fatalf("code %q (duplicate: %v)", c, seen[c])
			}
			seen[c] = true
		}
		// Not stored in clear.
		for _, rc := range e.db.RecoveryCode.Query().AllX(sys) {
			for _, c := range codes {
				if bytes.Contains(rc.CodeHash, []byte(c)) {
					t.Fatal("a code is stored in clear")
				}
			}
		}
		// Typed in lower case without dashes, it works once.
		typed := strings.ToLower(strings.ReplaceAll(codes[3], "-", ""))
		if err := e.svc.VerifyRecoveryCode(ctx, e.user.ID, typed, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.VerifyRecoveryCode(ctx, e.user.ID, codes[3], mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("used code again = %v", err)
		}
		if n, _ := e.svc.RecoveryCodesLeft(ctx, e.user.ID); n != 9 {
			t.Fatalf("codes left = %d", n)
		}
		if e.countLogs("gd_recovery_succeed") != 1 || e.countLogs("gd_recovery_failed") != 1 {
			t.Fatalf("events %v", e.logTypes())
		}
		// Another user's code does not work for this one.
		bob := e.newUser("bob@example.test")
		_, bobCodes := e.enrollTOTP(bob)
		if err := e.svc.VerifyRecoveryCode(ctx, e.user.ID, bobCodes[0], mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("another user's code = %v", err)
		}
		// Regenerating voids the old codes.
		fresh, err := e.svc.RegenerateRecoveryCodes(ctx, e.user.ID)
		if err != nil || len(fresh) != 10 {
			t.Fatalf("regenerate = %d, %v", len(fresh), err)
		}
		if err := e.svc.VerifyRecoveryCode(ctx, e.user.ID, codes[4], mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("old code after regenerate = %v", err)
		}
		if err := e.svc.VerifyRecoveryCode(ctx, e.user.ID, fresh[0], mfa.LoginContext{}); err != nil {
			t.Fatalf("new code = %v", err)
		}
		if n := e.db.RecoveryCode.Query().Where(recoverycode.HasAuthenticatorWith(authenticator.UserRef(e.user.ID))).CountX(sys); n != 10 {
			t.Fatalf("stored codes = %d, want 10", n)
		}
		// Recovery codes alone are not an enrollment.
		carol := e.newUser("carol@example.test")
		if _, err := e.svc.RegenerateRecoveryCodes(ctx, carol.ID); err != nil {
			t.Fatal(err)
		}
		if ok, _ := e.svc.Enrolled(ctx, carol.ID); ok {
			t.Fatal("recovery codes alone count as enrolled")
		}
	})
}

// emailCode returns the code of the n-th email (1-based).
func (e *env) emailCode(n int) string {
	e.t.Helper()
	msgs := e.smtp.WaitForMessages(e.t, n, 5*time.Second)
	m := regexp.MustCompile(`(?m)^(\d{6})\r?$`).FindSubmatch(msgs[n-1].Data)
	if m == nil {
		e.t.Fatalf("no code in %s", msgs[n-1].Data)
	}
	return string(m[1])
}

func TestEmailCodes(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); !errors.Is(err, mfa.ErrFactorDisabled) {
			t.Fatalf("email off = %v", err)
		}
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorEmail}})
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		code := e.emailCode(1)
		as, _ := e.svc.Authenticators(ctx, e.user.ID)
		if len(as) != 1 || as[0].Type != mfa.FactorEmail || as[0].Confirmed || as[0].Name != "a***@example.test" {
			t.Fatalf("after send: %+v", as)
		}
		// Within 30 s, no second email.
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.VerifyEmailCode(ctx, e.user.ID, code, mfa.LoginContext{}); err != nil {
			t.Fatalf("right code = %v", err)
		}
		if ok, _ := e.svc.Enrolled(ctx, e.user.ID); !ok {
			t.Fatal("not enrolled after the first code")
		}
		if err := e.svc.VerifyEmailCode(ctx, e.user.ID, code, mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("reused code = %v", err)
		}
		if len(e.smtp.Messages()) != 1 {
			t.Fatalf("%d emails sent, want 1", len(e.smtp.Messages()))
		}
		// A code expires after 5 minutes.
		e.now = e.now.Add(time.Minute)
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		code = e.emailCode(2)
		e.now = e.now.Add(mfa.EmailCodeTTL + time.Second)
		if err := e.svc.VerifyEmailCode(ctx, e.user.ID, code, mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("expired code = %v", err)
		}
		// A new code replaces the previous one.
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		old := e.emailCode(3)
		e.now = e.now.Add(time.Minute)
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		code = e.emailCode(4)
		if old != code {
			if err := e.svc.VerifyEmailCode(ctx, e.user.ID, old, mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("replaced code = %v", err)
			}
		}
		if err := e.svc.VerifyEmailCode(ctx, e.user.ID, code, mfa.LoginContext{}); err != nil {
			t.Fatalf("newest code = %v", err)
		}
		// Wrong email codes count towards the lockout; a locked user gets
		// no email.
		for i := 0; i < mfa.MaxFailures; i++ {
			_ = e.svc.VerifyEmailCode(ctx, e.user.ID, "999999", mfa.LoginContext{})
		}
		e.now = e.now.Add(time.Minute)
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); !errors.Is(err, mfa.ErrLocked) {
			t.Fatalf("send while locked = %v", err)
		}
		// An unverified address cannot receive codes.
		bob := e.newUser("bob@example.test")
		e.db.User.UpdateOne(bob).SetEmailVerified(false).ExecX(sys)
		if err := e.svc.SendEmailCode(ctx, bob.ID, mfa.LoginContext{}); !errors.Is(err, mfa.ErrNoVerifiedEmail) {
			t.Fatalf("unverified = %v", err)
		}
		if e.countLogs("gd_send_email") != 4 {
			t.Fatalf("gd_send_email events: %v", e.logTypes())
		}
		// No event carries a code.
		for _, ev := range e.db.LogEvent.Query().AllX(sys) {
			if strings.Contains(ev.Description, code) || strings.Contains(ev.Description, old) {
				t.Fatalf("event %s carries a code: %s", ev.Type, ev.Description)
			}
		}
	})
}

func TestResetAndDelete(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.settings(mfa.Settings{Policy: mfa.PolicyOptIn, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}, RememberBrowserDays: 30})
		_, codes := e.enrollTOTP(e.user)
		remember, err := e.svc.RememberBrowser(ctx, e.user.ID, 30)
		if err != nil {
			t.Fatal(err)
		}
		if !e.svc.Remembered(ctx, e.user.ID, remember) {
			t.Fatal("fresh value not remembered")
		}
		bob := e.newUser("bob@example.test")
		if e.svc.Remembered(ctx, bob.ID, remember) || e.svc.Remembered(ctx, e.user.ID, remember[:len(remember)-2]+"AA") {
			t.Fatal("value accepted for another user or tampered")
		}
		e.now = e.now.Add(31 * 24 * time.Hour)
		if e.svc.Remembered(ctx, e.user.ID, remember) {
			t.Fatal("expired value remembered")
		}
		remember, _ = e.svc.RememberBrowser(ctx, e.user.ID, 30)
		// Deleting one authenticator voids remembered browsers.
		as, _ := e.svc.Authenticators(ctx, e.user.ID)
		if err := e.svc.Delete(ctx, e.user.ID, as[1].ID); err != nil {
			t.Fatal(err)
		}
		if e.svc.Remembered(ctx, e.user.ID, remember) {
			t.Fatal("remembered after a delete")
		}
		if err := e.svc.VerifyRecoveryCode(ctx, e.user.ID, codes[0], mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("code of deleted recovery codes = %v", err)
		}
		if err := e.svc.Delete(ctx, e.user.ID, as[1].ID); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("second delete = %v", err)
		}
		if err := e.svc.Delete(ctx, bob.ID, as[0].ID); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("delete through another user = %v", err)
		}
		// Reset removes everything.
		e.enrollTOTP(e.user) // a second TOTP (added), and new recovery codes
		remember, _ = e.svc.RememberBrowser(ctx, e.user.ID, 30)
		if err := e.svc.Reset(ctx, e.user.ID); err != nil {
			t.Fatal(err)
		}
		as, err = e.svc.Authenticators(ctx, e.user.ID)
		if err != nil || len(as) != 0 {
			t.Fatalf("after reset: %+v, %v", as, err)
		}
		if n := e.db.RecoveryCode.Query().CountX(sys); n != 0 {
			t.Fatalf("recovery codes left: %d", n)
		}
		if ok, _ := e.svc.Enrolled(ctx, e.user.ID); ok || e.svc.Remembered(ctx, e.user.ID, remember) {
			t.Fatal("still enrolled or remembered after reset")
		}
		if e.countLogs("gd_unenroll") != 1 || e.countLogs("gd_user_delete") != 1 {
			t.Fatalf("events %v", e.logTypes())
		}
		if err := e.svc.Reset(ctx, "usr_nobody"); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("reset of nobody = %v", err)
		}
		// Deleting the user deletes their authenticators.
		e.enrollTOTP(bob)
		e.db.User.DeleteOne(bob).ExecX(sys)
		if n := e.db.Authenticator.Query().CountX(sys) + e.db.RecoveryCode.Query().CountX(sys); n != 0 {
			t.Fatalf("%d rows left after the user was deleted", n)
		}
	})
}

func TestEnrollmentTickets(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok, exp, err := e.svc.CreateEnrollmentTicket(ctx, e.user.ID, time.Hour)
		if err != nil || !exp.Equal(e.now.Add(time.Hour)) {
			t.Fatalf("create = %v, %v", exp, err)
		}
		if u := e.svc.EnrollmentTicketURL(tok); u != "https://id.example.test:8443/login/mfa/enroll?ticket="+tok {
			t.Fatalf("URL = %s", u)
		}
		if uid, err := e.svc.EnrollmentTicketUser(ctx, tok); err != nil || uid != e.user.ID {
			t.Fatalf("user = %v, %v", uid, err)
		}
		if err := e.svc.ConsumeEnrollmentTicket(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ConsumeEnrollmentTicket(ctx, tok); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("second use = %v", err)
		}
		if _, err := e.svc.EnrollmentTicketUser(ctx, tok); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("used ticket's user = %v", err)
		}
		// Expiry, and only the newest ticket works.
		t1, _, _ := e.svc.CreateEnrollmentTicket(ctx, e.user.ID, time.Hour)
		t2, _, _ := e.svc.CreateEnrollmentTicket(ctx, e.user.ID, time.Hour)
		if _, err := e.svc.EnrollmentTicketUser(ctx, t1); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("older ticket = %v", err)
		}
		e.now = e.now.Add(time.Hour + time.Second)
		if _, err := e.svc.EnrollmentTicketUser(ctx, t2); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("expired ticket = %v", err)
		}
		if _, _, err := e.svc.CreateEnrollmentTicket(ctx, "usr_nobody", 0); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("ticket for nobody = %v", err)
		}
		if _, err := e.svc.EnrollmentTicketUser(ctx, "nope"); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("unknown ticket = %v", err)
		}
	})
}

// TestLockoutParallel: wrong codes sent at once are counted before they are
// checked, so no more than MaxFailures of them are ever checked.
func TestLockoutParallel(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		secret, _ := e.enrollTOTP(e.user)
		wrong := e.wrong(secret)
		const n = 20
		errs := make(chan error, n)
		for range n {
			go func() { errs <- e.svc.VerifyTOTP(ctx, e.user.ID, wrong, mfa.LoginContext{}) }()
		}
		checked, locked := 0, 0
		for range n {
			err := <-errs
			switch {
			case errors.Is(err, mfa.ErrLocked):
				locked++
			case errors.Is(err, mfa.ErrInvalidCode):
				checked++
			default:
				t.Fatalf("unexpected %v", err)
			}
		}
		// Exactly MaxFailures were checked: the last of them locked.
		if checked != mfa.MaxFailures-1 || locked != n-checked {
			t.Fatalf("%d codes checked, %d refused as locked", checked, locked)
		}
		if e.countLogs("gd_auth_failed") != mfa.MaxFailures || e.countLogs("gd_otp_rate_limit_exceed") != 1 {
			t.Fatalf("events %v", e.logTypes())
		}
		if until, _ := e.svc.Locked(ctx, e.user.ID); until.IsZero() {
			t.Fatal("not locked")
		}
	})
}

// Setting up a factor is for users who have none: a user with any
// confirmed factor (recovery codes alone included) can neither start nor
// confirm a TOTP enrollment, nor be given an enrollment ticket.
func TestNoSecondEnrollment(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorEmail, mfa.FactorRecoveryCode}})
		// A pending key, then the email factor confirmed meanwhile: the
		// key cannot be confirmed any more, and is dropped.
		en, err := e.svc.StartFirstTOTP(ctx, e.user.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.VerifyEmailCode(ctx, e.user.ID, e.emailCode(1), mfa.LoginContext{}); err != nil {
			t.Fatal(err)
		}
		if has, err := e.svc.HasFactor(ctx, e.user.ID); err != nil || !has {
			t.Fatalf("HasFactor = %v, %v", has, err)
		}
		if _, err := e.svc.ConfirmFirstTOTP(ctx, e.user.ID, en.AuthenticatorID, e.code(en.Secret, 0), mfa.LoginContext{}); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("ConfirmFirstTOTP for an enrolled user = %v", err)
		}
		if _, err := e.svc.StartFirstTOTP(ctx, e.user.ID, ""); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("StartFirstTOTP for an enrolled user = %v", err)
		}
		if _, _, err := e.svc.CreateEnrollmentTicket(ctx, e.user.ID, 0); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("ticket for an enrolled user = %v", err)
		}
		as, _ := e.svc.Authenticators(ctx, e.user.ID)
		if len(as) != 1 || as[0].Type != mfa.FactorEmail {
			t.Fatalf("authenticators = %+v", as)
		}
		// Recovery codes alone count.
		bob := e.newUser("bob@example.test")
		if _, err := e.svc.RegenerateRecoveryCodes(ctx, bob.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.StartFirstTOTP(ctx, bob.ID, ""); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("StartFirstTOTP with recovery codes = %v", err)
		}
		// A ticket made before the user enrolled stops working for them
		// (the service refuses the key).
		carol := e.newUser("carol@example.test")
		if _, _, err := e.svc.CreateEnrollmentTicket(ctx, carol.ID, 0); err != nil {
			t.Fatal(err)
		}
		e.enrollTOTP(carol)
		if _, err := e.svc.StartFirstTOTP(ctx, carol.ID, ""); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("StartFirstTOTP after enrollment = %v", err)
		}
		// Adding a factor (the account page, after the user proved the
		// existing ones) is another use case: allowed.
		en, err = e.svc.StartTOTP(ctx, carol.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ConfirmTOTP(ctx, carol.ID, en.AuthenticatorID, e.code(en.Secret, 1), mfa.LoginContext{}); err != nil {
			t.Fatalf("adding a second app: %v", err)
		}
	})
}

// A remembered browser is bounded by the current settings: switched off,
// no value works; shortened, a value works that many days from its issue.
func TestRememberFollowsSettings(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP}, RememberBrowserDays: 30})
		v, err := e.svc.RememberBrowser(ctx, e.user.ID, 30)
		if err != nil || !e.svc.Remembered(ctx, e.user.ID, v) {
			t.Fatalf("fresh value: %v", err)
		}
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP}, RememberBrowserDays: 0})
		if e.svc.Remembered(ctx, e.user.ID, v) {
			t.Fatal("remembered with the option switched off")
		}
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP}, RememberBrowserDays: 7})
		e.now = e.now.Add(6 * 24 * time.Hour)
		if !e.svc.Remembered(ctx, e.user.ID, v) {
			t.Fatal("not remembered within the shortened period")
		}
		e.now = e.now.Add(24*time.Hour + time.Second)
		if e.svc.Remembered(ctx, e.user.ID, v) {
			t.Fatal("remembered past the shortened period (7 days from its issue)")
		}
		// A password change forgets every browser.
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP}, RememberBrowserDays: 30})
		v, _ = e.svc.RememberBrowser(ctx, e.user.ID, 30)
		if err := mfa.ForgetBrowsers(ctx, e.db, e.user.ID); err != nil || e.svc.Remembered(ctx, e.user.ID, v) {
			t.Fatalf("remembered after ForgetBrowsers: %v", err)
		}
	})
}

// Reset, and deleting the last factor that answers a challenge, end the
// user's sessions: one that passed a factor would skip the challenge.
func TestResetEndsSessions(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorRecoveryCode}})
		live := func() int {
			return e.db.Session.Query().Where(session.UserRef(e.user.ID), session.RevokedAtIsNil()).CountX(sys)
		}
		newSession := func() {
			e.db.Session.Create().SetUserRef(e.user.ID).SetTokenHash(fmt.Sprint(time.Now().UnixNano())).
				SetConnection("Username-Password-Authentication").SetAmr([]string{"pwd", "otp", "mfa"}).
				SetAuthTime(e.now).SetLastSeenAt(e.now).SetIdleExpiresAt(e.now.Add(time.Hour)).
				SetExpiresAt(e.now.Add(time.Hour)).ExecX(sys)
		}
		e.enrollTOTP(e.user)
		newSession()
		if err := e.svc.Reset(ctx, e.user.ID); err != nil {
			t.Fatal(err)
		}
		if n := live(); n != 0 {
			t.Fatalf("%d sessions live after a reset", n)
		}
		e.enrollTOTP(e.user)
		newSession()
		as, _ := e.svc.Authenticators(ctx, e.user.ID)
		// An administrator removes the recovery codes first: the app is
		// left, the session stays; then the app.
		admin := authz.NewContext(ctx, &authz.Viewer{Subject: "helpdesk@clients", Scopes: []string{mfa.ScopeUpdateAuthenticators}})
		for _, typ := range []mfa.Factor{mfa.FactorRecoveryCode, mfa.FactorTOTP} {
			for _, a := range as {
				if a.Type == typ {
					if err := e.svc.Manager().Delete(admin, "deleteAuthenticator", string(e.user.ID), a.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
			if want := map[mfa.Factor]int{mfa.FactorRecoveryCode: 1, mfa.FactorTOTP: 0}[typ]; live() != want {
				t.Fatalf("after deleting %s: %d live sessions, want %d", typ, live(), want)
			}
		}
	})
}

// At most EmailSendsPerHour codes are emailed to a user in an hour, however
// far apart the requests.
func TestEmailHourlyCap(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorEmail}})
		for i := range mfa.EmailSendsPerHour {
			if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); err != nil {
				t.Fatalf("send %d: %v", i+1, err)
			}
			e.now = e.now.Add(mfa.EmailResendAfter + time.Second)
		}
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); !errors.Is(err, mfa.ErrTooManyEmails) {
			t.Fatalf("send %d = %v", mfa.EmailSendsPerHour+1, err)
		}
		e.emailCode(mfa.EmailSendsPerHour)
		time.Sleep(200 * time.Millisecond)
		if n := len(e.smtp.Messages()); n != mfa.EmailSendsPerHour {
			t.Fatalf("%d emails sent", n)
		}
		// An hour after the first, one more may go.
		e.now = e.now.Add(time.Hour - time.Duration(mfa.EmailSendsPerHour-1)*(mfa.EmailResendAfter+time.Second))
		if err := e.svc.SendEmailCode(ctx, e.user.ID, mfa.LoginContext{}); err != nil {
			t.Fatalf("send after the hour: %v", err)
		}
	})
}

// The same code sent several times at once is accepted once: the step is
// recorded by a conditional update, whichever request gets there first.
func TestTOTPReplayParallel(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		secret, _ := e.enrollTOTP(e.user)
		e.now = e.now.Add(time.Minute)
		code := e.code(secret, 0)
		// Fewer than MaxFailures: the replays are refused as wrong codes,
		// never by a lock.
		const n = mfa.MaxFailures - 1
		errs := make(chan error, n)
		for range n {
			go func() { errs <- e.svc.VerifyTOTP(ctx, e.user.ID, code, mfa.LoginContext{}) }()
		}
		accepted := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				accepted++
			case errors.Is(err, mfa.ErrInvalidCode):
			default:
				t.Fatalf("unexpected %v", err)
			}
		}
		if accepted != 1 {
			t.Fatalf("the code was accepted %d times", accepted)
		}
		if s, f := e.countLogs("gd_auth_succeed"), e.countLogs("gd_auth_failed"); s != 1 || f != n-1 {
			t.Fatalf("%d gd_auth_succeed, %d gd_auth_failed events (have %v)", s, f, e.logTypes())
		}
	})
}

// An accepted TOTP code's event names the user, the login and the
// authenticator; the authenticator records the step and its use, and the
// count of wrong codes before it is forgotten.
func TestTOTPAcceptedRecords(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := logs.WithRequest(context.Background(), logs.Request{IP: "203.0.113.7", UserAgent: "test-agent"})
		secret, _ := e.enrollTOTP(e.user)
		e.now = e.now.Add(time.Minute)
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.wrong(secret), mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("wrong code = %v", err)
		}
		lc := mfa.LoginContext{ClientID: "cli", ClientName: "The App", Connection: "Username-Password-Authentication"}
		if err := e.svc.VerifyTOTP(ctx, e.user.ID, e.code(secret, 0), lc); err != nil {
			t.Fatal(err)
		}
		ev, err := e.db.LogEvent.Query().Where(logevent.Type("gd_auth_succeed")).Only(sys)
		if err != nil {
			t.Fatal(err)
		}
		a := e.db.Authenticator.Query().Where(authenticator.UserRef(e.user.ID), authenticator.TypeEQ(authenticator.TypeTotp)).OnlyX(sys)
		if ev.Description != "TOTP code accepted" || ev.UserID != "auth0|alice" || ev.UserName != "alice@example.test" ||
			ev.ClientID != "cli" || ev.ClientName != "The App" || ev.Connection != lc.Connection ||
			ev.IP != "203.0.113.7" || ev.UserAgent != "test-agent" || ev.ConnectionID != "" ||
			ev.Details["authenticator_id"] != string(a.ID) || ev.Details["authenticator_type"] != "totp" {
			t.Fatalf("event %+v", ev)
		}
		if a.TotpLastStep != e.now.Unix()/30 || a.LastUsedAt == nil || !a.LastUsedAt.Equal(e.now) || !a.Confirmed {
			t.Fatalf("authenticator: step %d (want %d), last used %v", a.TotpLastStep, e.now.Unix()/30, a.LastUsedAt)
		}
		st := e.db.MfaState.Query().Where(mfastate.UserRef(e.user.ID)).OnlyX(sys)
		if st.Failures != 0 || st.LastFailureAt != nil || st.LockedUntil != nil {
			t.Fatalf("state after a right code: %d failures, last %v, locked %v", st.Failures, st.LastFailureAt, st.LockedUntil)
		}
		// An unknown user: not found, and nothing counted.
		if err := e.svc.VerifyTOTP(ctx, pulid.ID("usr_nobody"), "123456", lc); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("unknown user = %v", err)
		}
	})
}

// TestFirstEnrollmentsAtOnce: two first enrollments of one user finishing
// at the same instant (the user and someone holding only the password, each
// at their own enrollment step) store one factor, not two: the transaction
// that stores a first factor takes the user's row lock, so it waits for the
// other one's and then sees its factor. The other enrollment is played by
// a transaction the test holds open (Postgres: SQLite serialises write
// transactions anyway).
func TestFirstEnrollmentsAtOnce(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		if !store.Of(e.db).Postgres() {
			t.Skip("row locks are Postgres's")
		}
		ctx := context.Background()
		e.settings(mfa.Settings{Policy: mfa.PolicyAlways, Factors: []mfa.Factor{mfa.FactorTOTP}})
		a, err := e.svc.StartFirstTOTP(ctx, e.user.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		// A wrong code first: the attempt counter's row exists, so the
		// next attempt's count only updates it (inserting it would check
		// its reference to the user's row, and wait for the lock below on
		// its own).
		if _, err := e.svc.ConfirmFirstTOTP(ctx, e.user.ID, a.AuthenticatorID, "000000", mfa.LoginContext{}); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("a wrong code = %v", err)
		}
		// The other enrollment (an email factor, say): the user's row
		// locked, its factor stored, not committed yet.
		tx, err := e.db.Tx(sys)
		if err != nil {
			t.Fatal(err)
		}
		if err := mfa.LockUser(sys, tx.Client(), true, e.user.ID); err != nil {
			t.Fatal(err)
		}
		tx.Authenticator.Create().SetUserRef(e.user.ID).SetType(authenticator.TypeEmail).SetConfirmed(true).ExecX(sys)
		done := make(chan error, 1)
		go func() {
			_, err := e.svc.ConfirmFirstTOTP(ctx, e.user.ID, a.AuthenticatorID, e.code(a.Secret, 0), mfa.LoginContext{})
			done <- err
		}()
		select {
		case err := <-done:
			_ = tx.Rollback()
			t.Fatalf("the enrollment did not wait for the other one: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("the second enrollment = %v, want ErrAlreadyEnrolled", err)
		}
		if n := e.db.Authenticator.Query().Where(authenticator.UserRef(e.user.ID), authenticator.Confirmed(true)).CountX(sys); n != 1 {
			t.Fatalf("%d factors stored, want 1", n)
		}
	})
}
