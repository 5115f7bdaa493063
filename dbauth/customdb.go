package dbauth

// Custom-database connections (strategy customdb, docs/CUSTOM_DATABASE.md) share the
// database connection's pages and flows — signup, forgot-password, reset
// and verification tickets, password changes — while their users live in a
// legacy database reached through scripts. What a script does is
// connectors/upstream's (CustomDB below); the policy, tickets, sessions and
// log events stay here, the same for both strategies. Logins of customdb
// connections go through connectors/upstream, which also carries out
// import mode.

import (
	"context"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
)

// CustomDB carries out the script side of custom-database users;
// *upstream.Service implements it. Errors are identity's typed errors
// (ConflictError for a taken email, ValidationError for a refusal) or
// connectors.ErrUnavailable (a script failed).
type CustomDB interface {
	// CreateUser stores a prepared signup in db after get_user's
	// duplicate check: locally with its hash in import mode, else through
	// the create script.
	CreateUser(ctx context.Context, db *ent.Client, nu *identity.NewUser) (*ent.User, error)
	// FindUser returns the identity (with its user) of email: the local
	// one, else the one get_user knows, whose local profile it creates.
	FindUser(ctx context.Context, conn *ent.Connection, email string) (*ent.Identity, error)
	// ChangePassword changes the password in the legacy database unless
	// it lives in Authgraph's store (local: the caller stores the hash).
	ChangePassword(ctx context.Context, conn *ent.Connection, idn *ent.Identity, email, newPassword string) (local bool, err error)
	// VerifyEmail tells the legacy database the address is verified.
	VerifyEmail(ctx context.Context, conn *ent.Connection, email string) error
}

// PasswordConnection returns the connection called name if its users have
// passwords Authgraph's pages handle: database or customdb (the latter
// only when the Service has a CustomDB).
// It reads through the login's connection cache (loginstate.go): the
// login page asks for it on every view.
func (s *Service) PasswordConnection(ctx context.Context, name string) (*ent.Connection, error) {
	return s.cachedConnection(ctx, name, s.passwordStrategies()...)
}

func (s *Service) passwordStrategies() []connection.Strategy {
	if s.CustomDB != nil {
		return []connection.Strategy{connection.StrategyDatabase, connection.StrategyCustomdb}
	}
	return []connection.Strategy{connection.StrategyDatabase}
}

// IsCustomDB reports whether conn is a custom-database connection.
func IsCustomDB(conn *ent.Connection) bool { return conn.Strategy == connection.StrategyCustomdb }

// passwordIdentity returns u's identity that holds a password Authgraph
// manages: of a database connection, or of a custom-database connection
// when the Service has a CustomDB.
func (s *Service) passwordIdentity(ctx context.Context, db *ent.Client, ownerID pulid.ID) (*ent.Identity, error) {
	idn, err := db.Identity.Query().
		Where(entidentity.OwnerID(ownerID), entidentity.HasConnectionWith(connection.StrategyIn(s.passwordStrategies()...))).
		WithConnection().
		First(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, ErrNoDatabaseIdentity
	}
	return idn, err
}
