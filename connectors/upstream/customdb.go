package upstream

// Custom-database connections (connectors/customdb): the login script runs
// through the rules engine, and import mode (lazy migration) is done here,
// because it reads and writes Authgraph's own store, which connectors never
// touch: a known user (an identity of the connection with a password hash)
// is checked locally and never reaches the legacy database; an unknown one
// goes to the login script and, on success, is created with the script's id
// and an argon2id hash of the password just typed.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/ent"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/passwords"
)

// ErrIDTaken: the script returned an id whose user_id belongs to a user of
// another connection.
var ErrIDTaken = errors.New("custom database: user id already belongs to another connection")

func (s *Service) customDBConnector(conn *ent.Connection, secrets map[string]any) (*customdb.Connector, error) {
	cfg, err := customdb.FromOptions(conn.Name, conn.UpdatedAt.Format("20060102T150405.000000000"), s.Scripts, conn.Options, secrets)
	if err != nil {
		return nil, err
	}
	cfg.Metrics = s.Metrics
	return customdb.New(cfg)
}

// customDBLogin is Login for a customdb connection.
func (s *Service) customDBLogin(ctx context.Context, conn *ent.Connection, c *customdb.Connector, in PasswordLogin, ev logs.Event) (*Result, error) {
	ev.Strategy, ev.StrategyType = "auth0", "database"
	if c.ImportMode() {
		res, handled, err := s.localLogin(ctx, conn, in, ev)
		if handled {
			return res, err
		}
	}
	id, err := c.Login(ctx, in.Username, in.Password)
	if err != nil {
		var ce *connectors.CredentialsError
		if errors.As(err, &ce) {
			ev.Type, ev.Description = logs.TypeWrongPassword, "Wrong email or password."
			if ce.Unknown {
				ev.Type = logs.TypeUnknownUser
			}
		} else {
			ev.Type, ev.Description = logs.TypeFailedLogin, "custom database script failed"
			s.logger().Warn("custom database login failed", "connection", conn.Name, "err", err)
		}
		s.writeLog(ctx, ev)
		return nil, err
	}
	// The returned id must not be another connection's user.
	sys := authz.SystemContext(ctx)
	if u, err := s.DB.User.Query().Where(user.UserID(id.FullUserID())).Only(sys); err == nil {
		own, err := s.DB.Identity.Query().Where(entidentity.ConnectionID(conn.ID), entidentity.UpstreamID(id.UserID), entidentity.OwnerID(u.ID)).Exist(sys)
		if err != nil {
			return nil, err
		}
		if !own {
			ev.Type, ev.Description, ev.UserID = logs.TypeFailedLogin, "user id "+id.FullUserID()+" belongs to another connection", id.FullUserID()
			s.writeLog(ctx, ev)
			return nil, fmt.Errorf("%w: %s", ErrIDTaken, id.FullUserID())
		}
	} else if !ent.IsNotFound(err) {
		return nil, err
	}
	res, err := s.complete(ctx, conn, id, ev, []string{"pwd"})
	if err != nil {
		return nil, err
	}
	// The identity keeps the login email and username, as a database
	// identity does: password resets and duplicate checks look them up.
	upd := s.DB.Identity.UpdateOne(res.Identity)
	dirty := false
	// A refused (look-alike) address is not kept: SyncUpstream dropped it
	// from the profile and complete logged it.
	if e, err := identity.NormalizeEmail(strings.ToLower(id.Email)); id.Email != "" && err == nil &&
		(res.Identity.EmailLower == nil || *res.Identity.EmailLower != e) {
		upd.SetEmailLower(e)
		dirty = true
	}
	if id.Username != "" && (res.Identity.Username == nil || *res.Identity.Username != id.Username) {
		upd.SetUsername(id.Username)
		dirty = true
	}
	if c.ImportMode() {
		// Migrated: keep the password (argon2id) so later logins stay
		// local. A busy limiter leaves the migration to a later login.
		if h, err := s.Passwords.Hash(ctx, in.Password); err == nil {
			upd.SetPasswordHash(h)
			dirty = true
		}
	}
	if !dirty {
		return res, nil
	}
	if res.Identity, err = upd.Save(sys); err != nil {
		return nil, fmt.Errorf("custom database: storing the login's email and password: %w", err)
	}
	return res, nil
}

// localLogin checks a migrated user against Authgraph's store. handled is
// false when the user is unknown here (the script decides).
func (s *Service) localLogin(ctx context.Context, conn *ent.Connection, in PasswordLogin, ev logs.Event) (*Result, bool, error) {
	sys := authz.SystemContext(ctx)
	name := strings.TrimSpace(in.Username)
	// Login emails are stored normalized (identity.NormalizeEmail): look
	// the typed address up in that form; a username is kept as typed.
	email := strings.ToLower(name)
	if n, err := identity.NormalizeEmail(email); err == nil {
		email = n
	}
	idn, err := s.DB.Identity.Query().Where(entidentity.ConnectionID(conn.ID), entidentity.PasswordHashNotNil(),
		entidentity.Or(entidentity.EmailLower(email), entidentity.Username(name))).
		WithUser().First(sys)
	if ent.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	u := idn.Edges.User
	ev.UserID = u.UserID
	if err := s.Passwords.Verify(ctx, *idn.PasswordHash, in.Password); err != nil {
		if !errors.Is(err, passwords.ErrMismatch) && !errors.Is(err, passwords.ErrUnsupported) {
			return nil, true, err // busy: no verdict, nothing logged
		}
		ev.Type, ev.Description = logs.TypeWrongPassword, "Wrong email or password."
		s.writeLog(ctx, ev)
		return nil, true, &connectors.CredentialsError{Reason: connectors.ReasonWrongPassword}
	}
	// The login counters and the s event are the login's record
	// (authn.Finalize), which also refuses a blocked user.
	return &Result{SyncResult: &identity.SyncResult{User: u, Identity: idn}, Connection: conn, AMR: []string{"pwd"},
		Pending: &authn.Pending{CountLogin: true, Event: ev}}, true, nil
}

// ErrNotCustomDB: RunScript was given a connection of another strategy.
var ErrNotCustomDB = errors.New("not a custom database connection")

// RunScript runs one script (op, a key of options.scripts) of the customdb
// connection called name with args, for testConnectionScript. It calls the
// connector's Run only, never the login path: nothing of Authgraph's store
// is read but the connection, and nothing is written (no user, no migrated
// hash, no log event). What the script does to the legacy database is the
// script's business. A script's typed error is in Outcome.Err; the error is
// ErrUnknownConnection, ErrNotCustomDB, connectors.ErrConfig (the stored
// options cannot build a connector), customdb.ErrNoScript, or wraps
// customdb.ErrScript (the script failed).
func (s *Service) RunScript(ctx context.Context, name, op string, args map[string]any) (customdb.Outcome, error) {
	conn, err := s.Connection(ctx, name)
	if err != nil {
		return customdb.Outcome{}, err
	}
	c, err := s.customDB(conn)
	if err != nil {
		return customdb.Outcome{}, err
	}
	return c.Run(ctx, op, args)
}
