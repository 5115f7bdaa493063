package dbauth

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth/policy"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mail"
	"github.com/authgraph/authgraph/passwords"
)

// SignupInput is a self-service signup.
type SignupInput struct {
	Connection string
	Email      string
	// Username is required when the connection requires usernames.
	Username             string
	Password             string
	ClientID, ClientName string
}

// noticeExisting emails the owner of address that someone tried to sign up
// with it, unless the mail limits are reached (logged).
func (s *Service) noticeExisting(ctx context.Context, conn *ent.Connection, address string) {
	if !s.allowMail(ctx, address) {
		s.logger().Info("signup of an existing address: notice not sent (too many)", "connection", conn.Name)
		return
	}
	base := s.Issuer
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	link := base + ForgotPath + "?" + url.Values{"connection": {conn.Name}, "email": {address}}.Encode()
	s.sendAsync(mail.AccountExistsEmail(mail.LinkData{Email: address, Link: link}))
}

// Signup creates a user in a database connection (unless disable_signup),
// after the connection's password policy; it logs ss (fs on failure) and
// emails a verification link. In a custom-database connection get_user
// must not know the address, and the create script stores the user (in
// import mode Authgraph stores it, as a migrated user). Errors: ErrUnknownConnection,
// ErrSignupDisabled, *policy.Error, *identity.ValidationError, ErrUserExists
// (the edges must answer it as a generic refusal: the owner of a taken
// address is emailed a notice instead).
func (s *Service) Signup(ctx context.Context, in SignupInput) (*ent.User, error) {
	sys := authz.SystemContext(ctx)
	conn, err := s.PasswordConnection(ctx, in.Connection)
	if err != nil {
		return nil, err
	}
	email := NormalizeIdentifier(in.Email)
	ev := logs.Event{ClientID: in.ClientID, ClientName: in.ClientName, Connection: conn.Name,
		ConnectionID: string(conn.ID), Strategy: "auth0", StrategyType: "database", UserName: email}
	fail := func(err error) (*ent.User, error) {
		if !errors.Is(err, ErrBusy) { // a busy limiter refused nothing
			ev.Type, ev.Description = logs.TypeFailedSignup, err.Error()
			s.writeLog(ctx, ev)
		}
		return nil, err
	}
	if !SignupAllowed(conn) {
		return fail(ErrSignupDisabled)
	}
	username := strings.ToLower(strings.TrimSpace(in.Username))
	personal := policy.Personal{Email: email, Username: username}
	if at := strings.LastIndexByte(email, '@'); at > 0 {
		personal.Nickname = email[:at]
	}
	if err := s.CheckNewPassword(ctx, conn, personal, nil, in.Password); err != nil {
		return fail(err)
	}
	ci := identity.CreateInput{Connection: conn.Name, Email: &email, Password: &in.Password}
	if username != "" || RequiresUsername(conn) {
		ci.Username = &username
	}
	var u *ent.User
	if IsCustomDB(conn) {
		// get_user, then the create script (or a local user in import
		// mode): no transaction is held open while scripts run.
		var nu *identity.NewUser
		if nu, err = identity.PrepareCreate(sys, s.DB, ci); err == nil {
			u, err = s.CustomDB.CreateUser(sys, s.DB, nu)
		}
	} else {
		err = s.withTx(ctx, func(tx *ent.Client) error {
			var err error
			u, err = identity.Create(sys, tx, s.Passwords, ci)
			return err
		})
	}
	if errors.Is(err, identity.ErrConflict) {
		// The page answers this as any refused signup (no confirmation
		// that the account exists), after the same work as a signup that
		// goes on to log in (its hash verification); the owner of the
		// address is told instead, within the mail limits.
		if err := verifyDummy(s.Passwords, ctx, in.Password); !errors.Is(err, passwords.ErrMismatch) {
			return fail(err) // busy, as the login after a signup would be
		}
		var ce *identity.ConflictError
		if errors.As(err, &ce) && ce.Field == "email" {
			s.noticeExisting(ctx, conn, email)
		}
		return fail(ErrUserExists)
	}
	if err != nil {
		return fail(err)
	}
	ev.UserID = u.UserID
	ev.Type, ev.Description = logs.TypeSuccessSignup, ""
	s.writeLog(ctx, ev)
	if err := s.SendVerificationEmail(ctx, u, TicketOptions{ClientID: in.ClientID}); err != nil {
		s.logger().Error("creating the verification ticket after signup", "user_id", u.UserID, "err", err)
	}
	return u, nil
}
