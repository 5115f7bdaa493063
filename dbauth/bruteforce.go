package dbauth

import (
	"context"
	"fmt"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/logs"
)

// Brute-force protection (docs/DATABASE_CONNECTIONS.md, mode count_per_identifier_and_ip, shield
// block): each failed login of (connection, identifier, IP) is counted,
// whether or not the identifier exists (counting only real accounts would
// reveal them). The MaxAttempts-th failure blocks that triple for BlockFor;
// attempts while blocked are refused with ErrTooManyAttempts before any
// password is checked. A correct password resets the counter; a password
// change (ChangePassword, ResetPassword) and UnblockAttempts lift blocks.

// isBlocked reports whether (conn, ident, ip) is blocked now. Counters whose
// last failure is older than BlockFor are forgotten on the way.
func (s *Service) isBlocked(ctx context.Context, conn, ident, ip string) (bool, error) {
	now := s.now()
	a, err := s.DB.LoginAttempt.Query().
		Where(loginattempt.Connection(conn), loginattempt.Identifier(ident), loginattempt.IP(ip)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if now.Sub(a.LastFailureAt) >= s.blockFor() {
		return false, s.DB.LoginAttempt.DeleteOne(a).Exec(ctx)
	}
	return a.BlockedUntil != nil && now.Before(*a.BlockedUntil), nil
}

// recordFailure counts one failure and blocks at the threshold.
func (s *Service) recordFailure(ctx context.Context, conn, ident, ip string) error {
	now := s.now()
	match := s.DB.LoginAttempt.Update().
		Where(loginattempt.Connection(conn), loginattempt.Identifier(ident), loginattempt.IP(ip))
	n, err := match.AddFailures(1).SetLastFailureAt(now).Save(ctx)
	if err != nil {
		return fmt.Errorf("dbauth: counting a failed login: %w", err)
	}
	if n == 0 {
		err = s.DB.LoginAttempt.Create().
			SetConnection(conn).SetIdentifier(ident).SetIP(ip).
			SetFailures(1).SetLastFailureAt(now).Exec(ctx)
		if ent.IsConstraintError(err) { // a concurrent first failure won
			_, err = s.DB.LoginAttempt.Update().
				Where(loginattempt.Connection(conn), loginattempt.Identifier(ident), loginattempt.IP(ip)).
				AddFailures(1).SetLastFailureAt(now).Save(ctx)
		}
		if err != nil {
			return fmt.Errorf("dbauth: counting a failed login: %w", err)
		}
	}
	// Block at the threshold (a conditional update: concurrent failures
	// cannot lift or shorten it).
	_, err = s.DB.LoginAttempt.Update().
		Where(loginattempt.Connection(conn), loginattempt.Identifier(ident), loginattempt.IP(ip),
			loginattempt.FailuresGTE(s.maxAttempts()), loginattempt.BlockedUntilIsNil()).
		SetBlockedUntil(now.Add(s.blockFor())).
		Save(ctx)
	return err
}

func (s *Service) clearAttempts(ctx context.Context, conn, ident, ip string) error {
	_, err := s.DB.LoginAttempt.Delete().
		Where(loginattempt.Connection(conn), loginattempt.Identifier(ident), loginattempt.IP(ip)).
		Exec(ctx)
	return err
}

// UnblockAttempts lifts the brute-force blocks of identifier (an email or a
// username, any case) in every connection and from every IP, and forgets
// its failure counters. It returns how many (connection, IP) blocks were in
// force; the GraphQL mutation unblockUserAttempts returns that number. Logs
// ublkdu when a block was lifted.
func (s *Service) UnblockAttempts(ctx context.Context, identifier string) (int, error) {
	return UnblockAttempts(ctx, s.DB, identifier)
}

// UnblockAttempts is Service.UnblockAttempts on any client (a transaction's
// included).
func UnblockAttempts(ctx context.Context, db *ent.Client, identifier string) (int, error) {
	sys := authz.SystemContext(ctx)
	ident := NormalizeIdentifier(identifier)
	if ident == "" {
		return 0, nil
	}
	blocked, err := db.LoginAttempt.Query().
		Where(loginattempt.Identifier(ident), loginattempt.BlockedUntilGT(time.Now())).
		Count(sys)
	if err != nil {
		return 0, err
	}
	if _, err := db.LoginAttempt.Delete().Where(loginattempt.Identifier(ident)).Exec(sys); err != nil {
		return 0, err
	}
	if blocked > 0 {
		_ = logs.Write(ctx, db, logs.Event{Type: "ublkdu", Description: "Brute-force block released", UserName: ident})
	}
	return blocked, nil
}

// clearIdentifiers forgets counters and blocks of the given identifiers in
// connection conn (a password change).
func clearIdentifiers(ctx context.Context, db *ent.Client, conn string, idents ...string) error {
	var list []string
	for _, i := range idents {
		if i = NormalizeIdentifier(i); i != "" {
			list = append(list, i)
		}
	}
	if len(list) == 0 {
		return nil
	}
	_, err := db.LoginAttempt.Delete().
		Where(loginattempt.Connection(conn), loginattempt.IdentifierIn(list...)).
		Exec(authz.SystemContext(ctx))
	return err
}
