package accounts

import (
	"context"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
)

// TicketUserByEmail returns the user_id of the user whose identity in the
// connection (node id) has email: Auth0's password-change ticket may name
// its user by email and connection_id instead of user_id. Scope
// create:user_tickets (the caller learns no more than the ticket would
// tell); an unknown connection or address is not found.
func (s *Service) TicketUserByEmail(ctx context.Context, connectionID, email string) (string, error) {
	if err := needScope(ctx, ScopeTickets); err != nil {
		return "", err
	}
	sys := authz.SystemContext(ctx)
	if pulid.ID(connectionID).Prefix() != "con_" {
		return "", &identity.NotFoundError{What: "connection", ID: connectionID}
	}
	conn, err := s.DB.Connection.Get(sys, pulid.ID(connectionID))
	if ent.IsNotFound(err) {
		return "", &identity.NotFoundError{What: "connection", ID: connectionID}
	}
	if err != nil {
		return "", err
	}
	ident := dbauth.NormalizeIdentifier(email)
	if ident == "" || !strings.Contains(ident, "@") {
		return "", &identity.ValidationError{Field: "email", Message: "must be an email address"}
	}
	idn, err := s.DB.Identity.Query().
		Where(entidentity.ConnectionID(conn.ID), entidentity.EmailLower(ident)).
		WithUser().
		Only(sys)
	if ent.IsNotFound(err) {
		return "", &identity.NotFoundError{What: "user", ID: email}
	}
	if err != nil {
		return "", err
	}
	return idn.Edges.User.UserID, nil
}
