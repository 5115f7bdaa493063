package identity

import (
	"context"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/grant"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/sessions"
)

// Revocation reasons stored on grants when the user changes (the OP adds
// its own: code reuse, refresh-token reuse, logout…).
const (
	RevokeUserBlocked      = "user_blocked"
	RevokeUserDeleted      = "user_deleted"
	RevokePasswordChanged  = "password_changed"
	RevokeEmailChanged     = "email_changed"
	RevokeIdentityUnlinked = "identity_unlinked"
)

// RevokeAccess ends everything a user holds: their SSO sessions and the
// grants behind their refresh tokens and access tokens (/userinfo,
// /graphql and introspection check the grant of every user token).
// Blocking, changing a password (every path: dbauth), changing the email
// and unlinking an identity call it; deleting a user drops the grants with
// it. It writes through db, so inside a transaction it commits with the
// change.
func RevokeAccess(ctx context.Context, db *ent.Client, userID pulid.ID, reason string) error {
	if err := sessions.RevokeUser(ctx, db, userID); err != nil {
		return err
	}
	return db.Grant.Update().
		Where(grant.UserRef(userID), grant.RevokedAtIsNil()).
		SetRevokedAt(time.Now()).
		SetRevokedReason(reason).
		Exec(authz.SystemContext(ctx))
}
