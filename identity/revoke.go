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
	RevokeUserBlocked     = "user_blocked"
	RevokeUserDeleted     = "user_deleted"
	RevokePasswordChanged = "password_changed"
)

// RevokeAccess ends everything a user holds: their SSO sessions and the
// grants behind their refresh tokens (and so the access tokens /userinfo
// still accepts). Blocking, deleting and changing a password call it; it
// writes through db, so inside a transaction it commits with the change.
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
