package accounts

import (
	"context"
	"slices"
	"time"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth/lockout"
	"github.com/authgraph/authgraph/ent"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/loginattempt"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/manage"
)

// Block is one brute-force block in force (package lockout): login
// attempts for Identifier from IP in Connection are refused until Until.
type Block struct {
	// Identifier is the email or username as the counter keeps it
	// (lowercased, addresses in their normal form).
	Identifier string
	IP         string
	// Connection is the connection's name.
	Connection string
	Until      time.Time
}

// Blocks returns the brute-force blocks in force for identifier (an email
// or a username, any case), in every connection and from every IP; none is
// an empty list. Counters are kept for identifiers nobody has (counting
// only real accounts would reveal them), so the answer says nothing about
// whether an account exists. Scope read:users.
func (s *Service) Blocks(ctx context.Context, identifier string) ([]Block, error) {
	if err := needScope(ctx, "read:users"); err != nil {
		return nil, err
	}
	ident := lockout.Normalize(identifier)
	if ident == "" {
		return nil, &identity.ValidationError{Field: "identifier", Message: "must not be empty"}
	}
	return blocksWhere(ctx, s.DB, loginattempt.Identifier(ident))
}

// BlocksOfUser returns the brute-force blocks in force for the user id
// (node id or user_id): those of the user's emails and usernames in the
// connections the user has identities in. The same identifier in another
// connection is another account's and is left out. Scope read:users.
func (s *Service) BlocksOfUser(ctx context.Context, id string) ([]Block, error) {
	if err := needScope(ctx, "read:users"); err != nil {
		return nil, err
	}
	_, match, err := s.userAttempts(ctx, s.DB, id)
	if err != nil {
		return nil, err
	}
	if match == nil {
		return []Block{}, nil
	}
	return blocksWhere(ctx, s.DB, match)
}

// UnblockUser lifts the brute-force blocks of the user id (node id or
// user_id) and forgets their failure counters: those of the user's emails
// and usernames in the user's connections, from every IP. It returns how
// many (connection, identifier, IP) blocks were in force. The user's
// blocked flag (an administrator's block) is left alone, as Auth0 does.
// Scope update:users and control of the user (admins.RequireControl);
// logs ublkdu when a block was lifted, and the audit entry.
func (s *Service) UnblockUser(ctx context.Context, id string) (int, error) {
	var lifted int
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeUpdate, Operation: "unblockUser",
		Description: "Unblock a user's login attempts, all identifiers"}, func(tx *ent.Client) (manage.Audit, error) {
		u, match, err := s.userAttempts(ctx, tx, id)
		if err != nil {
			return manage.Audit{}, err
		}
		if err := admins.RequireControl(ctx, tx, u.ID); err != nil {
			return manage.Audit{}, err
		}
		if match == nil {
			return manage.Audit{UserID: u.UserID}, nil
		}
		sys := authz.SystemContext(ctx)
		lifted, err = tx.LoginAttempt.Query().Where(match, loginattempt.BlockedUntilGT(time.Now())).Count(sys)
		if err != nil {
			return manage.Audit{}, err
		}
		if _, err := tx.LoginAttempt.Delete().Where(match).Exec(sys); err != nil {
			return manage.Audit{}, err
		}
		if lifted > 0 {
			if err := logs.Write(ctx, tx, logs.Event{Type: "ublkdu", Description: "Brute-force block released",
				UserID: u.UserID, UserName: stringOr(u.Email)}); err != nil {
				return manage.Audit{}, err
			}
		}
		return manage.Audit{UserID: u.UserID}, nil
	})
	if err != nil {
		return 0, err
	}
	return lifted, nil
}

// userAttempts resolves id and returns the predicate matching its login
// counters: any of its identifiers in any of its connections (nil when the
// user has no identifier, so nothing can be counted for it).
func (s *Service) userAttempts(ctx context.Context, db *ent.Client, id string) (*ent.User, predicate.LoginAttempt, error) {
	sys := authz.SystemContext(ctx)
	u, err := identity.Resolve(sys, db, id)
	if err != nil {
		return nil, nil, err
	}
	idns, err := db.Identity.Query().Where(entidentity.OwnerID(u.ID)).WithConnection().All(sys)
	if err != nil {
		return nil, nil, err
	}
	var idents, conns []string
	add := func(list []string, v *string, normalize bool) []string {
		if v == nil || *v == "" {
			return list
		}
		s := *v
		if normalize {
			s = lockout.Normalize(s)
		}
		if s == "" || slices.Contains(list, s) {
			return list
		}
		return append(list, s)
	}
	idents = add(idents, u.Email, true)
	idents = add(idents, u.Username, true)
	for _, idn := range idns {
		idents = add(idents, idn.EmailLower, true)
		idents = add(idents, idn.Username, true)
		if c := idn.Edges.Connection; c != nil {
			conns = add(conns, &c.Name, false)
		}
	}
	if len(idents) == 0 || len(conns) == 0 {
		return u, nil, nil
	}
	return u, loginattempt.And(loginattempt.IdentifierIn(idents...), loginattempt.ConnectionIn(conns...)), nil
}

// blocksWhere lists the blocks in force among the counters matching p, in
// a stable order.
func blocksWhere(ctx context.Context, db *ent.Client, p predicate.LoginAttempt) ([]Block, error) {
	rows, err := db.LoginAttempt.Query().
		Where(p, loginattempt.BlockedUntilGT(time.Now())).
		Order(ent.Asc(loginattempt.FieldConnection), ent.Asc(loginattempt.FieldIdentifier), ent.Asc(loginattempt.FieldIP)).
		All(authz.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]Block, 0, len(rows))
	for _, r := range rows {
		out = append(out, Block{Identifier: r.Identifier, IP: r.IP, Connection: r.Connection, Until: *r.BlockedUntil})
	}
	return out, nil
}

// needScope refuses a caller (ctx's viewer) without scope before
// anything is looked up.
func needScope(ctx context.Context, scope string) error {
	if !authz.FromContext(ctx).HasScope(scope) {
		return &authz.ScopeError{Scope: scope}
	}
	return nil
}

func stringOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
