package upstream

// The lifecycle of custom-database users besides login (docs/CUSTOM_DATABASE.md): signup
// and createUser, password reset and change, email change and
// verification, deletion. Authgraph validates first and writes its own
// store in the caller's transaction; the script runs after, so a script
// failure rolls the local change back and a refused input never reaches
// the legacy database.
//
// What runs when:
//
//	                 import mode (lazy migration)        without import mode
//	create/signup    get_user guard, local user + hash   get_user guard, create, login (confirms, gives the id)
//	password reset   get_user finds unmigrated users;    get_user finds users not seen yet;
//	                 the new password is stored locally   change_password
//	password change  local hash                          change_password
//	email change     get_user guard on the new address   get_user guard, change_email
//	verify email     (local only)                        verify (when the connection has one)
//	delete           delete (when set), local delete     delete (required), local delete

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/identity"
)

// ScriptFailedError: a custom-database script failed (or is missing) while
// changing a user; Authgraph's store is left as it was. It is
// connectors.ErrUnavailable: the edges answer "try again later", not "bad
// input". The script's own error is logged, not returned: it may quote SQL.
type ScriptFailedError struct {
	Connection, Op string
	Reason         string
	Err            error
}

func (e *ScriptFailedError) Error() string {
	msg := fmt.Sprintf("connection %s: the %s script failed", e.Connection, e.Op)
	if e.Reason != "" {
		msg = fmt.Sprintf("connection %s: %s", e.Connection, e.Reason)
	}
	return msg
}

func (e *ScriptFailedError) Unwrap() []error { return []error{connectors.ErrUnavailable, e.Err} }

// customDB returns conn's custom-database connector.
func (s *Service) customDB(conn *ent.Connection) (*customdb.Connector, error) {
	if conn.Strategy != connection.StrategyCustomdb {
		return nil, fmt.Errorf("%w: %s is a %s connection", ErrNotCustomDB, conn.Name, conn.Strategy)
	}
	built, err := s.Connector(conn)
	if err != nil {
		return nil, err
	}
	c, ok := built.(*customdb.Connector)
	if !ok { // cannot happen: Connector builds customdb connectors for this strategy
		return nil, fmt.Errorf("%w: %s", ErrNotCustomDB, conn.Name)
	}
	return c, nil
}

// scriptError translates what a lifecycle script returned: its typed
// refusals become the store's errors (user_exists a ConflictError on email,
// validation a ValidationError on field), anything else a logged
// ScriptFailedError.
func (s *Service) scriptError(conn *ent.Connection, op, field string, err error) error {
	var se *customdb.ScriptError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se) && se.Code == customdb.CodeUserExists:
		return &identity.ConflictError{Field: "email", Message: "a user with this email already exists in the connection"}
	case errors.As(err, &se) && se.Code == customdb.CodeValidation:
		msg := se.Message
		if msg == "" {
			msg = "refused by the connection's " + op + " script"
		}
		return &identity.ValidationError{Field: field, Message: msg}
	case errors.Is(err, customdb.ErrNoScript):
		return &ScriptFailedError{Connection: conn.Name, Op: op, Reason: "the connection has no " + op + " script", Err: err}
	}
	s.logger().Warn("custom database script failed", "connection", conn.Name, "script", op, "err", err)
	return &ScriptFailedError{Connection: conn.Name, Op: op, Err: err}
}

// guardEmail is the duplicate check of docs/CUSTOM_DATABASE.md: get_user must not know email.
// It runs before every signup and email change, in both modes, because in
// import mode the legacy database still holds users not migrated yet.
func (s *Service) guardEmail(ctx context.Context, conn *ent.Connection, c *customdb.Connector, email string) error {
	found, err := c.GetUser(ctx, email)
	if err != nil {
		return s.scriptError(conn, customdb.OpGetUser, "email", err)
	}
	if found != nil {
		return &identity.ConflictError{Field: "email", Message: "a user with this email already exists in the connection"}
	}
	return nil
}

// CreateUser stores a prepared user (signup or createUser) of a
// custom-database connection in db: the email must be free both in
// Authgraph's store and for get_user. In import mode the user is created
// here only, with an argon2id hash of the password, as a migrated user
// would be. Otherwise the create script writes the legacy database, the
// login script confirms the new user and gives its id (user_id
// auth0|<id>), and no hash is kept here.
func (s *Service) CreateUser(ctx context.Context, db *ent.Client, nu *identity.NewUser) (*ent.User, error) {
	conn := nu.Connection
	c, err := s.customDB(conn)
	if err != nil {
		return nil, err
	}
	taken, err := db.Identity.Query().
		Where(entidentity.ConnectionID(conn.ID), entidentity.EmailLower(nu.Email)).Exist(authz.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	if taken {
		return nil, &identity.ConflictError{Field: "email", Message: "a user with this email already exists in the connection"}
	}
	if err := s.guardEmail(ctx, conn, c, nu.Email); err != nil {
		return nil, err
	}
	if c.ImportMode() {
		return nu.Store(ctx, db, s.Passwords)
	}
	if nu.Password == nil {
		return nil, &identity.ValidationError{Field: "password", Message: "is required: the connection's create script stores it"}
	}
	username := ""
	if nu.Username != nil {
		username = *nu.Username
	}
	err = c.Create(ctx, customdb.NewUser{Email: nu.Email, Password: *nu.Password, Username: username,
		UserMetadata: nu.UserMetadata(), AppMetadata: nu.AppMetadata()})
	if err != nil {
		return nil, s.scriptError(conn, customdb.OpCreate, "email", err)
	}
	// As Auth0 does, login confirms the new user; its profile gives the id.
	id, err := c.Login(ctx, nu.Email, *nu.Password)
	if err != nil {
		s.logger().Warn("custom database: login after create failed", "connection", conn.Name, "err", err)
		return nil, &ScriptFailedError{Connection: conn.Name, Op: customdb.OpLogin,
			Reason: "the create script succeeded but the login script does not find the new user", Err: err}
	}
	if err := nu.SetUpstreamID(id.UserID); err != nil {
		return nil, &ScriptFailedError{Connection: conn.Name, Op: customdb.OpLogin, Reason: "the login script returned an unusable user_id", Err: err}
	}
	nu.KeepPassword = false
	return nu.Store(ctx, db, s.Passwords)
}

// FindUser returns the identity (with its user) of email in a
// custom-database connection, for a password reset: the local one, else
// the legacy user get_user knows, whose local profile (without password)
// it creates so that a ticket can name it. nil when neither knows email.
func (s *Service) FindUser(ctx context.Context, conn *ent.Connection, email string) (*ent.Identity, error) {
	sys := authz.SystemContext(ctx)
	email, err := identity.NormalizeEmail(strings.ToLower(email))
	if err != nil {
		return nil, nil // a look-alike names no user
	}
	find := func() (*ent.Identity, error) {
		idn, err := s.DB.Identity.Query().
			Where(entidentity.ConnectionID(conn.ID), entidentity.EmailLower(email)).WithUser().First(sys)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return idn, err
	}
	if idn, err := find(); idn != nil || err != nil {
		return idn, err
	}
	c, err := s.customDB(conn)
	if err != nil {
		return nil, err
	}
	found, err := c.GetUser(ctx, email)
	if err != nil {
		return nil, s.scriptError(conn, customdb.OpGetUser, "email", err)
	}
	if found == nil {
		return nil, nil
	}
	// The local profile is keyed by the legacy id: a later login of the
	// same user finds it (SyncUpstream looks up (connection, id)).
	if idn, err := s.DB.Identity.Query().
		Where(entidentity.ConnectionID(conn.ID), entidentity.UpstreamID(found.UserID)).WithUser().First(sys); err == nil {
		if err := s.DB.Identity.UpdateOne(idn).SetEmailLower(email).Exec(sys); err != nil {
			return nil, err
		}
		return idn, nil
	} else if !ent.IsNotFound(err) {
		return nil, err
	}
	in := identity.CreateInput{Connection: conn.Name, Email: &email, EmailVerified: &found.EmailVerified,
		Name: nonEmpty(found.Name), GivenName: nonEmpty(found.GivenName), FamilyName: nonEmpty(found.FamilyName),
		Nickname: nonEmpty(found.Nickname), Picture: nonEmpty(found.Picture)}
	nu, err := identity.PrepareCreate(sys, s.DB, in)
	if err != nil {
		// The legacy profile does not fit Authgraph's (e.g. a malformed
		// picture URL): the reset cannot name a user.
		s.logger().Warn("custom database: get_user profile refused", "connection", conn.Name, "err", err)
		return nil, nil
	}
	if err := nu.SetUpstreamID(found.UserID); err != nil {
		return nil, &ScriptFailedError{Connection: conn.Name, Op: customdb.OpGetUser, Reason: "the get_user script returned an unusable user_id", Err: err}
	}
	nu.Password = nil
	if _, err := nu.Store(sys, s.DB, s.Passwords); err != nil {
		var ce *identity.ConflictError
		if errors.As(err, &ce) {
			// The id belongs to another connection's user, or a concurrent
			// request created it: look again, else nobody.
			return find()
		}
		return nil, err
	}
	return find()
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ChangePassword carries out a password change (reset or management API)
// of idn, a custom-database identity whose user's email is email, after
// the caller applied the connection's policy. local reports that the
// password lives in Authgraph's store (import mode): the caller stores the
// hash, and the user counts as migrated. Otherwise change_password changes
// it in the legacy database.
func (s *Service) ChangePassword(ctx context.Context, conn *ent.Connection, idn *ent.Identity, email, newPassword string) (local bool, err error) {
	c, err := s.customDB(conn)
	if err != nil {
		return false, err
	}
	if c.ImportMode() {
		return true, nil
	}
	changed, err := c.ChangePassword(ctx, email, newPassword)
	if err != nil {
		return false, s.scriptError(conn, customdb.OpChangePassword, "password", err)
	}
	if !changed {
		return false, &ScriptFailedError{Connection: conn.Name, Op: customdb.OpChangePassword,
			Reason: "the change_password script changed no user"}
	}
	return false, nil
}

// VerifyEmail runs the verify script of a connection without import mode
// (the legacy database marks the address verified); in import mode, or
// without a verify script, only Authgraph's email_verified changes.
func (s *Service) VerifyEmail(ctx context.Context, conn *ent.Connection, email string) error {
	c, err := s.customDB(conn)
	if err != nil {
		return err
	}
	if c.ImportMode() || !c.HasScript(customdb.OpVerify) {
		return nil
	}
	return s.scriptError(conn, customdb.OpVerify, "email", c.Verify(ctx, email))
}

// CustomDBUser is a user's identity of a custom-database connection.
type CustomDBUser struct {
	s          *Service
	Identity   *ent.Identity
	Connection *ent.Connection
	c          *customdb.Connector
}

// CustomDBUser returns u's custom-database identity, nil when u has none.
func (s *Service) CustomDBUser(ctx context.Context, db *ent.Client, u *ent.User) (*CustomDBUser, error) {
	idn, err := db.Identity.Query().
		Where(entidentity.OwnerID(u.ID), entidentity.HasConnectionWith(connection.StrategyEQ(connection.StrategyCustomdb))).
		WithConnection().First(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := s.customDB(idn.Edges.Connection)
	if err != nil {
		return nil, err
	}
	return &CustomDBUser{s: s, Identity: idn, Connection: idn.Edges.Connection, c: c}, nil
}

// ChangeEmail carries out an email change from oldEmail to newEmail that
// the caller has validated (and written in its transaction): get_user must
// not know the new address; without import mode change_email changes it in
// the legacy database.
func (cu *CustomDBUser) ChangeEmail(ctx context.Context, oldEmail, newEmail string, verified bool) error {
	if strings.EqualFold(oldEmail, newEmail) {
		return nil
	}
	if err := cu.s.guardEmail(ctx, cu.Connection, cu.c, newEmail); err != nil {
		return err
	}
	if cu.c.ImportMode() {
		return nil
	}
	changed, err := cu.c.ChangeEmail(ctx, oldEmail, newEmail, verified)
	if err != nil {
		return cu.s.scriptError(cu.Connection, customdb.OpChangeEmail, "email", err)
	}
	if !changed {
		return &ScriptFailedError{Connection: cu.Connection.Name, Op: customdb.OpChangeEmail,
			Reason: "the change_email script changed no user"}
	}
	return nil
}

// Delete runs the delete script with the user's legacy id, so that neither
// a login nor a lazy migration brings the user back. Without import mode
// the script is required; in import mode a connection without one deletes
// the local user only (the legacy row is the operator's to remove).
func (cu *CustomDBUser) Delete(ctx context.Context) error {
	if !cu.c.HasScript(customdb.OpDelete) {
		if cu.c.ImportMode() {
			return nil
		}
		return &identity.ValidationError{Field: "id", Message: fmt.Sprintf(
			"connection %s has no delete script: the user would come back at the next login", cu.Connection.Name)}
	}
	return cu.s.scriptError(cu.Connection, customdb.OpDelete, "id", cu.c.Delete(ctx, cu.Identity.UpstreamID))
}
