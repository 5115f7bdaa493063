package dbauth

import (
	"context"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/ticket"
)

// PasswordChangeTicket is CreatePasswordChangeTicket for a resolved user,
// written through db: a management write's transaction, so the ticket
// commits with its audit entry or not at all.
func (s *Service) PasswordChangeTicket(ctx context.Context, db *ent.Client, u *ent.User, o TicketOptions) (string, time.Time, error) {
	return s.createTicket(ctx, db, u, ticket.KindPasswordChange, o)
}

// EmailVerificationTicket is CreateEmailVerificationTicket for a resolved
// user, written through db (see PasswordChangeTicket).
func (s *Service) EmailVerificationTicket(ctx context.Context, db *ent.Client, u *ent.User, o TicketOptions) (string, time.Time, error) {
	o.MarkEmailVerified = false
	return s.createTicket(ctx, db, u, ticket.KindEmailVerification, o)
}
