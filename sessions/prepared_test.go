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
	prepare := func(pre *Prepared, commit bool) {
		t.Helper()
		tx, err := m.DB.Tx(sys)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := pre.In(sys, tx, u, p)
		if err != nil || !ok {
			t.Fatalf("In: %v %v", ok, err)
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
	create := func(pre *Prepared, p Params) *ent.Session {
		t.Helper()
		s, err := m.CreatePrepared(sys, httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), p, pre)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Without a Prepared nothing is prepared.
	if tx, _ := m.DB.Tx(sys); tx != nil {
		var none *Prepared
		if ok, err := none.In(sys, tx, u, p); ok || err != nil {
			t.Fatalf("prepared without a Prepared: %v %v", ok, err)
		}
		_ = tx.Rollback()
	}

	// Prepared and committed: Create stores nothing more.
	pre := m.Prepare()
	prepare(pre, true)
	if n := count(); n != 1 {
		t.Fatalf("%d sessions after In", n)
	}
	s := create(pre, p)
	if n := count(); n != 1 || s.UserRef != u.ID {
		t.Fatalf("Create after In: %d sessions", n)
	}

	// Rolled back: Create stores its own.
	pre = m.Prepare()
	prepare(pre, false)
	create(pre, p)
	if n := count(); n != 2 {
		t.Fatalf("%d sessions after a rolled-back In and Create", n)
	}

	// Prepared for other parameters: revoked, and Create stores its own.
	pre = m.Prepare()
	prepare(pre, true)
	other := p
	other.IP = "198.51.100.9"
	s = create(pre, other)
	if s.IP != other.IP {
		t.Fatalf("session of the wrong parameters handed out: %+v", s)
	}
	live := m.DB.Session.Query().Where(session.UserRef(u.ID), session.RevokedAtIsNil()).CountX(sys)
	if n := count(); n != 4 || live != 3 {
		t.Fatalf("%d sessions, %d live: the mismatched prepared one must be revoked", n, live)
	}
}
