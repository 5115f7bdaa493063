package accounts_test

// The user use cases called directly, as every transport calls them, on
// SQLite and Postgres: the scope is checked before anything is looked up,
// and the change, its revocations and its sapi audit entry commit together
// or not at all.

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/accounts"
	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/grant"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/ticket"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	conn     = connections.DefaultDatabase
	password = "Correct-Horse-Battery-Staple-9"
	callerID = "accounts-test-client"
)

// env is one backend's server with the use cases built on its store.
type env struct {
	s   *apitest.Server
	svc *accounts.Service
	db  *ent.Client
}

func newEnv(s *apitest.Server) *env {
	d := s.Deps
	up := &upstream.Service{DB: d.DB.Ent, Connections: d.Connections, Sealer: d.Box, Logger: d.Logger, Issuer: d.Config.Issuer}
	if d.Rules != nil {
		up.Scripts = d.Rules.Engine
	}
	return &env{s: s, db: d.DB.Ent, svc: &accounts.Service{DB: d.DB.Ent, Auth: d.Auth, Upstream: up}}
}

// as is a caller (a client) holding scopes.
func as(scopes ...string) context.Context {
	return authz.NewContext(context.Background(), &authz.Viewer{Subject: callerID, ClientID: callerID, Scopes: scopes})
}

var sys = authz.SystemContext(context.Background())

// snapshot counts what a use case may write.
type snapshot struct{ users, identities, grants, tickets, logs int }

func (e *env) snap(t *testing.T) snapshot {
	t.Helper()
	return snapshot{
		users:      e.db.User.Query().CountX(sys),
		identities: e.db.Identity.Query().CountX(sys),
		grants:     e.db.Grant.Query().Where(grant.RevokedAtIsNil()).CountX(sys),
		tickets:    e.db.Ticket.Query().CountX(sys),
		logs:       e.db.LogEvent.Query().CountX(sys),
	}
}

func (e *env) unchanged(t *testing.T, before snapshot) {
	t.Helper()
	if after := e.snap(t); after != before {
		t.Fatalf("the store changed: before %+v, after %+v", before, after)
	}
}

// audits returns the sapi entries of operation.
func (e *env) audits(t *testing.T, operation string) []*ent.LogEvent {
	t.Helper()
	all := e.db.LogEvent.Query().Where(logevent.Type("sapi")).AllX(sys)
	var out []*ent.LogEvent
	for _, l := range all {
		if l.Details["operation"] == operation {
			out = append(out, l)
		}
	}
	return out
}

// audited asserts exactly one sapi entry of operation, for userID, by the
// test's caller.
func (e *env) audited(t *testing.T, operation, description, userID string) {
	t.Helper()
	ls := e.audits(t, operation)
	if len(ls) != 1 {
		t.Fatalf("%s: %d sapi entries, want 1", operation, len(ls))
	}
	l := ls[0]
	if l.Description != description || l.UserID != userID || l.ClientID != callerID {
		t.Fatalf("%s entry: description %q user_id %q client_id %q; want %q %q %q",
			operation, l.Description, l.UserID, l.ClientID, description, userID, callerID)
	}
}

func (e *env) create(t *testing.T, email string) *ent.User {
	t.Helper()
	u, err := e.svc.Create(as("create:users"), identity.CreateInput{Connection: conn, Email: &email, Password: ptr(password)})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// grantFor gives u a live grant (a refresh-token chain) of some client.
func (e *env) grantFor(t *testing.T, u *ent.User) *ent.Grant {
	t.Helper()
	return e.db.Grant.Create().SetUserRef(u.ID).SetClientID("some-app").SetAuthTime(time.Now()).
		SetExpiresAt(time.Now().Add(time.Hour)).SaveX(sys)
}

func ptr[T any](v T) *T { return &v }

func set[T any](v T) identity.Patch[T] { return identity.Patch[T]{Set: true, Value: &v} }

func TestAccounts(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newEnv(s)
		t.Run("scope is checked before any lookup", func(t *testing.T) { testScopeFirst(t, e) })
		t.Run("create", func(t *testing.T) { testCreate(t, e) })
		t.Run("update", func(t *testing.T) { testUpdate(t, e) })
		t.Run("delete, link, unlink", func(t *testing.T) { testDeleteLinkUnlink(t, e) })
		t.Run("tickets and unblock", func(t *testing.T) { testTickets(t, e) })
		t.Run("administrators' accounts", func(t *testing.T) { testAdminControl(t, e) })
		t.Run("joins the caller's transaction", func(t *testing.T) { testCallerTx(t, e) })
	})
}

func testScopeFirst(t *testing.T, e *env) {
	// The caller holds every other user scope: each use case needs its
	// own. Unknown ids would be NOT_FOUND after a lookup; the scope error
	// comes first.
	all := []string{"read:users", "create:users", "update:users", "delete:users", "create:user_tickets"}
	without := func(scope string) context.Context {
		var held []string
		for _, s := range all {
			if s != scope {
				held = append(held, s)
			}
		}
		return as(held...)
	}
	calls := []struct {
		scope string
		call  func(ctx context.Context) error
	}{
		{"create:users", func(ctx context.Context) error {
			_, err := e.svc.Create(ctx, identity.CreateInput{Connection: "no-such-connection", Email: ptr("x@example.com")})
			return err
		}},
		{"update:users", func(ctx context.Context) error {
			_, err := e.svc.Update(ctx, "usr_nope", accounts.UpdateInput{Password: set("whatever")})
			return err
		}},
		{"delete:users", func(ctx context.Context) error { _, err := e.svc.Delete(ctx, "auth0|nope"); return err }},
		{"update:users", func(ctx context.Context) error { _, err := e.svc.Link(ctx, "usr_a", "usr_b"); return err }},
		{"update:users", func(ctx context.Context) error { _, err := e.svc.Unlink(ctx, "usr_a", conn, "b"); return err }},
		{"create:user_tickets", func(ctx context.Context) error {
			_, _, err := e.svc.PasswordChangeTicket(ctx, "usr_nope", dbauth.TicketOptions{})
			return err
		}},
		{"create:user_tickets", func(ctx context.Context) error {
			_, _, err := e.svc.EmailVerificationTicket(ctx, "usr_nope", dbauth.TicketOptions{})
			return err
		}},
		{"update:users", func(ctx context.Context) error { _, err := e.svc.UnblockAttempts(ctx, "x@example.com"); return err }},
	}
	before := e.snap(t)
	for i, c := range calls {
		var se *authz.ScopeError
		if err := c.call(without(c.scope)); !errors.As(err, &se) || se.Scope != c.scope {
			t.Fatalf("call %d without %s: %v, want a ScopeError for it", i, c.scope, err)
		}
		// With the scope, the same call gets past the check (and fails
		// on the unknown target, or succeeds for the identifier).
		var se2 *authz.ScopeError
		if err := c.call(as(c.scope)); errors.As(err, &se2) {
			t.Fatalf("call %d with %s: %v", i, c.scope, err)
		}
	}
	// Only the unblock of an identifier nobody blocked succeeded.
	before.logs++
	e.unchanged(t, before)
	e.audited(t, "unblockUserAttempts", "Unblock a user's login attempts", "")
}

func testCreate(t *testing.T, e *env) {
	before := e.snap(t)
	u := e.create(t, "Grace@Example.com")
	if u.Email == nil || *u.Email != "grace@example.com" || !strings.HasPrefix(u.UserID, "auth0|") {
		t.Fatalf("created %+v", u)
	}
	e.audited(t, "createUser", "Create a User", u.UserID)
	// The user, read in the use case's committed transaction, still loads
	// its edges.
	if ids, err := u.QueryIdentities().All(sys); err != nil || len(ids) != 1 {
		t.Fatalf("identities of the created user: %v, %v", ids, err)
	}
	// A validation error and a conflict write nothing, audit nothing.
	before = e.snap(t)
	_, err := e.svc.Create(as("create:users"), identity.CreateInput{Connection: conn, Email: ptr("not-an-email"), Password: ptr(password)})
	var ve *identity.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("invalid email: %v", err)
	}
	_, err = e.svc.Create(as("create:users"), identity.CreateInput{Connection: conn, Email: ptr("grace@example.com"), Password: ptr(password)})
	var ce *identity.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("duplicate email: %v", err)
	}
	e.unchanged(t, before)
}

func testUpdate(t *testing.T, e *env) {
	u := e.create(t, "ada@example.com")
	g := e.grantFor(t, u)
	up := as("update:users")

	// A null password is refused after the rest of the patch was applied:
	// the whole change rolls back, unaudited.
	before := e.snap(t)
	_, err := e.svc.Update(up, u.UserID, accounts.UpdateInput{
		UpdateInput: identity.UpdateInput{Nickname: set("changed")},
		Password:    identity.Patch[string]{Set: true},
	})
	var ve *identity.ValidationError
	if !errors.As(err, &ve) || ve.Field != "password" {
		t.Fatalf("null password: %v", err)
	}
	// A password the policy refuses: same.
	_, err = e.svc.Update(up, string(u.ID), accounts.UpdateInput{
		UpdateInput: identity.UpdateInput{Nickname: set("changed")},
		Password:    set("short"),
	})
	if err == nil {
		t.Fatal("weak password accepted")
	}
	e.unchanged(t, before)
	if got := e.db.User.GetX(sys, u.ID); got.Nickname != nil && *got.Nickname == "changed" {
		t.Fatal("the refused update changed the nickname")
	}

	// A password change ends the user's grants, in the same transaction as
	// its audit entry.
	got, err := e.svc.Update(up, string(u.ID), accounts.UpdateInput{
		UpdateInput: identity.UpdateInput{Nickname: set("countess")},
		Password:    set("Another-Horse-Battery-Staple-8"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Nickname == nil || *got.Nickname != "countess" || got.LastPasswordReset == nil {
		t.Fatalf("updated user %+v", got)
	}
	if g := e.db.Grant.GetX(sys, g.ID); g.RevokedAt == nil || g.RevokedReason != identity.RevokePasswordChanged {
		t.Fatalf("grant after a password change: revoked %v (%q)", g.RevokedAt, g.RevokedReason)
	}
	e.audited(t, "updateUser", "Update a User", u.UserID)

	// Blocking ends them too.
	g2 := e.grantFor(t, u)
	if got, err = e.svc.Update(up, u.UserID, accounts.UpdateInput{UpdateInput: identity.UpdateInput{Blocked: set(true)}}); err != nil || !got.Blocked {
		t.Fatalf("block: %v %+v", err, got)
	}
	if g := e.db.Grant.GetX(sys, g2.ID); g.RevokedAt == nil || g.RevokedReason != identity.RevokeUserBlocked {
		t.Fatalf("grant after blocking: revoked %v (%q)", g.RevokedAt, g.RevokedReason)
	}
	if n := len(e.audits(t, "updateUser")); n != 2 {
		t.Fatalf("%d updateUser entries, want 2", n)
	}
}

func testDeleteLinkUnlink(t *testing.T, e *env) {
	primary := e.create(t, "primary@example.com")
	secondary := e.create(t, "secondary@example.com")
	before := e.snap(t)
	_, err := e.svc.Link(as("update:users"), primary.UserID, "auth0|nobody")
	var nf *identity.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("link to an unknown user: %v", err)
	}
	e.unchanged(t, before)

	linked, err := e.svc.Link(as("update:users"), string(primary.ID), secondary.UserID)
	if err != nil || linked.ID != primary.ID {
		t.Fatalf("link: %v %+v", err, linked)
	}
	e.audited(t, "linkUser", "Link "+secondary.UserID+" to a User", primary.UserID)
	if n := linked.QueryIdentities().CountX(sys); n != 2 {
		t.Fatalf("linked user has %d identities, want 2", n)
	}

	upstreamID := strings.TrimPrefix(secondary.UserID, "auth0|")
	unlinked, err := e.svc.Unlink(as("update:users"), primary.UserID, conn, upstreamID)
	if err != nil || unlinked.ID != primary.ID {
		t.Fatalf("unlink: %v %+v", err, unlinked)
	}
	e.audited(t, "unlinkIdentity", "Unlink "+conn+"|"+upstreamID+" from a User", primary.UserID)

	before = e.snap(t)
	deleted, err := e.svc.Delete(as("delete:users"), primary.UserID)
	if err != nil || deleted.ID != primary.ID {
		t.Fatalf("delete: %v %+v", err, deleted)
	}
	if e.db.User.Query().Where(user.ID(primary.ID)).ExistX(sys) {
		t.Fatal("the deleted user is still stored")
	}
	e.audited(t, "deleteUser", "Delete a User", primary.UserID)
	if _, err := e.svc.Delete(as("delete:users"), primary.UserID); !errors.As(err, &nf) {
		t.Fatalf("delete again: %v", err)
	}
	if n := len(e.audits(t, "deleteUser")); n != 1 {
		t.Fatalf("%d deleteUser entries, want 1", n)
	}
}

func testTickets(t *testing.T, e *env) {
	u := e.create(t, "tickets@example.com")
	ctx := as("create:user_tickets")
	before := e.snap(t)
	// Invalid options: nothing stored, nothing audited.
	for _, o := range []dbauth.TicketOptions{{TTL: time.Second}, {TTL: 31 * 24 * time.Hour}, {ResultURL: "/relative"}} {
		if _, _, err := e.svc.PasswordChangeTicket(ctx, u.UserID, o); !errors.As(err, new(*identity.ValidationError)) {
			t.Fatalf("options %+v: %v", o, err)
		}
	}
	e.unchanged(t, before)

	link, exp, err := e.svc.PasswordChangeTicket(ctx, string(u.ID), dbauth.TicketOptions{TTL: time.Hour, MarkEmailVerified: true})
	if err != nil || !strings.Contains(link, dbauth.ResetPath+"?ticket=") || time.Until(exp) > time.Hour || time.Until(exp) < 59*time.Minute {
		t.Fatalf("password change ticket: %q %v %v", link, exp, err)
	}
	e.audited(t, "createPasswordChangeTicket", "Create a password change ticket", u.UserID)
	link, _, err = e.svc.EmailVerificationTicket(ctx, u.UserID, dbauth.TicketOptions{})
	if err != nil || !strings.Contains(link, dbauth.VerifyPath+"?ticket=") {
		t.Fatalf("email verification ticket: %q %v", link, err)
	}
	e.audited(t, "createEmailVerificationTicket", "Create an email verification ticket", u.UserID)
	if n := e.db.Ticket.Query().Where(ticket.UserRef(u.ID)).CountX(sys); n != 2 {
		t.Fatalf("%d tickets, want 2", n)
	}
	// The ticket works as any other.
	tok, _ := url.Parse(link)
	if _, err := e.s.Deps.Auth.LookupTicket(sys, ticket.KindEmailVerification, tok.Query().Get("ticket")); err != nil {
		t.Fatal(err)
	}
}

func testAdminControl(t *testing.T, e *env) {
	root := e.create(t, "root@example.com")
	if _, err := admins.Grant(sys, e.db, root.ID, []string{"read:users", "update:users", "delete:users", "read:clients"}); err != nil {
		t.Fatal(err)
	}
	g := e.grantFor(t, root)
	// The caller holds the use cases' scopes but not read:clients.
	ctx := as("read:users", "update:users", "delete:users", "create:user_tickets")
	before := e.snap(t)
	var esc *authz.EscalationError
	if _, err := e.svc.Update(ctx, root.UserID, accounts.UpdateInput{Password: set("Another-Horse-Battery-Staple-8")}); !errors.As(err, &esc) {
		t.Fatalf("update an administrator: %v", err)
	}
	if _, err := e.svc.Update(ctx, root.UserID, accounts.UpdateInput{UpdateInput: identity.UpdateInput{Blocked: set(true)}}); !errors.As(err, &esc) {
		t.Fatalf("block an administrator: %v", err)
	}
	if _, err := e.svc.Delete(ctx, string(root.ID)); !errors.As(err, &esc) {
		t.Fatalf("delete an administrator: %v", err)
	}
	if _, _, err := e.svc.PasswordChangeTicket(ctx, root.UserID, dbauth.TicketOptions{}); !errors.As(err, &esc) {
		t.Fatalf("ticket for an administrator: %v", err)
	}
	if _, err := e.svc.UnblockAttempts(ctx, "ROOT@example.com"); !errors.As(err, &esc) {
		t.Fatalf("unblock an administrator: %v", err)
	}
	other := e.create(t, "other@example.com")
	before = e.snap(t)
	if _, err := e.svc.Link(ctx, other.UserID, root.UserID); !errors.As(err, &esc) {
		t.Fatalf("link an administrator away: %v", err)
	}
	e.unchanged(t, before)
	if g := e.db.Grant.GetX(sys, g.ID); g.RevokedAt != nil {
		t.Fatal("a refused change revoked the administrator's grant")
	}
}

func testCallerTx(t *testing.T, e *env) {
	before := e.snap(t)
	tx, err := e.db.Tx(sys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ent.NewTxContext(as("create:users"), tx)
	u, err := e.svc.Create(ctx, identity.CreateInput{Connection: conn, Email: ptr("tx@example.com"), Password: ptr(password)})
	if err != nil {
		t.Fatal(err)
	}
	// Inside the caller's transaction the user is visible…
	if !tx.User.Query().Where(user.ID(u.ID)).ExistX(sys) {
		t.Fatal("the user is not in the caller's transaction")
	}
	// …and its rollback undoes the user and its audit entry.
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	e.unchanged(t, before)
}

// TestDeleteScriptFailureKeepsUser: a custom-database user's delete script
// runs after the local delete, in the same transaction: when it fails (here
// the connection has none and no import mode), the user stays, in both
// stores, unaudited.
func TestDeleteScriptFailureKeepsUser(t *testing.T) {
	legacy := customdbtest.Postgres(t)
	module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["postgres"])
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		e := newEnv(s)
		if _, err := s.Deps.Connections.Create(sys, e.db, connections.CreateParams{
			Name: "legacy", Strategy: "customdb",
			Options: map[string]any{"dsn": legacy.DSN, "scripts": map[string]any{
				"login": module, "get_user": module, "create": module}},
		}); err != nil {
			t.Fatal(err)
		}
		email := "delete-" + strings.ToLower(strings.Split(t.Name(), "/")[1]) + "@legacy.example" // one per backend
		u, err := e.svc.Create(as("create:users"), identity.CreateInput{Connection: "legacy", Email: &email, Password: ptr(password)})
		if err != nil {
			t.Fatal(err)
		}
		e.audited(t, "createUser", "Create a User", u.UserID)
		rows := legacy.Count(t)
		before := e.snap(t)
		if _, err := e.svc.Delete(as("delete:users"), u.UserID); !errors.As(err, new(*identity.ValidationError)) {
			t.Fatalf("delete without a delete script: %v", err)
		}
		e.unchanged(t, before)
		if !e.db.User.Query().Where(user.ID(u.ID)).ExistX(sys) || legacy.Count(t) != rows {
			t.Fatal("the failed delete removed the user")
		}
		if n := len(e.audits(t, "deleteUser")); n != 0 {
			t.Fatalf("%d deleteUser entries, want 0", n)
		}
	})
}
