package dbauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/ticket"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mail"
)

// TicketOptions shape a ticket.
type TicketOptions struct {
	// TTL is the lifetime (default DefaultTicketTTL, 5 days).
	TTL time.Duration
	// ResultURL is where the page sends the browser after success.
	ResultURL string
	ClientID  string
	// MarkEmailVerified (password change only) sets email_verified when the
	// ticket is used: the user proved they read the mailbox.
	MarkEmailVerified bool
}

// Ticket paths under the issuer, served by server/login.
const (
	ResetPath  = "login/reset"
	ForgotPath = "login/forgot"
	VerifyPath = "login/verify"
)

// CreatePasswordChangeTicket returns a single-use link that lets the user
// choose a new password, and its expiry. userID is a node id (usr_…) or a
// user_id (auth0|…). Older password-change tickets of the user stop working.
func (s *Service) CreatePasswordChangeTicket(ctx context.Context, userID string, o TicketOptions) (string, time.Time, error) {
	u, err := identity.Resolve(authz.SystemContext(ctx), s.DB, userID)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.createTicket(ctx, s.DB, u, ticket.KindPasswordChange, o)
}

// CreateEmailVerificationTicket returns a single-use link that marks the
// user's email verified, and its expiry. Older verification tickets of the
// user stop working.
func (s *Service) CreateEmailVerificationTicket(ctx context.Context, userID string, o TicketOptions) (string, time.Time, error) {
	u, err := identity.Resolve(authz.SystemContext(ctx), s.DB, userID)
	if err != nil {
		return "", time.Time{}, err
	}
	o.MarkEmailVerified = false
	return s.createTicket(ctx, s.DB, u, ticket.KindEmailVerification, o)
}

func (s *Service) createTicket(ctx context.Context, db *ent.Client, u *ent.User, kind ticket.Kind, o TicketOptions) (string, time.Time, error) {
	sys := authz.SystemContext(ctx)
	ttl := o.TTL
	if ttl <= 0 {
		ttl = DefaultTicketTTL
	}
	if o.ResultURL != "" {
		if r, err := url.Parse(o.ResultURL); err != nil || (r.Scheme != "https" && r.Scheme != "http") || r.Host == "" {
			return "", time.Time{}, &identity.ValidationError{Field: "resultUrl", Message: "must be an absolute http(s) URL"}
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", time.Time{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	expires := s.now().Add(ttl)
	// Only the newest ticket of a kind is valid: drop the others.
	if _, err := db.Ticket.Delete().Where(ticket.UserRef(u.ID), ticket.KindEQ(kind)).Exec(sys); err != nil {
		return "", time.Time{}, err
	}
	err := db.Ticket.Create().
		SetUserRef(u.ID).
		SetKind(kind).
		SetTokenHash(hashToken(token)).
		SetResultURL(o.ResultURL).
		SetClientID(o.ClientID).
		SetMarkEmailVerified(o.MarkEmailVerified).
		SetExpiresAt(expires).
		Exec(sys)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("dbauth: storing ticket: %w", err)
	}
	path := ResetPath
	if kind == ticket.KindEmailVerification {
		path = VerifyPath
	}
	base := s.Issuer
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + path + "?ticket=" + url.QueryEscape(token), expires, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TicketInfo describes a valid ticket for the page that opens it.
type TicketInfo struct {
	Kind       ticket.Kind
	User       *ent.User
	Connection *ent.Connection // password change: the user's database connection
	ExpiresAt  time.Time
	ResultURL  string
}

// LookupTicket returns the valid (unused, unexpired, newest) ticket of kind
// for token, without using it; ErrTicketInvalid otherwise.
func (s *Service) LookupTicket(ctx context.Context, kind ticket.Kind, token string) (*TicketInfo, error) {
	sys := authz.SystemContext(ctx)
	if token == "" || len(token) > 128 {
		return nil, ErrTicketInvalid
	}
	t, err := s.DB.Ticket.Query().
		Where(ticket.TokenHash(hashToken(token)), ticket.KindEQ(kind), ticket.UsedAtIsNil(), ticket.ExpiresAtGT(s.now())).
		WithUser().
		Only(sys)
	if ent.IsNotFound(err) {
		return nil, ErrTicketInvalid
	}
	if err != nil {
		return nil, err
	}
	info := &TicketInfo{Kind: t.Kind, User: t.Edges.User, ExpiresAt: t.ExpiresAt, ResultURL: t.ResultURL}
	if kind == ticket.KindPasswordChange {
		idn, err := s.passwordIdentity(sys, s.DB, t.UserRef)
		if errors.Is(err, ErrNoDatabaseIdentity) {
			return nil, ErrTicketInvalid
		}
		if err != nil {
			return nil, err
		}
		info.Connection = idn.Edges.Connection
	}
	return info, nil
}

// useTicket marks the ticket used if it is still valid; the conditional
// update makes concurrent uses of one link succeed once.
func (s *Service) useTicket(ctx context.Context, db *ent.Client, kind ticket.Kind, token string) (*ent.Ticket, error) {
	sys := authz.SystemContext(ctx)
	now := s.now()
	n, err := db.Ticket.Update().
		Where(ticket.TokenHash(hashToken(token)), ticket.KindEQ(kind), ticket.UsedAtIsNil(), ticket.ExpiresAtGT(now)).
		SetUsedAt(now).
		Save(sys)
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, ErrTicketInvalid
	}
	return db.Ticket.Query().Where(ticket.TokenHash(hashToken(token))).Only(sys)
}

// ResetPassword uses a password-change ticket to set a new password. A
// refused password (*policy.Error) leaves the ticket usable; success uses
// it, ends the user's sessions and grants (identity.RevokeAccess), lifts brute-force blocks, marks the email
// verified when the ticket says so, and logs scp. It returns the ticket's
// result URL ("" when none).
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) (string, error) {
	info, err := s.LookupTicket(ctx, ticket.KindPasswordChange, token)
	if err != nil {
		return "", err
	}
	sys := authz.SystemContext(ctx)
	idn, err := s.DB.Identity.Query().
		Where(entidentity.OwnerID(info.User.ID), entidentity.ConnectionID(info.Connection.ID)).Only(sys)
	if err != nil {
		return "", err
	}
	conn := info.Connection
	ev := logs.Event{Connection: conn.Name, ConnectionID: string(conn.ID), Strategy: "auth0", StrategyType: "database",
		UserID: info.User.UserID, UserName: deref(info.User.Email)}
	if err := s.CheckNewPassword(ctx, conn, PersonalOf(info.User), idn, newPassword); err != nil {
		if !errors.Is(err, ErrBusy) { // no verdict on the password
			ev.Type, ev.Description = logs.TypeFailedChangePwd, err.Error()
			s.writeLog(ctx, ev)
		}
		return "", err
	}
	var resultURL string
	err = s.withTx(ctx, func(tx *ent.Client) error {
		t, err := s.useTicket(ctx, tx, ticket.KindPasswordChange, token)
		if err != nil {
			return err
		}
		resultURL = t.ResultURL
		ev.ClientID = t.ClientID
		if err := s.storePassword(ctx, tx, info.User, idn, conn, newPassword); err != nil {
			return err
		}
		if t.MarkEmailVerified {
			if err := tx.User.UpdateOneID(info.User.ID).SetEmailVerified(true).Exec(sys); err != nil {
				return err
			}
		}
		ev.Type, ev.Description = logs.TypeSuccessChangePwd, "Password changed with a password-change ticket"
		return logs.Write(ctx, tx, ev)
	})
	return resultURL, err
}

// VerifyEmail uses an email-verification ticket: the user's email_verified
// becomes true (log sv). It returns the ticket's result URL.
func (s *Service) VerifyEmail(ctx context.Context, token string) (string, error) {
	sys := authz.SystemContext(ctx)
	var resultURL string
	err := s.withTx(ctx, func(tx *ent.Client) error {
		t, err := s.useTicket(ctx, tx, ticket.KindEmailVerification, token)
		if err != nil {
			return err
		}
		resultURL = t.ResultURL
		u, err := tx.User.UpdateOneID(t.UserRef).SetEmailVerified(true).Save(sys)
		if err != nil {
			return err
		}
		// A custom-database user's legacy row is verified too (the verify
		// script); its failure leaves the ticket unused.
		if s.CustomDB != nil && u.Email != nil {
			idn, err := s.passwordIdentity(sys, tx, u.ID)
			if err != nil && !errors.Is(err, ErrNoDatabaseIdentity) {
				return err
			}
			if idn != nil && IsCustomDB(idn.Edges.Connection) {
				if err := s.CustomDB.VerifyEmail(ctx, idn.Edges.Connection, *u.Email); err != nil {
					return err
				}
			}
		}
		return logs.Write(ctx, tx, logs.Event{Type: "sv", Description: "Email verified", ClientID: t.ClientID,
			UserID: u.UserID, UserName: deref(u.Email)})
	})
	if err != nil {
		return "", err
	}
	return resultURL, nil
}

// RequestPasswordReset emails a password-change link to email's user in
// connection (forgot-password), valid for ResetTicketTTL (1 hour by
// default). It answers the same (nil) whether or not the address exists
// and whether or not the request is throttled (ResetPerAddress,
// ResetPerIP), and takes at least ResetFloor either way; the email goes
// out in the background. Logs scpr when a link was sent, fcpr otherwise
// (the description says why: unknown address, or throttled).
func (s *Service) RequestPasswordReset(ctx context.Context, connName, email, clientID string) error {
	floor := s.ResetFloor
	if floor <= 0 {
		floor = DefaultResetFloor
	}
	timer := time.NewTimer(floor)
	defer func() {
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}()
	conn, err := s.PasswordConnection(ctx, connName)
	if err != nil {
		return err
	}
	ident := NormalizeIdentifier(email)
	ev := logs.Event{ClientID: clientID, Connection: conn.Name, ConnectionID: string(conn.ID),
		Strategy: "auth0", StrategyType: "database", UserName: ident}
	if !s.allowMail(ctx, ident) {
		ev.Type, ev.Description = "fcpr", "Too many password reset requests for this address or from this IP"
		s.writeLog(ctx, ev)
		return nil
	}
	var idn *ent.Identity
	if IsCustomDB(conn) {
		// The local user, else get_user's (not migrated yet, or never
		// seen here): docs/CUSTOM_DATABASE.md.
		idn, err = s.CustomDB.FindUser(ctx, conn, ident)
	} else {
		idn, err = s.findIdentity(authz.SystemContext(ctx), conn, ident)
	}
	if err != nil {
		return err
	}
	if idn == nil || idn.EmailLower == nil {
		ev.Type, ev.Description = "fcpr", "No user with this email in the connection"
		s.writeLog(ctx, ev)
		return nil
	}
	u := idn.Edges.User
	link, expires, err := s.createTicket(ctx, s.DB, u, ticket.KindPasswordChange, TicketOptions{ClientID: clientID, TTL: s.resetTicketTTL()})
	if err != nil {
		return err
	}
	ev.UserID = u.UserID
	ev.Type, ev.Description = "scpr", "Password reset link sent"
	s.writeLog(ctx, ev)
	s.sendAsync(mail.ResetEmail(mail.LinkData{Email: *idn.EmailLower, Link: link, Expires: expires}))
	return nil
}

// SendVerificationEmail creates an email-verification ticket for u and
// emails it in the background.
func (s *Service) SendVerificationEmail(ctx context.Context, u *ent.User, o TicketOptions) error {
	if u.Email == nil {
		return nil
	}
	link, expires, err := s.createTicket(ctx, s.DB, u, ticket.KindEmailVerification, o)
	if err != nil {
		return err
	}
	s.sendAsync(mail.VerificationEmail(mail.LinkData{Email: *u.Email, Link: link, Expires: expires}))
	return nil
}

// sendAsync hands m to the Sender outside the request, so that a slow mail
// server neither delays nor (by its timing) reveals anything.
func (s *Service) sendAsync(m mail.Message) {
	if s.Mail == nil {
		s.logger().Warn("no mail sender configured; email dropped", "subject", m.Subject)
		return
	}
	s.mailWG.Add(1)
	go func() {
		defer s.mailWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Mail.Send(ctx, m); err != nil {
			s.logger().Error("sending email", "subject", m.Subject, "err", err)
		}
	}()
}

func (s *Service) withTx(ctx context.Context, fn func(tx *ent.Client) error) error {
	tx, err := s.DB.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
