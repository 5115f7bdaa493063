// Package storetest holds the implementations of authn.Store to the
// behaviour the interface documents. Run writes records through a store and
// reads the database back through ent: the login counters, the brute-force
// counter, the password hash upgrade, the log event and the session, all or
// nothing, with a user found blocked (even by a block committed while the
// record was being written) logged as f "user is blocked" and given no
// session.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/session"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/sessions"
)

// Run checks s, a store writing to db, against authn.Store's behaviour. db
// must be migrated. Run makes its own connection, users, identities and
// brute-force counters; its cases run one after the other, since some of
// them check that nothing at all was written.
func Run(t *testing.T, db *ent.Client, s authn.Store) {
	t.Helper()
	h := &harness{db: db, s: s, base: time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC)}
	conn, err := db.Connection.Create().SetName("storetest-" + strings.ToLower(string(pulid.MustNew("tst_")))).
		SetStrategy(connection.StrategyDatabase).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	h.conn = conn
	for _, c := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"CountsLogin", h.countsLogin},
		{"CountLoginFalse", h.countLoginFalse},
		{"EmptyIPKeepsLastIP", h.emptyIPKeepsLastIP},
		{"EndsAttempt", h.endsAttempt},
		{"UpgradesHash", h.upgradesHash},
		{"Event", h.event},
		{"EventTruncated", h.eventTruncated},
		{"NoEventNoSession", h.noEventNoSession},
		{"Session", h.session},
		{"Blocked", h.blocked},
		{"BlockedWithoutEvent", h.blockedWithoutEvent},
		{"BlockCommittedBefore", h.blockCommittedBefore},
		{"BlockCommittedWhileWaiting", h.blockCommittedWhileWaiting},
		{"UnknownUser", h.unknownUser},
		{"AllOrNothing", h.allOrNothing},
		{"TwoLogins", h.twoLogins},
		{"ConcurrentLogins", h.concurrentLogins},
	} {
		t.Run(c.name, c.fn)
	}
}

var sys = authz.SystemContext(context.Background())

// The addresses: the client's as the request middleware recorded it (the
// event's), and the one the record is given for last_ip. Finalize passes
// the same one to both; they differ here so that each is seen where it
// belongs.
const (
	reqIP  = "198.51.100.23"
	reqUA  = "Mozilla/5.0 (storetest) Conformance/1.0"
	recIP  = "203.0.113.7"
	oldIP  = "192.0.2.1"
	oldPwd = "$argon2id$v=19$m=65536,t=3,p=4$b2xk$b2xk"
	newPwd = "$argon2id$v=19$m=47104,t=1,p=1$bmV3$bmV3"
)

type harness struct {
	db   *ent.Client
	s    authn.Store
	conn *ent.Connection
	base time.Time
	seq  atomic.Int64
}

// reqCtx is the context of a login request: the client's address and user
// agent, and no privileges (the store writes as the server).
func reqCtx() context.Context {
	return logs.WithRequest(context.Background(), logs.Request{IP: reqIP, UserAgent: reqUA})
}

// now is a new instant for a record, after every earlier one.
func (h *harness) now() time.Time {
	return h.base.Add(time.Duration(h.seq.Add(1)) * time.Minute)
}

// user is a new user who logged in 3 times, last from oldIP an hour before
// base.
func (h *harness) user(t *testing.T, blocked bool) *ent.User {
	t.Helper()
	name := fmt.Sprintf("u%d", h.seq.Add(1))
	u, err := h.db.User.Create().SetUserID("auth0|storetest-" + name + "-" + strings.ToLower(string(pulid.MustNew("tst_")))).
		SetEmail(name + "@example.test").SetBlocked(blocked).
		SetLoginsCount(3).SetLastIP(oldIP).SetLastLogin(h.base.Add(-time.Hour)).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	return h.reload(t, u.ID)
}

func (h *harness) reload(t *testing.T, id pulid.ID) *ent.User {
	t.Helper()
	u, err := h.db.User.Get(sys, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// identity is a new database identity of u with the password hash oldPwd.
func (h *harness) identity(t *testing.T, u *ent.User) *ent.Identity {
	t.Helper()
	i, err := h.db.Identity.Create().SetOwnerID(u.ID).SetConnectionID(h.conn.ID).SetProvider("auth0").
		SetUpstreamID(fmt.Sprintf("storetest-%d", h.seq.Add(1))).SetPasswordHash(oldPwd).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// attempt is a brute-force counter row of key.
func (h *harness) attempt(t *testing.T, key lockout.Key) *ent.LoginAttempt {
	t.Helper()
	a, err := h.db.LoginAttempt.Create().SetConnection(key.Connection).SetIdentifier(key.Identifier).
		SetIP(key.IP).SetFailures(2).SetLastFailureAt(h.base).Save(sys)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// opening is a new session of the user, opened at now, and its manager.
func (h *harness) opening(t *testing.T, userID pulid.ID, now time.Time) (*sessions.Manager, *sessions.Opening) {
	t.Helper()
	m := &sessions.Manager{DB: h.db, Now: func() time.Time { return now }}
	o, err := m.Opening(sessions.Params{
		UserID: userID, AuthTime: now.Add(-3 * time.Second), AMR: []string{"pwd", "otp"},
		Connection: h.conn.Name, IP: reqIP, UserAgent: reqUA,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, o
}

// eventOf is a login's event as a strategy and Finalize make it.
func (h *harness) eventOf(u *ent.User) *logs.Event {
	return &logs.Event{
		Type: logs.TypeSuccessLogin, Description: "storetest login", ClientID: "storetest-client",
		ClientName: "Storetest App", Connection: h.conn.Name, ConnectionID: string(h.conn.ID),
		Strategy: "auth0", StrategyType: "database", UserID: u.UserID, UserName: *u.Email,
		Details: map[string]any{
			"prompts": []any{map[string]any{"name": "login", "elapsed": float64(12)}},
			"stats":   map[string]any{"loginsCount": float64(4)},
			"ok":      true,
			"note":    "quote \" and unicode é",
		},
	}
}

func (h *harness) record(t *testing.T, rec *authn.Record) authn.Recorded {
	t.Helper()
	done, err := h.s.Record(reqCtx(), rec)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	return done
}

// wantCounted checks that u (as it was before) now has the login of rec
// counted: last_login and updated_at rec.Now, last_ip rec.IP (unless ""),
// logins_count one more.
func (h *harness) wantCounted(t *testing.T, before *ent.User, rec *authn.Record) {
	t.Helper()
	got := h.reload(t, before.ID)
	wantIP := rec.IP
	if wantIP == "" {
		wantIP = fmtStr(before.LastIP)
	}
	if got.LoginsCount != before.LoginsCount+1 || !timeIs(got.LastLogin, rec.Now) || !strIs(got.LastIP, wantIP) ||
		!got.UpdatedAt.Equal(rec.Now) {
		t.Errorf("user after a counted login: logins_count %d, last_login %v, last_ip %v, updated_at %v; want %d, %v, %q, %v",
			got.LoginsCount, fmtTime(got.LastLogin), fmtStr(got.LastIP), got.UpdatedAt,
			before.LoginsCount+1, rec.Now, wantIP, rec.Now)
	}
	if got.Blocked != before.Blocked {
		t.Errorf("user's blocked changed to %v", got.Blocked)
	}
}

// wantNotCounted checks that u's login counters are as they were, and only
// updated_at moved to now.
func (h *harness) wantNotCounted(t *testing.T, before *ent.User, now time.Time) {
	t.Helper()
	got := h.reload(t, before.ID)
	if got.LoginsCount != before.LoginsCount || !timeIs(got.LastLogin, *before.LastLogin) || !strIs(got.LastIP, *before.LastIP) {
		t.Errorf("user after an uncounted record: logins_count %d, last_login %v, last_ip %v; want them unchanged: %d, %v, %q",
			got.LoginsCount, fmtTime(got.LastLogin), fmtStr(got.LastIP), before.LoginsCount, *before.LastLogin, *before.LastIP)
	}
	if !got.UpdatedAt.Equal(now) {
		t.Errorf("user's updated_at %v, want the record's time %v", got.UpdatedAt, now)
	}
}

// events are the log events of u, oldest first.
func (h *harness) events(t *testing.T, u *ent.User) []*ent.LogEvent {
	t.Helper()
	evs, err := h.db.LogEvent.Query().Where(logevent.UserID(u.UserID)).Order(ent.Asc(logevent.FieldDate), ent.Asc(logevent.FieldID)).All(sys)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// sessionsOf are the session rows of u.
func (h *harness) sessionsOf(t *testing.T, id pulid.ID) []*ent.Session {
	t.Helper()
	ss, err := h.db.Session.Query().Where(session.UserRef(id)).All(sys)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// wantEvent checks that got is want as written at date, with the request's
// address and user agent.
func wantEvent(t *testing.T, got *ent.LogEvent, want logs.Event, date time.Time) {
	t.Helper()
	type row struct {
		Type, Description, IP, UserAgent, ClientID, ClientName, Connection, ConnectionID string
		Strategy, StrategyType, UserID, UserName                                         string
	}
	g := row{got.Type, got.Description, got.IP, got.UserAgent, got.ClientID, got.ClientName, got.Connection,
		got.ConnectionID, got.Strategy, got.StrategyType, got.UserID, got.UserName}
	w := row{want.Type, want.Description, reqIP, reqUA, want.ClientID, want.ClientName, want.Connection,
		want.ConnectionID, want.Strategy, want.StrategyType, want.UserID, want.UserName}
	if g != w {
		t.Errorf("event\n got %+v\nwant %+v", g, w)
	}
	if !got.Date.Equal(date) {
		t.Errorf("event date %v, want the record's time %v", got.Date, date)
	}
	if !reflect.DeepEqual(got.Details, want.Details) {
		t.Errorf("event details %#v, want %#v", got.Details, want.Details)
	}
	if !strings.HasPrefix(string(got.ID), "log_") {
		t.Errorf("event id %q, want a log_ id", got.ID)
	}
}

// wantSession checks that the row of o's session is o.Session, field by
// field, and that the session works: the cookie Open sets finds it.
func (h *harness) wantSession(t *testing.T, m *sessions.Manager, o *sessions.Opening) {
	t.Helper()
	want := o.Session
	got, err := h.db.Session.Get(sys, want.ID)
	if err != nil {
		t.Fatalf("the session row: %v", err)
	}
	type row struct {
		ID, UserRef                                      pulid.ID
		TokenHash, Connection, IP, UserAgent             string
		Amr                                              []string
		Created, Updated, Auth, Seen, IdleExpiry, Expiry time.Time
	}
	norm := func(s *ent.Session) row {
		return row{s.ID, s.UserRef, s.TokenHash, s.Connection, s.IP, s.UserAgent, s.Amr,
			s.CreatedAt.UTC(), s.UpdatedAt.UTC(), s.AuthTime.UTC(), s.LastSeenAt.UTC(), s.IdleExpiresAt.UTC(), s.ExpiresAt.UTC()}
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("session row\n got %+v\nwant %+v", g, w)
	}
	if got.RevokedAt != nil {
		t.Errorf("session revoked at %v", *got.RevokedAt)
	}
	// The browser's cookie finds the row (token_hash) and its user (user_ref).
	ctx := context.Background()
	w := httptest.NewRecorder()
	m.Open(ctx, w, httptest.NewRequest(http.MethodGet, "/", nil), o)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	cur, err := m.Current(ctx, r)
	if err != nil {
		t.Fatalf("the stored session is not usable: %v", err)
	}
	if cur.ID != want.ID || cur.UserRef != want.UserRef {
		t.Errorf("the cookie finds session %s of %s, want %s of %s", cur.ID, cur.UserRef, want.ID, want.UserRef)
	}
}

// state is what a record can change anywhere in the database.
type state struct {
	users      map[pulid.ID]string
	identities map[pulid.ID]string
	attempts   map[pulid.ID]string
	events     int
	sessions   int
}

func (h *harness) state(t *testing.T) state {
	t.Helper()
	st := state{users: map[pulid.ID]string{}, identities: map[pulid.ID]string{}, attempts: map[pulid.ID]string{}}
	us, err := h.db.User.Query().All(sys)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		st.users[u.ID] = fmt.Sprintf("count=%d last_login=%v last_ip=%v updated_at=%v blocked=%v",
			u.LoginsCount, fmtTime(u.LastLogin), fmtStr(u.LastIP), u.UpdatedAt.UTC(), u.Blocked)
	}
	is, err := h.db.Identity.Query().All(sys)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range is {
		st.identities[i.ID] = fmt.Sprintf("hash=%v updated_at=%v", fmtStr(i.PasswordHash), i.UpdatedAt.UTC())
	}
	as, err := h.db.LoginAttempt.Query().All(sys)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		st.attempts[a.ID] = fmt.Sprintf("%s/%s/%s failures=%d", a.Connection, a.Identifier, a.IP, a.Failures)
	}
	if st.events, err = h.db.LogEvent.Query().Count(sys); err != nil {
		t.Fatal(err)
	}
	if st.sessions, err = h.db.Session.Query().Count(sys); err != nil {
		t.Fatal(err)
	}
	return st
}

// wantUnchanged checks that nothing a record writes changed since before.
func (h *harness) wantUnchanged(t *testing.T, before state) {
	t.Helper()
	after := h.state(t)
	diff := func(what string, b, a map[pulid.ID]string) {
		for id, v := range a {
			if bv, ok := b[id]; !ok {
				t.Errorf("%s %s appeared: %s", what, id, v)
			} else if bv != v {
				t.Errorf("%s %s changed:\n  was %s\n  now %s", what, id, bv, v)
			}
		}
		for id := range b {
			if _, ok := a[id]; !ok {
				t.Errorf("%s %s was deleted", what, id)
			}
		}
	}
	diff("user", before.users, after.users)
	diff("identity", before.identities, after.identities)
	diff("login attempt", before.attempts, after.attempts)
	if after.events != before.events {
		t.Errorf("%d log events written", after.events-before.events)
	}
	if after.sessions != before.sessions {
		t.Errorf("%d sessions written", after.sessions-before.sessions)
	}
}

// countsLogin: a whole login's record.
func (h *harness) countsLogin(t *testing.T) {
	u := h.user(t, false)
	now := h.now()
	m, o := h.opening(t, u.ID, now)
	ev := h.eventOf(u)
	rec := &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Event: ev, Session: o.Session}
	if done := h.record(t, rec); done.Blocked {
		t.Errorf("Recorded %+v for a user who is not blocked", done)
	}
	h.wantCounted(t, u, rec)
	evs := h.events(t, u)
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	wantEvent(t, evs[0], *ev, now)
	h.wantSession(t, m, o)
	if ss := h.sessionsOf(t, u.ID); len(ss) != 1 {
		t.Errorf("%d sessions, want 1", len(ss))
	}
}

// countLoginFalse: an upstream login's profile sync already counted it;
// the record moves updated_at only.
func (h *harness) countLoginFalse(t *testing.T) {
	u := h.user(t, false)
	now := h.now()
	m, o := h.opening(t, u.ID, now)
	ev := h.eventOf(u)
	h.record(t, &authn.Record{UserID: u.ID, Now: now, IP: recIP, Event: ev, Session: o.Session})
	h.wantNotCounted(t, u, now)
	if evs := h.events(t, u); len(evs) != 1 {
		t.Errorf("%d events, want 1", len(evs))
	} else {
		wantEvent(t, evs[0], *ev, now)
	}
	h.wantSession(t, m, o)
}

// emptyIPKeepsLastIP: a login without a client address counts, and keeps
// last_ip as it was.
func (h *harness) emptyIPKeepsLastIP(t *testing.T) {
	u := h.user(t, false)
	rec := &authn.Record{UserID: u.ID, Now: h.now(), CountLogin: true}
	h.record(t, rec)
	h.wantCounted(t, u, rec)
	if got := h.reload(t, u.ID); !strIs(got.LastIP, oldIP) {
		t.Errorf("last_ip %v, want %q kept", fmtStr(got.LastIP), oldIP)
	}
}

// endsAttempt: the brute-force counter of the key is deleted, no other.
// The record is the one of a login that failed on a server error after the
// right password (Finalizer.release): the counter and nothing else.
func (h *harness) endsAttempt(t *testing.T) {
	u := h.user(t, false)
	ident := strings.ToLower(*u.Email)
	key := lockout.Key{Connection: h.conn.Name, Identifier: ident, IP: recIP}
	gone := h.attempt(t, key)
	otherIP := h.attempt(t, lockout.Key{Connection: h.conn.Name, Identifier: ident, IP: "203.0.113.8"})
	otherConn := h.attempt(t, lockout.Key{Connection: h.conn.Name + "-other", Identifier: ident, IP: recIP})
	otherIdent := h.attempt(t, lockout.Key{Connection: h.conn.Name, Identifier: "x" + ident, IP: recIP})
	now := h.now()
	h.record(t, &authn.Record{UserID: u.ID, Now: now, Attempt: &lockout.Key{Connection: key.Connection, Identifier: key.Identifier, IP: key.IP}})
	left, err := h.db.LoginAttempt.Query().Where(loginattempt.IDIn(gone.ID, otherIP.ID, otherConn.ID, otherIdent.ID)).IDs(sys)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(left)
	want := []pulid.ID{otherIP.ID, otherConn.ID, otherIdent.ID}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("login attempts left %v, want %v (%s deleted, the rest kept)", left, want, gone.ID)
	}
	h.wantNotCounted(t, u, now)
	if evs := h.events(t, u); len(evs) != 0 {
		t.Errorf("%d events written without an event", len(evs))
	}
	if ss := h.sessionsOf(t, u.ID); len(ss) != 0 {
		t.Errorf("%d sessions written without a session", len(ss))
	}

	// No attempt: no counter is deleted.
	before := h.state(t)
	now = h.now()
	h.record(t, &authn.Record{UserID: u.ID, Now: now})
	delete(before.users, u.ID)
	after := h.state(t)
	delete(after.users, u.ID)
	if !maps.Equal(before.attempts, after.attempts) {
		t.Errorf("a record without an attempt changed login attempts:\n  was %v\n  now %v", before.attempts, after.attempts)
	}
}

// upgradesHash: only the named identity's hash is replaced, and only when
// both the identity and the hash are given.
func (h *harness) upgradesHash(t *testing.T) {
	u := h.user(t, false)
	named, sibling := h.identity(t, u), h.identity(t, u)
	stranger := h.identity(t, h.user(t, false))
	hashes := func() map[pulid.ID]string {
		t.Helper()
		out := map[pulid.ID]string{}
		for _, i := range []*ent.Identity{named, sibling, stranger} {
			got, err := h.db.Identity.Get(sys, i.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[i.ID] = fmtStr(got.PasswordHash)
		}
		return out
	}
	want := map[pulid.ID]string{named.ID: oldPwd, sibling.ID: oldPwd, stranger.ID: oldPwd}
	// Half an upgrade is none.
	h.record(t, &authn.Record{UserID: u.ID, Now: h.now(), UpgradeIdentity: named.ID})
	h.record(t, &authn.Record{UserID: u.ID, Now: h.now(), UpgradeHash: newPwd})
	if got := hashes(); !maps.Equal(got, want) {
		t.Errorf("half an upgrade changed hashes: %v, want %v", got, want)
	}
	rec := &authn.Record{UserID: u.ID, Now: h.now(), IP: recIP, CountLogin: true, UpgradeIdentity: named.ID, UpgradeHash: newPwd}
	before := h.reload(t, u.ID)
	h.record(t, rec)
	want[named.ID] = newPwd
	if got := hashes(); !maps.Equal(got, want) {
		t.Errorf("hashes after the upgrade %v, want %v", got, want)
	}
	h.wantCounted(t, before, rec)
}

// event: every field as given, dated rec.Now, with the request's address
// and user agent; an event without details has none.
func (h *harness) event(t *testing.T) {
	u := h.user(t, false)
	ev := h.eventOf(u)
	now := h.now()
	h.record(t, &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Event: ev})
	bare := &logs.Event{Type: logs.TypeFailedLogin, Description: "Wrong email or password.", UserID: u.UserID}
	later := h.now()
	h.record(t, &authn.Record{UserID: u.ID, Now: later, Event: bare})
	evs := h.events(t, u)
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	wantEvent(t, evs[0], *ev, now)
	wantEvent(t, evs[1], *bare, later)
	if evs[0].ID == evs[1].ID {
		t.Errorf("two events share the id %s", evs[0].ID)
	}
	// The event is written as given: the store does not touch the caller's.
	if !reflect.DeepEqual(ev, h.eventOf(u)) {
		t.Errorf("Record changed the caller's event to %+v", ev)
	}
}

// eventTruncated: the fields are cut to their columns as logs.Write cuts
// them (description 2048, user name, address and user agent 512).
func (h *harness) eventTruncated(t *testing.T) {
	u := h.user(t, false)
	ev := h.eventOf(u)
	ev.Description = strings.Repeat("d", 3000)
	ev.UserName = strings.Repeat("n", 600)
	ctx := logs.WithRequest(context.Background(), logs.Request{IP: strings.Repeat("i", 600), UserAgent: strings.Repeat("a", 600)})
	now := h.now()
	if _, err := h.s.Record(ctx, &authn.Record{UserID: u.ID, Now: now, Event: ev}); err != nil {
		t.Fatalf("Record: %v", err)
	}
	evs := h.events(t, u)
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	got := evs[0]
	if got.Description != ev.Description[:2048] || got.UserName != ev.UserName[:512] ||
		got.IP != strings.Repeat("i", 512) || got.UserAgent != strings.Repeat("a", 512) {
		t.Errorf("lengths of description %d, user name %d, ip %d, user agent %d; want 2048, 512, 512, 512",
			len(got.Description), len(got.UserName), len(got.IP), len(got.UserAgent))
	}

	// A character cut by the limit is dropped whole: half of one is not
	// text (Postgres refuses it), and the login must not fail for a
	// client's long user agent. The session's copy is cut the same way.
	u = h.user(t, false)
	ev = h.eventOf(u)
	ev.Description = strings.Repeat("d", 2047) + "é"
	ua := strings.Repeat("a", 511) + "é"
	ctx = logs.WithRequest(context.Background(), logs.Request{IP: "192.0.2.1", UserAgent: ua})
	o, err := (&sessions.Manager{DB: h.db}).Opening(sessions.Params{UserID: u.ID, AuthTime: now, UserAgent: ua})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Record(ctx, &authn.Record{UserID: u.ID, Now: now, Event: ev, Session: o.Session}); err != nil {
		t.Fatalf("Record with a multi-byte character at the limit: %v", err)
	}
	evs = h.events(t, u)
	if len(evs) != 1 || evs[0].Description != strings.Repeat("d", 2047) || evs[0].UserAgent != strings.Repeat("a", 511) {
		t.Errorf("multi-byte cut: %d events; description %d bytes, user agent %q…", len(evs), len(evs[0].Description), evs[0].UserAgent[:8])
	}
	if got := h.db.Session.GetX(authz.SystemContext(context.Background()), o.Session.ID); got.UserAgent != strings.Repeat("a", 511) {
		t.Errorf("session user agent: %d bytes", len(got.UserAgent))
	}
}

// noEventNoSession: a nil event writes none (the rules logged their
// denial), a nil session stores none.
func (h *harness) noEventNoSession(t *testing.T) {
	u := h.user(t, false)
	before := h.state(t)
	rec := &authn.Record{UserID: u.ID, Now: h.now(), IP: recIP, CountLogin: true}
	if done := h.record(t, rec); done.Blocked {
		t.Errorf("Recorded %+v", done)
	}
	h.wantCounted(t, u, rec)
	delete(before.users, u.ID)
	after := h.state(t)
	delete(after.users, u.ID)
	if after.events != before.events || after.sessions != before.sessions {
		t.Errorf("events %d → %d, sessions %d → %d; want none written", before.events, after.events, before.sessions, after.sessions)
	}
}

// session: the row is the Opening's, field by field, and usable.
func (h *harness) session(t *testing.T) {
	u := h.user(t, false)
	now := h.now()
	m, o := h.opening(t, u.ID, now)
	want := *o.Session
	h.record(t, &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Session: o.Session})
	if !reflect.DeepEqual(*o.Session, want) {
		t.Errorf("Record changed the caller's session to %+v", *o.Session)
	}
	h.wantSession(t, m, o)
	if evs := h.events(t, u); len(evs) != 0 {
		t.Errorf("%d events written without an event", len(evs))
	}
	// A session without methods stores an empty list, as sessions.Insert.
	m2 := &sessions.Manager{DB: h.db, Now: func() time.Time { return now }}
	o2, err := m2.Opening(sessions.Params{UserID: u.ID, AuthTime: now})
	if err != nil {
		t.Fatal(err)
	}
	h.record(t, &authn.Record{UserID: u.ID, Now: h.now(), Session: o2.Session})
	h.wantSession(t, m2, o2)
	// Every time is the row's own, not the creation time for all.
	_, o3 := h.opening(t, u.ID, now)
	o3.Session.UpdatedAt = now.Add(time.Second)
	o3.Session.LastSeenAt = now.Add(2 * time.Second)
	o3.Session.IdleExpiresAt = now.Add(time.Hour)
	o3.Session.ExpiresAt = now.Add(2 * time.Hour)
	m3 := &sessions.Manager{DB: h.db, Now: func() time.Time { return now.Add(3 * time.Second) }}
	h.record(t, &authn.Record{UserID: u.ID, Now: h.now(), Session: o3.Session})
	h.wantSession(t, m3, o3)
}

// blocked: a blocked user's correct password still counts (and ends the
// brute-force counter, and upgrades the hash), but the login is logged as
// f "user is blocked" and opens no session.
func (h *harness) blocked(t *testing.T) {
	u := h.user(t, true)
	idn := h.identity(t, u)
	key := lockout.Key{Connection: h.conn.Name, Identifier: *u.Email, IP: recIP}
	att := h.attempt(t, key)
	now := h.now()
	_, o := h.opening(t, u.ID, now)
	ev := h.eventOf(u)
	rec := &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Attempt: &key,
		UpgradeIdentity: idn.ID, UpgradeHash: newPwd, Event: ev, Session: o.Session}
	if done := h.record(t, rec); !done.Blocked {
		t.Errorf("Recorded %+v for a blocked user, want Blocked", done)
	}
	h.wantCounted(t, u, rec)
	evs := h.events(t, u)
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	want := *ev
	want.Type, want.Description = logs.TypeFailedLogin, authn.BlockedDescription
	wantEvent(t, evs[0], want, now)
	if ss := h.sessionsOf(t, u.ID); len(ss) != 0 {
		t.Errorf("%d sessions stored for a blocked user", len(ss))
	}
	if n, err := h.db.Session.Query().Where(session.ID(o.Session.ID)).Count(sys); err != nil || n != 0 {
		t.Errorf("session %s stored (%d, %v)", o.Session.ID, n, err)
	}
	if n, err := h.db.LoginAttempt.Query().Where(loginattempt.ID(att.ID)).Count(sys); err != nil || n != 0 {
		t.Errorf("the blocked user's brute-force counter is left (%d, %v)", n, err)
	}
	if got, err := h.db.Identity.Get(sys, idn.ID); err != nil || !strIs(got.PasswordHash, newPwd) {
		t.Errorf("the blocked user's hash was not upgraded (%v)", err)
	}
	if ev.Type != logs.TypeSuccessLogin || ev.Description != "storetest login" {
		t.Errorf("Record changed the caller's event to %+v", ev)
	}
}

// blockedWithoutEvent: no event given, none written, even for a blocked
// user.
func (h *harness) blockedWithoutEvent(t *testing.T) {
	u := h.user(t, true)
	now := h.now()
	_, o := h.opening(t, u.ID, now)
	rec := &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Session: o.Session}
	if done := h.record(t, rec); !done.Blocked {
		t.Errorf("Recorded %+v for a blocked user, want Blocked", done)
	}
	h.wantCounted(t, u, rec)
	if evs := h.events(t, u); len(evs) != 0 {
		t.Errorf("%d events written without an event", len(evs))
	}
	if ss := h.sessionsOf(t, u.ID); len(ss) != 0 {
		t.Errorf("%d sessions stored for a blocked user", len(ss))
	}
}

// blockCommittedBefore: the user was loaded unblocked when the login was
// decided, then blocked by an administrator before the record: the record
// sees the block.
func (h *harness) blockCommittedBefore(t *testing.T) {
	u := h.user(t, false)
	if err := h.db.User.UpdateOneID(u.ID).SetBlocked(true).Exec(sys); err != nil {
		t.Fatal(err)
	}
	u = h.reload(t, u.ID)
	now := h.now()
	_, o := h.opening(t, u.ID, now)
	rec := &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Event: h.eventOf(u), Session: o.Session}
	if done := h.record(t, rec); !done.Blocked {
		t.Errorf("Recorded %+v after a committed block, want Blocked", done)
	}
	h.wantCounted(t, u, rec)
	if evs := h.events(t, u); len(evs) != 1 || evs[0].Type != logs.TypeFailedLogin || evs[0].Description != authn.BlockedDescription {
		t.Errorf("events %v, want one f %q", evs, authn.BlockedDescription)
	}
	if ss := h.sessionsOf(t, u.ID); len(ss) != 0 {
		t.Errorf("%d sessions stored for a blocked user", len(ss))
	}
}

// blockCommittedWhileWaiting: another transaction blocks the user and holds
// the row while Record starts; Record waits for it and sees the block once
// it commits.
func (h *harness) blockCommittedWhileWaiting(t *testing.T) {
	u := h.user(t, false)
	tx, err := h.db.Tx(sys)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.User.UpdateOneID(u.ID).SetBlocked(true).Exec(sys); err != nil {
		t.Fatal(err)
	}
	now := h.now()
	_, o := h.opening(t, u.ID, now)
	rec := &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Event: h.eventOf(u), Session: o.Session}
	type result struct {
		done authn.Recorded
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		done, err := h.s.Record(reqCtx(), rec)
		ch <- result{done, err}
	}()
	select {
	case r := <-ch:
		t.Fatalf("Record returned %+v, %v while another transaction held the user's row", r.done, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("Record still waits 30s after the block committed")
	}
	if r.err != nil {
		t.Fatalf("Record: %v", r.err)
	}
	if !r.done.Blocked {
		t.Errorf("Recorded %+v after a block committed while it waited, want Blocked", r.done)
	}
	blocked := *u
	blocked.Blocked = true
	h.wantCounted(t, &blocked, rec)
	if evs := h.events(t, u); len(evs) != 1 || evs[0].Type != logs.TypeFailedLogin || evs[0].Description != authn.BlockedDescription {
		t.Errorf("events %v, want one f %q", evs, authn.BlockedDescription)
	}
	if ss := h.sessionsOf(t, u.ID); len(ss) != 0 {
		t.Errorf("%d sessions stored for a blocked user", len(ss))
	}
}

// unknownUser: a user deleted while the login was decided is an
// *ent.NotFoundError, and nothing at all is written.
func (h *harness) unknownUser(t *testing.T) {
	owner := h.user(t, false)
	idn := h.identity(t, owner)
	key := lockout.Key{Connection: h.conn.Name, Identifier: "gone@example.test", IP: recIP}
	h.attempt(t, key)
	gone := pulid.MustNew("usr_")
	now := h.now()
	_, o := h.opening(t, gone, now)
	ev := h.eventOf(owner)
	ev.UserID = "auth0|gone"
	before := h.state(t)
	done, err := h.s.Record(reqCtx(), &authn.Record{UserID: gone, Now: now, IP: recIP, CountLogin: true, Attempt: &key,
		UpgradeIdentity: idn.ID, UpgradeHash: newPwd, Event: ev, Session: o.Session})
	var nf *ent.NotFoundError
	if !errors.As(err, &nf) || !ent.IsNotFound(err) {
		t.Errorf("Record of an unknown user: %+v, %v (%T); want an *ent.NotFoundError", done, err, err)
	}
	h.wantUnchanged(t, before)

	// A deleted user: the same.
	u := h.user(t, false)
	if err := h.db.User.DeleteOneID(u.ID).Exec(sys); err != nil {
		t.Fatal(err)
	}
	before = h.state(t)
	_, err = h.s.Record(reqCtx(), &authn.Record{UserID: u.ID, Now: h.now(), IP: recIP, CountLogin: true, Attempt: &key,
		UpgradeIdentity: idn.ID, UpgradeHash: newPwd, Event: h.eventOf(u)})
	if !ent.IsNotFound(err) {
		t.Errorf("Record of a deleted user: %v, want an *ent.NotFoundError", err)
	}
	h.wantUnchanged(t, before)
}

// allOrNothing: when one write fails (here the session, whose id and token
// are already stored), none of the others is kept.
func (h *harness) allOrNothing(t *testing.T) {
	u := h.user(t, false)
	idn := h.identity(t, u)
	key := lockout.Key{Connection: h.conn.Name, Identifier: *u.Email, IP: recIP}
	h.attempt(t, key)
	now := h.now()
	_, o := h.opening(t, u.ID, now)
	if _, err := sessions.Insert(context.Background(), h.db, o.Session); err != nil {
		t.Fatal(err)
	}
	before := h.state(t)
	_, err := h.s.Record(reqCtx(), &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Attempt: &key,
		UpgradeIdentity: idn.ID, UpgradeHash: newPwd, Event: h.eventOf(u), Session: o.Session})
	if err == nil {
		t.Fatal("Record stored a session whose id and token are taken")
	}
	if ent.IsNotFound(err) {
		t.Errorf("a failed write reported as %v", err)
	}
	h.wantUnchanged(t, before)
}

// twoLogins: records are not idempotent; each is a login.
func (h *harness) twoLogins(t *testing.T) {
	u := h.user(t, false)
	first := &authn.Record{UserID: u.ID, Now: h.now(), IP: recIP, CountLogin: true, Event: h.eventOf(u)}
	_, o1 := h.opening(t, u.ID, first.Now)
	first.Session = o1.Session
	h.record(t, first)
	second := &authn.Record{UserID: u.ID, Now: h.now(), IP: "203.0.113.99", CountLogin: true, Event: h.eventOf(u)}
	_, o2 := h.opening(t, u.ID, second.Now)
	second.Session = o2.Session
	h.record(t, second)
	got := h.reload(t, u.ID)
	if got.LoginsCount != u.LoginsCount+2 || !timeIs(got.LastLogin, second.Now) || !strIs(got.LastIP, second.IP) {
		t.Errorf("after two logins: logins_count %d, last_login %v, last_ip %v; want %d, %v, %s",
			got.LoginsCount, fmtTime(got.LastLogin), fmtStr(got.LastIP), u.LoginsCount+2, second.Now, second.IP)
	}
	if evs := h.events(t, u); len(evs) != 2 {
		t.Errorf("%d events, want 2", len(evs))
	}
	if ss := h.sessionsOf(t, u.ID); len(ss) != 2 {
		t.Errorf("%d sessions, want 2", len(ss))
	}
}

// concurrentLogins: logins of one user recorded at once all count (no lost
// update of logins_count).
func (h *harness) concurrentLogins(t *testing.T) {
	const n = 6
	u := h.user(t, false)
	recs := make([]*authn.Record, n)
	for i := range recs {
		now := h.now()
		_, o := h.opening(t, u.ID, now)
		recs[i] = &authn.Record{UserID: u.ID, Now: now, IP: recIP, CountLogin: true, Event: h.eventOf(u), Session: o.Session}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, rec := range recs {
		wg.Go(func() { _, errs[i] = h.s.Record(reqCtx(), rec) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got := h.reload(t, u.ID)
	if got.LoginsCount != u.LoginsCount+n {
		t.Errorf("logins_count %d after %d concurrent logins from %d, want %d", got.LoginsCount, n, u.LoginsCount, u.LoginsCount+n)
	}
	if evs := h.events(t, u); len(evs) != n {
		t.Errorf("%d events, want %d", len(evs), n)
	}
	if ss := h.sessionsOf(t, u.ID); len(ss) != n {
		t.Errorf("%d sessions, want %d", len(ss), n)
	}
}

func timeIs(got *time.Time, want time.Time) bool { return got != nil && got.Equal(want) }

func strIs(got *string, want string) bool { return got != nil && *got == want }

func fmtTime(t *time.Time) string {
	if t == nil {
		return "<nil>"
	}
	return t.UTC().String()
}

func fmtStr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
