package dbauth

import (
	"context"
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/ticket"
	"github.com/authgraph/authgraph/mail"
)

// PasswordChangeTicket is CreatePasswordChangeTicket for a resolved user,
// written through db: a management write's transaction, so the ticket
// commits with its audit entry or not at all.
func (s *Service) PasswordChangeTicket(ctx context.Context, db *ent.Client, u *ent.User, o TicketOptions) (string, time.Time, error) {
	return s.createTicket(ctx, db, u, ticket.KindPasswordChange, o)
}

// QueueVerificationEmail emails u the email-verification link in the
// background; call it once the ticket's transaction has committed, so that
// no email carries a link that a rollback voided.
func (s *Service) QueueVerificationEmail(u *ent.User, link string, expires time.Time) {
	if u.Email == nil {
		return
	}
	s.sendAsync(mail.VerificationEmail(mail.LinkData{Email: *u.Email, Link: link, Expires: expires}))
}

// EmailVerificationTicket is CreateEmailVerificationTicket for a resolved
// user, written through db (see PasswordChangeTicket).
func (s *Service) EmailVerificationTicket(ctx context.Context, db *ent.Client, u *ent.User, o TicketOptions) (string, time.Time, error) {
	o.MarkEmailVerified = false
	return s.createTicket(ctx, db, u, ticket.KindEmailVerification, o)
}
