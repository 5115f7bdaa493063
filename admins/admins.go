// Package admins decides who administers Authgraph: a user holding an
// AdminGrant may carry its management API scopes in the tokens the built-in
// dashboard client obtains. Grants live in their own table (never in
// app_metadata, which rules and imports write), and nobody grants a scope
// they do not hold.
package admins

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/emailaddr"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/admingrant"
	"github.com/authgraph/authgraph/ent/grant"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
)

// Errors owned by this package; the edges translate them.
var (
	// ErrInvalid wraps rejected parameters (unknown or no scopes).
	ErrInvalid = errors.New("invalid admin grant")
	// ErrNotFound is returned for unknown users and users without a grant.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous is returned by FindByEmail unless exactly one user has
	// that verified email.
	ErrAmbiguous = errors.New("not exactly one user with that verified email")
)

// EscalationError is returned when the caller would grant a scope it lacks,
// or act on an administrator holding one (RequireControl).
type EscalationError = authz.EscalationError

// ReasonAdminRevoked is the revoked_reason of the dashboard grants ended by
// Revoke.
const ReasonAdminRevoked = "admin_revoked"

// Grant gives the user (node id) exactly scopes, replacing any earlier
// grant. The caller (ctx's viewer) must hold every scope; the write itself
// runs as the system because AdminGrant is SystemOnly.
func Grant(ctx context.Context, db *ent.Client, userID pulid.ID, scopes []string) (*ent.AdminGrant, error) {
	scopes = normalize(scopes)
	if len(scopes) == 0 {
		return nil, fmt.Errorf("%w: at least one management scope is required", ErrInvalid)
	}
	v := authz.FromContext(ctx)
	for _, s := range scopes {
		if !authz.IsManagementScope(s) {
			return nil, fmt.Errorf("%w: unknown scope %q", ErrInvalid, s)
		}
		if !v.HasScope(s) {
			return nil, &EscalationError{Scope: s}
		}
	}
	sys := authz.SystemContext(ctx)
	if _, err := db.User.Query().Where(user.ID(userID)).OnlyID(sys); err != nil {
		if ent.IsNotFound(err) {
			return nil, fmt.Errorf("%w: user %s", ErrNotFound, userID)
		}
		return nil, err
	}
	// Replacing a grant changes its holder's power: the caller must hold
	// the scopes it replaces as well as those it grants.
	if err := RequireControl(ctx, db, userID); err != nil {
		return nil, err
	}
	by := "system"
	if v != nil && !v.IsSystem() {
		by = v.Subject
	}
	existing, err := db.AdminGrant.Query().Where(admingrant.UserRef(userID)).Only(sys)
	switch {
	case ent.IsNotFound(err):
		return db.AdminGrant.Create().SetUserRef(userID).SetScopes(scopes).SetGrantedBy(by).Save(sys)
	case err != nil:
		return nil, err
	}
	if dropped := lost(existing.Scopes, scopes); dropped {
		// Tokens already issued carry the old scopes: end them.
		if err := revokeDashboardGrants(sys, db, userID); err != nil {
			return nil, err
		}
	}
	return db.AdminGrant.UpdateOne(existing).SetScopes(scopes).SetGrantedBy(by).Save(sys)
}

// Revoke removes the user's grant and ends the OIDC grants behind their
// dashboard tokens, so those stop working at once (within the verifier's
// few-second cache). It reports ErrNotFound when the user had no grant, and
// an *EscalationError when the caller lacks one of the grant's scopes.
func Revoke(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	// Only a caller holding every scope of the grant may end it: a lesser
	// administrator cannot remove a more powerful one.
	if err := RequireControl(ctx, db, userID); err != nil {
		return err
	}
	sys := authz.SystemContext(ctx)
	n, err := db.AdminGrant.Delete().Where(admingrant.UserRef(userID)).Exec(sys)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s is not an administrator", ErrNotFound, userID)
	}
	return revokeDashboardGrants(sys, db, userID)
}

// revokeDashboardGrants revokes every live OIDC grant of the user that
// carries a scope beyond self-service ones (only admin grants can).
func revokeDashboardGrants(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	gs, err := db.Grant.Query().Where(grant.UserRef(userID), grant.RevokedAtIsNil()).All(ctx)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if !slices.ContainsFunc(g.Scopes, authz.IsManagementScope) {
			continue
		}
		if err := db.Grant.UpdateOne(g).SetRevokedAt(time.Now()).SetRevokedReason(ReasonAdminRevoked).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Scopes returns the management scopes granted to the user (none for a
// non-administrator). Scopes a later version removed are dropped.
func Scopes(ctx context.Context, db *ent.Client, userID pulid.ID) ([]string, error) {
	g, err := db.AdminGrant.Query().Where(admingrant.UserRef(userID)).Only(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(slices.Clone(g.Scopes), func(s string) bool { return !authz.IsManagementScope(s) }), nil
}

// List returns every grant with its user, oldest first. It reads with the
// caller's authority (read:admins).
func List(ctx context.Context, db *ent.Client) ([]*ent.AdminGrant, error) {
	return db.AdminGrant.Query().WithUser().Order(ent.Asc(admingrant.FieldCreatedAt)).All(ctx)
}

// FindByEmail returns the one user whose email is email and verified;
// anything else (none, several, unverified) is ErrAmbiguous, so a grant
// never lands on the wrong account.
func FindByEmail(ctx context.Context, db *ent.Client, email string) (*ent.User, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, fmt.Errorf("%w: empty email", ErrInvalid)
	}
	// As stored addresses are: a look-alike never names an administrator.
	email, err := emailaddr.Normalize(email)
	if err != nil {
		return nil, fmt.Errorf("%w: email %w", ErrInvalid, err)
	}
	us, err := db.User.Query().
		Where(user.EmailEqualFold(email), user.EmailVerified(true)).
		Limit(2).All(authz.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	if len(us) != 1 {
		return nil, fmt.Errorf("%w: %d users have the verified email %q", ErrAmbiguous, len(us), email)
	}
	return us[0], nil
}

func normalize(scopes []string) []string {
	out := []string{}
	for _, s := range scopes {
		for _, f := range strings.Fields(s) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	slices.Sort(out)
	return out
}

// lost reports whether old holds a scope next lacks.
func lost(old, next []string) bool {
	for _, s := range old {
		if !slices.Contains(next, s) {
			return true
		}
	}
	return false
}
