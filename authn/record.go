package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/metrics"
	"github.com/authgraph/authgraph/sessions"
)

// Pending is what a strategy leaves for Finalize to write once the login is
// decided: the end of the password's brute-force counter, a password hash
// upgrade, the login's log event and its browser session. A login already
// recorded (a reused SSO session, the return from the second-factor page)
// has none.
type Pending struct {
	// Attempt is the brute-force counter that the correct password ends
	// (nil when none was counted). Failed attempts never reach Finalize:
	// the strategy counts them.
	Attempt *lockout.Key
	// CountLogin bumps the user's last_login, last_ip and logins_count.
	// False when the strategy's own write already did (an upstream login's
	// profile sync).
	CountLogin bool
	// UpgradeIdentity and UpgradeHash replace that identity's password hash
	// (an outdated one, re-hashed with the password just checked); empty
	// for none.
	UpgradeIdentity pulid.ID
	UpgradeHash     string
	// Event is the login's log event as the strategy knows it (client,
	// connection, strategy, user name, a description of how); Finalize
	// sets its type and user, and the reason of a refusal.
	Event logs.Event
}

// Record is one decided login's writes, all or nothing.
type Record struct {
	// UserID is whom the login is recorded for (the primary user after a
	// rule's link).
	UserID pulid.ID
	// Now is when the login is recorded; IP the client's address ("" keeps
	// last_ip as it is).
	Now time.Time
	IP  string
	// CountLogin, Attempt and the upgrade are Pending's.
	CountLogin      bool
	Attempt         *lockout.Key
	UpgradeIdentity pulid.ID
	UpgradeHash     string
	// Event is written with Type and Description as given, except that a
	// user the write finds blocked gets f "user is blocked"; nil writes
	// no event (the rules already logged their denial).
	Event *logs.Event
	// Session is the browser session to store (nil for none); it is not
	// stored for a user the write finds blocked.
	Session *ent.Session
}

// Recorded is what Store.Record found.
type Recorded struct {
	// Blocked is whether the user is blocked, as the write found the row:
	// a block made while the login was being decided counts.
	Blocked bool
}

// Store writes logins' records: package loginstore has the implementation
// over ent (any dialect, one transaction) and the one for Postgres (one
// statement), both held to the same behaviour by loginstore/storetest.
type Store interface {
	// Record writes rec in one transaction: the user's login counters (when
	// rec.CountLogin), the end of the brute-force counter rec.Attempt, the
	// password hash upgrade, the log event and the session. A user that no
	// longer exists is an *ent.NotFoundError, and nothing is written.
	Record(ctx context.Context, rec *Record) (Recorded, error)
}

// Sessions makes the rows of new browser sessions (sessions.Manager).
type Sessions interface {
	Opening(p sessions.Params) (*sessions.Opening, error)
}

// BlockedDescription is the description of the f event of a blocked user's
// login.
const BlockedDescription = "user is blocked"

// record writes the record of a login that had something pending, once
// decided (Finalize): refused, it is an f event with the reason (none when
// the rules logged their own) and no session; otherwise the s event and the
// session, unless the write finds the user blocked meanwhile.
func (f *Finalizer) record(ctx context.Context, who Authenticated, res Result) (Result, error) {
	res, err := f.write(ctx, who, res)
	if f.d.Metrics != nil {
		f.d.Metrics.Login(who.Connection, loginOutcome(res, err))
	}
	return res, err
}

// loginOutcome is the metrics outcome of a recorded login.
func loginOutcome(res Result, err error) string {
	switch {
	case err != nil:
		return metrics.LoginError
	case res.Outcome == Issue:
		return metrics.LoginSuccess
	case res.Outcome == NeedMFA:
		return metrics.LoginMFARequired
	}
	return metrics.LoginDenied
}

// write is record's writes.
func (f *Finalizer) write(ctx context.Context, who Authenticated, res Result) (Result, error) {
	p := who.Pending
	now := f.d.Now()
	ip := clientIPOf(ctx)
	rec := &Record{
		UserID: who.UserID, Now: now, IP: ip, CountLogin: p.CountLogin, Attempt: p.Attempt,
		UpgradeIdentity: p.UpgradeIdentity, UpgradeHash: p.UpgradeHash,
	}
	ev := p.Event
	if res.Outcome == Denied {
		if res.ruleDenied {
			rec.Event = nil
		} else {
			ev.Type, ev.Description = logs.TypeFailedLogin, res.Description
			rec.Event = &ev
		}
		if who.User != nil {
			ev.UserID = who.User.UserID
		}
		if _, err := f.d.Store.Record(ctx, rec); err != nil && !ent.IsNotFound(err) {
			return Result{}, fmt.Errorf("recording a refused login: %w", err)
		}
		return res, nil
	}
	// An allowed login (or one that must pass a second factor) is the
	// decided user's: the primary after a rule's link.
	rec.UserID = res.User.ID
	ev.Type, ev.UserID = logs.TypeSuccessLogin, res.User.UserID
	rec.Event = &ev
	authTime := res.AuthTime
	if authTime.IsZero() {
		authTime = now
	}
	o, err := f.d.Sessions.Opening(sessions.Params{
		UserID: res.User.ID, AuthTime: authTime.Truncate(time.Second), AMR: who.AMR, Connection: who.Connection,
		IP: ip, UserAgent: logs.RequestFrom(ctx).UserAgent,
	})
	if err != nil {
		return Result{}, err
	}
	rec.Session = o.Session
	done, err := f.d.Store.Record(ctx, rec)
	if ent.IsNotFound(err) {
		return denied(ErrAccessDenied, "unknown user"), nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("recording the login: %w", err)
	}
	if done.Blocked {
		// Blocked while the login was decided: the record logged f and
		// stored no session.
		return denied(ErrUnauthorized, BlockedDescription), nil
	}
	if p.CountLogin && res.User.ID != who.UserID {
		// decide counted the user who authenticated; the record counted
		// the primary it was linked to.
		res.User = counted(res.User, now, ip)
	}
	res.Session, res.SessionID = o, o.Session.ID
	return res, nil
}

// Abandon ends the brute-force counter of a login whose password was right
// but that cannot be decided (its authorization request expired or was
// used meanwhile, a server error): that says nothing about the password,
// and must not count towards a block. Nothing else is recorded.
func (f *Finalizer) Abandon(ctx context.Context, who Authenticated) { f.release(ctx, who) }

// release is Abandon (Finalize calls it on a server error).
func (f *Finalizer) release(ctx context.Context, who Authenticated) {
	if who.Pending == nil || who.Pending.Attempt == nil {
		return
	}
	if _, err := f.d.Store.Record(ctx, &Record{UserID: who.UserID, Now: f.d.Now(), Attempt: who.Pending.Attempt}); err != nil {
		f.d.Logger.ErrorContext(ctx, "authn: ending a brute-force counter", "err", err)
	}
}

// Establish records a login that no application asked for (a SAML
// IdP-initiated assertion): the user's standing, then the record and the
// session, which the next authorization request reuses; the connection,
// scopes, second factor and rules are decided then, by Finalize.
func (f *Finalizer) Establish(ctx context.Context, who Authenticated) (Result, error) {
	if who.Pending == nil {
		return Result{}, errors.New("authn: Establish needs a pending login")
	}
	user, err := f.user(ctx, who)
	if err != nil {
		return Result{}, err
	}
	if user == nil {
		return denied(ErrAccessDenied, "unknown user"), nil
	}
	who.User = user
	res := Result{Outcome: Issue, User: user, AuthTime: who.AuthTime}
	if user.Blocked {
		res = denied(ErrUnauthorized, BlockedDescription)
	}
	return f.record(ctx, who, res)
}

// counted is u as a login's record leaves it: last_login, last_ip and
// logins_count bumped.
func counted(u *ent.User, now time.Time, ip string) *ent.User {
	v := *u
	v.LastLogin, v.UpdatedAt = &now, now
	v.LoginsCount++
	if ip != "" {
		v.LastIP = &ip
	}
	return &v
}

// clientIPOf is the client's address as the request middleware recorded it,
// cut to the column's 64 characters.
func clientIPOf(ctx context.Context) string {
	ip := logs.RequestFrom(ctx).IP
	if len(ip) > 64 {
		ip = ip[:64]
	}
	return ip
}
