package authn_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/session"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mfa"
)

// pending is a password login as dbauth hands it over: its counter
// reserved, its login counters and s event left to the record.
func (e *env) pending(u *ent.User) authn.Authenticated {
	who := e.login(u)
	who.SessionID = ""
	who.Pending = &authn.Pending{
		CountLogin: true,
		Attempt:    &lockout.Key{Connection: "db", Identifier: *u.Email, IP: "198.51.100.7"},
		Event: logs.Event{ClientID: "app", Connection: "db", Strategy: "auth0", StrategyType: "database",
			UserID: u.UserID, UserName: *u.Email},
	}
	if err := e.db.LoginAttempt.Create().SetConnection("db").SetIdentifier(*u.Email).SetIP("198.51.100.7").
		SetFailures(3).SetLastFailureAt(e.now).Exec(sys); err != nil {
		e.t.Fatal(err)
	}
	return who
}

func (e *env) events(u *ent.User) []*ent.LogEvent {
	e.t.Helper()
	evs, err := e.db.LogEvent.Query().Where(logevent.UserID(u.UserID)).Order(ent.Asc(logevent.FieldDate)).All(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func (e *env) sessionsOf(u *ent.User) []*ent.Session {
	return e.db.Session.Query().Where(session.UserRef(u.ID)).AllX(sys)
}

func (e *env) attempts() int { return e.db.LoginAttempt.Query().CountX(sys) }

// TestFinalizeRecords: a login with something pending is recorded once
// decided, and only then: an issued login gets its s event, its session,
// its counters and the end of its brute-force counter; a refused one an f
// event with the reason and no session; a login whose rules refused it no
// event of Finalize's (the rules log theirs); a login that must pass a
// second factor its session (the factor's page is bound to it).
func TestFinalizeRecords(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		var seenCount int
		e.rules = func(_ context.Context, ev *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			seenCount = ev.User.LoginsCount
			return &authn.CustomClaims{}, nil
		}
		res := e.finalize(e.request(), e.pending(e.alice))
		if res.Outcome != authn.Issue || res.Session == nil || res.SessionID != res.Session.Session.ID {
			t.Fatalf("issued: %+v", res)
		}
		if seenCount != 1 || res.User.LoginsCount != 1 {
			t.Fatalf("the rules saw logins_count %d, the result has %d: want this login counted (1)", seenCount, res.User.LoginsCount)
		}
		got := e.db.User.GetX(sys, e.alice.ID)
		if got.LoginsCount != 1 || got.LastLogin == nil || !got.LastLogin.Equal(e.now) {
			t.Fatalf("counters: %+v", got)
		}
		if n := e.attempts(); n != 0 {
			t.Fatalf("the correct password's counter survived: %d", n)
		}
		ses := e.sessionsOf(e.alice)
		if len(ses) != 1 || ses[0].ID != res.SessionID || ses[0].Connection != "db" || !slices.Equal(ses[0].Amr, []string{"pwd"}) {
			t.Fatalf("sessions: %+v", ses)
		}
		if evs := e.events(e.alice); len(evs) != 1 || evs[0].Type != logs.TypeSuccessLogin || evs[0].ClientID != "app" || evs[0].Strategy != "auth0" {
			t.Fatalf("events: %+v", evs)
		}

		// Refused before the rules (the connection is not enabled): f with
		// the reason, no session, the counter still ended.
		bob := e.user("bob")
		who := e.pending(bob)
		who.Connection = "other"
		wantDenied(t, e.finalize(e.request(), who), "access_denied", "not enabled")
		if evs := e.events(bob); len(evs) != 1 || evs[0].Type != logs.TypeFailedLogin || evs[0].Description != "the connection is not enabled" {
			t.Fatalf("refused login's events: %+v", evs)
		}
		if n := len(e.sessionsOf(bob)); n != 0 || e.attempts() != 0 {
			t.Fatalf("a refused login left %d sessions, %d counters", n, e.attempts())
		}

		// Blocked: f "user is blocked", the counters still bumped (the
		// password was right), no session.
		carol := e.user("carol")
		e.db.User.UpdateOneID(carol.ID).SetBlocked(true).ExecX(sys)
		wantDenied(t, e.finalize(e.request(), e.pending(carol)), "unauthorized", "user is blocked")
		if evs := e.events(carol); len(evs) != 1 || evs[0].Type != logs.TypeFailedLogin || evs[0].Description != authn.BlockedDescription {
			t.Fatalf("blocked login's events: %+v", evs)
		}
		if got := e.db.User.GetX(sys, carol.ID); got.LoginsCount != 1 || len(e.sessionsOf(carol)) != 0 {
			t.Fatalf("blocked: counters %d, sessions %d", got.LoginsCount, len(e.sessionsOf(carol)))
		}

		// Denied by a rule: the rules logged it; Finalize writes no event
		// and no session, and ends the counter.
		dave := e.user("dave")
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return nil, &authn.DenyError{Reason: "not today"}
		}
		wantDenied(t, e.finalize(e.request(), e.pending(dave)), "access_denied", "not today")
		if evs := e.events(dave); len(evs) != 0 || len(e.sessionsOf(dave)) != 0 || e.attempts() != 0 {
			t.Fatalf("rule-denied login: events %+v, sessions %d, counters %d", evs, len(e.sessionsOf(dave)), e.attempts())
		}

		// A server error in the rules: nothing recorded but the end of the
		// counter (the password was right).
		erin := e.user("erin")
		e.rules = func(context.Context, *authn.ClaimsEvent) (*authn.CustomClaims, error) {
			return nil, errors.New("the engine broke")
		}
		if _, err := e.f.Finalize(context.Background(), e.request(), e.pending(erin)); err == nil {
			t.Fatal("a rules error was not an error")
		}
		if evs := e.events(erin); len(evs) != 0 || len(e.sessionsOf(erin)) != 0 || e.attempts() != 0 {
			t.Fatalf("failed login: events %+v, sessions %d, counters %d", evs, len(e.sessionsOf(erin)), e.attempts())
		}

		// A second factor required: the session is opened now, for the
		// factor's page; the login is finished by a second Finalize with
		// nothing pending, which records nothing more.
		e.rules = nil
		e.policy(mfa.PolicyAlways)
		frank := e.user("frank")
		res = e.finalize(e.request(), e.pending(frank))
		if res.Outcome != authn.NeedMFA || res.Session == nil || len(e.sessionsOf(frank)) != 1 {
			t.Fatalf("need MFA: %+v, sessions %d", res, len(e.sessionsOf(frank)))
		}
		back := e.login(frank)
		back.SessionID, back.AMR = res.SessionID, []string{"pwd", "otp", "mfa"}
		res = e.finalize(e.request(), back)
		if res.Outcome != authn.Issue || res.Session != nil || res.SessionID != back.SessionID ||
			len(e.sessionsOf(frank)) != 1 || len(e.events(frank)) != 1 {
			t.Fatalf("after the factor: %+v, sessions %d, events %d", res, len(e.sessionsOf(frank)), len(e.events(frank)))
		}
	})
}

// TestEstablish: a login no application asked for gets its session, or,
// for a blocked user, an f event and none.
func TestEstablish(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		res, err := e.f.Establish(context.Background(), e.pending(e.alice))
		if err != nil || res.Session == nil || len(e.sessionsOf(e.alice)) != 1 {
			t.Fatalf("established: %+v, %v", res, err)
		}
		bob := e.user("bob")
		e.db.User.UpdateOneID(bob.ID).SetBlocked(true).ExecX(sys)
		res, err = e.f.Establish(context.Background(), e.pending(bob))
		if err != nil || res.Session != nil || res.Outcome != authn.Denied || len(e.sessionsOf(bob)) != 0 {
			t.Fatalf("blocked: %+v, %v", res, err)
		}
		if evs := e.events(bob); len(evs) != 1 || evs[0].Description != authn.BlockedDescription {
			t.Fatalf("blocked events: %+v", evs)
		}
	})
}
