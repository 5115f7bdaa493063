// Package loginstore writes logins' records (authn.Store): what a decided
// login leaves behind, all or nothing. Ent is the implementation for any
// dialect (one transaction of a few statements); Postgres sends the same
// writes as one statement, which saves the round trips and the BEGIN of a
// transaction on the busiest write of the service. New picks the one that
// fits the database; storetest holds both to the same behaviour.
package loginstore

import (
	"context"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/sessions"
	"github.com/authgraph/authgraph/store"
)

// New returns the store for db: Postgres's one-statement writes when db is
// a Postgres database opened by store.Open, Ent otherwise.
func New(db *ent.Client) authn.Store {
	if d := store.Of(db); d.Postgres() {
		return &Postgres{DB: d}
	}
	return &Ent{DB: db}
}

// Ent writes a login's record through ent, in one transaction.
type Ent struct{ DB *ent.Client }

// Record implements authn.Store.
func (s *Ent) Record(ctx context.Context, rec *authn.Record) (authn.Recorded, error) {
	sys := authz.SystemContext(ctx)
	tx, err := s.DB.Tx(sys)
	if err != nil {
		return authn.Recorded{}, err
	}
	done, err := record(sys, tx.Client(), rec)
	if err != nil {
		_ = tx.Rollback()
		return authn.Recorded{}, err
	}
	return done, tx.Commit()
}

func record(ctx context.Context, db *ent.Client, rec *authn.Record) (authn.Recorded, error) {
	// The update takes the user's row lock first (on Postgres; SQLite
	// holds the database's), so the blocked flag read below is the one
	// committed after any concurrent block.
	upd := db.User.Update().Where(user.ID(rec.UserID)).SetUpdatedAt(rec.Now)
	if rec.CountLogin {
		upd.SetLastLogin(rec.Now).AddLoginsCount(1)
		if rec.IP != "" {
			upd.SetLastIP(rec.IP)
		}
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return authn.Recorded{}, err
	}
	if n == 0 {
		return authn.Recorded{}, &ent.NotFoundError{}
	}
	u, err := db.User.Query().Where(user.ID(rec.UserID)).Select(user.FieldBlocked).Only(ctx)
	if err != nil {
		return authn.Recorded{}, err
	}
	if a := rec.Attempt; a != nil {
		if _, err := db.LoginAttempt.Delete().
			Where(loginattempt.Connection(a.Connection), loginattempt.Identifier(a.Identifier), loginattempt.IP(a.IP)).
			Exec(ctx); err != nil {
			return authn.Recorded{}, err
		}
	}
	if rec.UpgradeIdentity != "" && rec.UpgradeHash != "" {
		if err := db.Identity.Update().Where(identity.ID(rec.UpgradeIdentity)).
			SetPasswordHash(rec.UpgradeHash).Exec(ctx); err != nil {
			return authn.Recorded{}, err
		}
	}
	if rec.Event != nil {
		ev := eventOf(rec, u.Blocked)
		if err := logs.Write(ctx, db, ev); err != nil {
			return authn.Recorded{}, err
		}
	}
	if rec.Session != nil && !u.Blocked {
		if _, err := sessions.Insert(ctx, db, rec.Session); err != nil {
			return authn.Recorded{}, err
		}
	}
	return authn.Recorded{Blocked: u.Blocked}, nil
}

// eventOf is rec's event as written: f "user is blocked" for a blocked
// user, dated rec.Now.
func eventOf(rec *authn.Record, blocked bool) logs.Event {
	ev := *rec.Event
	if blocked {
		ev.Type, ev.Description = logs.TypeFailedLogin, authn.BlockedDescription
	}
	ev.Date = rec.Now
	return ev
}
