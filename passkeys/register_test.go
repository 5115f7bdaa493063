package passkeys_test

import (
	"context"
	"errors"
	"testing"

	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/internal/webauthntest"
	"github.com/authgraph/authgraph/mfa"
)

// keys counts the user's webauthn authenticators.
func (e *env) keys() int {
	e.t.Helper()
	n, err := e.db.Authenticator.Query().Where(authenticator.UserRef(e.user.ID), authenticator.TypeEQ(authenticator.TypeWebauthn)).Count(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// A login's enrollment step registers the first factor only: the service
// itself refuses a user who has a confirmed factor, whether found when the
// ceremony begins or when it finishes (enrolled meanwhile), and stores
// nothing. The account page (Begin/FinishRegistration) still adds keys.
func TestFirstRegistration(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		lc := mfa.LoginContext{}

		// No factor yet: the first key is registered.
		first := webauthntest.New(t, origin, rpID)
		first.UV = true // a passkey verifies its user
		c, err := e.svc.BeginFirstRegistration(ctx, e.user.ID, "req-1", true)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := e.svc.FinishFirstRegistration(ctx, e.user.ID, "req-1", c.State, first.Create(c.Options), lc)
		if err != nil || !reg.Passkey {
			t.Fatalf("first registration = %+v, %v", reg, err)
		}
		if e.keys() != 1 {
			t.Fatalf("%d keys", e.keys())
		}
		enrolled := e.logs("gd_enrollment_complete")

		// Enrolled: another enrollment step may not begin...
		if _, err := e.svc.BeginFirstRegistration(ctx, e.user.ID, "req-2", false); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("begin for an enrolled user = %v", err)
		}
		// ...nor finish, whatever ceremony it is handed.
		other := webauthntest.New(t, origin, rpID)
		c, err = e.svc.BeginRegistration(ctx, e.user.ID, "req-2", false)
		if err != nil {
			t.Fatal(err)
		}
		answer := other.Create(c.Options)
		if _, err := e.svc.FinishFirstRegistration(ctx, e.user.ID, "req-2", c.State, answer, lc); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("finish for an enrolled user = %v", err)
		}
		if e.keys() != 1 || e.logs("gd_enrollment_complete") != enrolled {
			t.Fatalf("a refused registration stored %d keys or logged", e.keys())
		}
		// The account page, for a user who proved their factors, adds it.
		if _, err := e.svc.FinishRegistration(ctx, e.user.ID, "req-2", c.State, answer, lc); err != nil {
			t.Fatalf("account page registration = %v", err)
		}
		if e.keys() != 2 {
			t.Fatalf("%d keys after the account page's", e.keys())
		}
	})
}

// A user who enrolled between the ceremony's start and its end (here:
// recovery codes alone, which count as a factor) is refused at the end.
func TestFirstRegistrationEnrolledMeanwhile(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		k := webauthntest.New(t, origin, rpID)
		c, err := e.svc.BeginFirstRegistration(ctx, e.user.ID, "req-1", false)
		if err != nil {
			t.Fatal(err)
		}
		if codes, err := e.mfa.FirstRecoveryCodes(ctx, e.user.ID); err != nil || len(codes) == 0 {
			t.Fatalf("recovery codes %v, %v", codes, err)
		}
		if _, err := e.svc.FinishFirstRegistration(ctx, e.user.ID, "req-1", c.State, k.Create(c.Options), mfa.LoginContext{}); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
			t.Fatalf("finish after enrolling meanwhile = %v", err)
		}
		if e.keys() != 0 {
			t.Fatalf("%d keys stored", e.keys())
		}
	})
}
