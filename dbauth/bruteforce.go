package dbauth

import (
	"context"

	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/ent"
)

// Brute-force protection is package lockout's, shared with the custom
// database and LDAP logins (connectors/upstream): each login attempt of
// (connection, identifier, IP) is counted before its password is checked,
// whether or not the identifier exists; the MaxAttempts-th failure blocks
// that triple for BlockFor. A correct password resets the counter; a
// password change (ChangePassword, ResetPassword) and UnblockAttempts lift
// blocks.

// guard returns the Service's lockout settings.
func (s *Service) guard() *lockout.Guard {
	return &lockout.Guard{DB: s.DB, MaxAttempts: s.MaxAttempts, BlockFor: s.BlockFor, Now: s.Now}
}

// UnblockAttempts lifts the brute-force blocks of identifier (an email or a
// username, any case) in every connection — database, custom database and
// LDAP — and from every IP, and forgets its failure counters. It returns
// how many (connection, IP) blocks were in force; the GraphQL mutation
// unblockUserAttempts returns that number. Logs ublkdu when a block was
// lifted.
func (s *Service) UnblockAttempts(ctx context.Context, identifier string) (int, error) {
	return UnblockAttempts(ctx, s.DB, identifier)
}

// UnblockAttempts is Service.UnblockAttempts on any client (a transaction's
// included).
func UnblockAttempts(ctx context.Context, db *ent.Client, identifier string) (int, error) {
	return lockout.Unblock(ctx, db, identifier)
}

// clearIdentifiers forgets counters and blocks of the given identifiers in
// connection conn (a password change).
func clearIdentifiers(ctx context.Context, db *ent.Client, conn string, idents ...string) error {
	return lockout.Clear(ctx, db, conn, idents...)
}
