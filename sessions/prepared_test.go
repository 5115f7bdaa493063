package sessions

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/session"
)

// TestPreparedSession: a session stored in a login's transaction is the one
// Create hands out, once the transaction commits, and only when it is what
// Create would have stored.
func TestPreparedSession(t *testing.T) {
	m, u, now := setup(t)
	sys := authz.SystemContext(context.Background())
	count := func() int { return m.DB.Session.Query().Where(session.UserRef(u.ID)).CountX(sys) }
	p := Params{UserID: u.ID, AuthTime: now.Truncate(1e9), AMR: []string{"pwd"}, Connection: "db", IP: "192.0.2.1", UserAgent: "ua"}
	prepare := func(ctx context.Context, commit bool) {
		t.Helper()
		tx, err := m.DB.Tx(sys)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := PrepareIn(ctx, tx, u, p)
		if err != nil || !ok {
			t.Fatalf("PrepareIn: %v %v", ok, err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	create := func(ctx context.Context, p Params) *ent.Session {
		t.Helper()
		s, err := m.Create(ctx, httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Without WithLogin nothing is prepared.
	if tx, _ := m.DB.Tx(sys); tx != nil {
		if ok, err := PrepareIn(sys, tx, u, p); ok || err != nil {
			t.Fatalf("prepared without WithLogin: %v %v", ok, err)
		}
		_ = tx.Rollback()
	}

	// Prepared and committed: Create stores nothing more.
	ctx := m.WithLogin(sys)
	prepare(ctx, true)
	if n := count(); n != 1 {
		t.Fatalf("%d sessions after PrepareIn", n)
	}
	s := create(ctx, p)
	if n := count(); n != 1 || s.UserRef != u.ID {
		t.Fatalf("Create after PrepareIn: %d sessions", n)
	}

	// Rolled back: Create stores its own.
	ctx = m.WithLogin(sys)
	prepare(ctx, false)
	create(ctx, p)
	if n := count(); n != 2 {
		t.Fatalf("%d sessions after a rolled-back PrepareIn and Create", n)
	}

	// Prepared for other parameters: revoked, and Create stores its own.
	ctx = m.WithLogin(sys)
	prepare(ctx, true)
	other := p
	other.IP = "198.51.100.9"
	s = create(ctx, other)
	if s.IP != other.IP {
		t.Fatalf("session of the wrong parameters handed out: %+v", s)
	}
	live := m.DB.Session.Query().Where(session.UserRef(u.ID), session.RevokedAtIsNil()).CountX(sys)
	if n := count(); n != 4 || live != 3 {
		t.Fatalf("%d sessions, %d live: the mismatched prepared one must be revoked", n, live)
	}
}
