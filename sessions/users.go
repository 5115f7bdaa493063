package sessions

import (
	"context"
	"net/http"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/session"
)

// ListUser returns the user's live sessions (not revoked, within both
// lifetimes), most recently used first.
func (m *Manager) ListUser(ctx context.Context, userID pulid.ID) ([]*ent.Session, error) {
	now := m.now()
	return m.DB.Session.Query().
		Where(session.UserRef(userID), session.RevokedAtIsNil(), session.ExpiresAtGT(now), session.IdleExpiresAtGT(now)).
		Order(ent.Desc(session.FieldLastSeenAt), ent.Desc(session.FieldID)).
		All(authz.SystemContext(ctx))
}

// ClearCookie removes the session cookie from the browser (after its
// session was ended another way, e.g. RevokeOwn).
func (m *Manager) ClearCookie(w http.ResponseWriter) { m.setCookie(w, "", -1) }

// RevokeOwn ends session id of the user, server-side: the cookie that
// carried it no longer finds a live session. A session that is not the
// user's, or already ended, is ErrNoSession (the same answer for both, so
// that ids of other users' sessions cannot be probed).
func (m *Manager) RevokeOwn(ctx context.Context, userID, id pulid.ID) error {
	n, err := m.DB.Session.Update().
		Where(session.ID(id), session.UserRef(userID), session.RevokedAtIsNil()).
		SetRevokedAt(m.now()).
		Save(authz.SystemContext(ctx))
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNoSession
	}
	return nil
}
