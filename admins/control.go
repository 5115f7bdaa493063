package admins

import (
	"context"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/emailaddr"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/admingrant"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
)

// RequireControl refuses (*EscalationError, nothing looked up beyond the
// grants) unless the caller (ctx's viewer) holds every scope of the admin
// grants of the given users (node ids). Users without a grant pass.
//
// Every management operation that could hand an administrator's account to
// someone else, or take it from its owner, calls it first: changing their
// password, email, username, verification or blocked state or metadata
// (updateUser), linking or unlinking their identities, issuing them a
// password-change or email-verification ticket, lifting their brute-force
// block, deleting them, and replacing or revoking their grant. Holding
// update:users (or create:user_tickets, delete:users…) alone would
// otherwise be enough to sign in to the dashboard with the grant's scopes,
// or to remove an administrator more powerful than the caller.
func RequireControl(ctx context.Context, db *ent.Client, userIDs ...pulid.ID) error {
	if len(userIDs) == 0 || authz.FromContext(ctx).IsSystem() {
		return nil
	}
	gs, err := db.AdminGrant.Query().Where(admingrant.UserRefIn(userIDs...)).All(authz.SystemContext(ctx))
	if err != nil {
		return err
	}
	for _, g := range gs {
		scopes := slices.DeleteFunc(slices.Clone(g.Scopes), func(s string) bool { return !authz.IsManagementScope(s) })
		if err := authz.RequireHeld(ctx, scopes, "administrator "+string(g.UserRef)); err != nil {
			return err
		}
	}
	return nil
}

// RequireControlOfIdentifier is RequireControl for every user whose email or
// username is identifier (case-insensitive): the login identifier that
// brute-force blocks are kept under, in any connection.
func RequireControlOfIdentifier(ctx context.Context, db *ent.Client, identifier string) error {
	identifier = strings.TrimSpace(identifier)
	if identifier == "" || authz.FromContext(ctx).IsSystem() {
		return nil
	}
	match := []predicate.User{user.EmailEqualFold(identifier), user.UsernameEqualFold(identifier)}
	// Blocks are kept under the address's normal form (NFC, ASCII domain):
	// "alice@bücher.de" unblocks the administrator stored as
	// "alice@xn--bcher-kva.de", so it must meet this check too.
	if n, err := emailaddr.Normalize(identifier); err == nil && n != identifier {
		match = append(match, user.EmailEqualFold(n))
	}
	sys := authz.SystemContext(ctx)
	ids, err := db.User.Query().Where(user.Or(match...)).IDs(sys)
	if err != nil {
		return err
	}
	if err := RequireControl(ctx, db, ids...); err != nil {
		return err
	}
	// LDAP and custom-database logins are counted under the login name the
	// user typed, which need not be any stored email or username (a
	// directory uid): the users above may miss an administrator whose
	// directory password is being guessed. Lifting a block counted in such
	// a connection needs control of every administrator who signs in
	// through it.
	names, err := db.LoginAttempt.Query().Where(loginattempt.Identifier(lockout.Normalize(identifier))).
		Unique(true).Select(loginattempt.FieldConnection).Strings(sys)
	if err != nil || len(names) == 0 {
		return err
	}
	conns, err := db.Connection.Query().
		Where(connection.NameIn(names...), connection.StrategyNEQ(connection.StrategyDatabase)).IDs(sys)
	if err != nil {
		return err
	}
	for _, id := range conns {
		if err := RequireControlOfConnection(ctx, db, id); err != nil {
			return err
		}
	}
	return nil
}

// IsAdministrator reports whether any of the users (node ids) holds an admin
// grant. Work done on no caller's behalf (a rule's link_to) uses it to
// refuse what only a caller holding the grant's scopes could ask for.
func IsAdministrator(ctx context.Context, db *ent.Client, userIDs ...pulid.ID) (bool, error) {
	if len(userIDs) == 0 {
		return false, nil
	}
	return db.AdminGrant.Query().Where(admingrant.UserRefIn(userIDs...)).Exist(authz.SystemContext(ctx))
}

// RequireControlOfConnection is RequireControl for every administrator with
// an identity in the connection (node id). Whoever changes how a connection
// authenticates (its upstream, directory, scripts or password options),
// runs its scripts against its user store, or deletes it, controls how its
// administrators sign in, and so needs their scopes.
func RequireControlOfConnection(ctx context.Context, db *ent.Client, connID pulid.ID) error {
	if authz.FromContext(ctx).IsSystem() {
		return nil
	}
	sys := authz.SystemContext(ctx)
	refs, err := db.AdminGrant.Query().Select(admingrant.FieldUserRef).Strings(sys)
	if err != nil || len(refs) == 0 {
		return err
	}
	ids := make([]pulid.ID, len(refs))
	for i, r := range refs {
		ids[i] = pulid.ID(r)
	}
	owners, err := db.Identity.Query().
		Where(identity.ConnectionID(connID), identity.OwnerIDIn(ids...)).
		Unique(true).Select(identity.FieldOwnerID).Strings(sys)
	if err != nil {
		return err
	}
	ownerIDs := make([]pulid.ID, len(owners))
	for i, o := range owners {
		ownerIDs[i] = pulid.ID(o)
	}
	return RequireControl(ctx, db, ownerIDs...)
}
