package mfa

import (
	"context"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// Scopes of the management operations (docs/SCOPES.md): Auth0's names for
// the tenant's factors and for enrollment tickets, the users' scopes for a
// user's authenticators.
const (
	ScopeReadSettings         = "read:guardian_factors"
	ScopeUpdateSettings       = "update:guardian_factors"
	ScopeCreateTickets        = "create:guardian_enrollment_tickets"
	ScopeReadAuthenticators   = "read:users"
	ScopeUpdateAuthenticators = "update:users"
)

// Manager is the management use cases, shared by the GraphQL and REST
// APIs: each checks the caller's scope before it looks anything up, and a
// write commits with its audit entry (sapi) through manage.Write. Users
// are named by node id (usr_…) or user_id; an unknown one is an
// *identity.NotFoundError.
type Manager struct{ s *Service }

// Manager returns the management use cases over the service.
func (s *Service) Manager() *Manager { return &Manager{s: s} }

func require(ctx context.Context, scope string) error {
	if !authz.FromContext(ctx).HasScope(scope) {
		return &authz.ScopeError{Scope: scope}
	}
	return nil
}

// Settings returns the tenant's settings (read:guardian_factors).
func (m *Manager) Settings(ctx context.Context) (Settings, error) {
	if err := require(ctx, ScopeReadSettings); err != nil {
		return Settings{}, err
	}
	return m.s.Settings(ctx)
}

// UpdateSettings applies change to the current settings and stores them
// (update:guardian_factors); operation names the audit entry.
func (m *Manager) UpdateSettings(ctx context.Context, operation string, change func(*Settings)) (Settings, error) {
	if err := require(ctx, ScopeUpdateSettings); err != nil {
		return Settings{}, err
	}
	st, err := m.s.Settings(ctx)
	if err != nil {
		return Settings{}, err
	}
	change(&st)
	err = manage.Write(ctx, m.s.cfg.DB, manage.Op{Scope: ScopeUpdateSettings, Operation: operation,
		Description: "Update the MFA settings"}, func(tx *ent.Client) (manage.Audit, error) {
		st, err = m.s.updateSettings(ctx, tx, st)
		return manage.Audit{}, err
	})
	m.s.settings.Forget()
	return st, err
}

// Authenticators lists a user's authenticators (read:users).
func (m *Manager) Authenticators(ctx context.Context, user string) ([]Authenticator, error) {
	if err := require(ctx, ScopeReadAuthenticators); err != nil {
		return nil, err
	}
	u, err := identity.Resolve(authz.SystemContext(ctx), m.s.cfg.DB, user)
	if err != nil {
		return nil, err
	}
	return m.s.Authenticators(ctx, u.ID)
}

// Delete removes one authenticator of a user (update:users); ErrNotFound
// when the user has no such authenticator. When no factor that answers a
// challenge is left, the user's sessions end.
func (m *Manager) Delete(ctx context.Context, operation, user, authenticatorID string) error {
	return manage.Write(ctx, m.s.cfg.DB, manage.Op{Scope: ScopeUpdateAuthenticators, Operation: operation,
		Description: "Remove an authenticator of a user"}, func(tx *ent.Client) (manage.Audit, error) {
		u, err := identity.Resolve(authz.SystemContext(ctx), tx, user)
		if err != nil {
			return manage.Audit{}, err
		}
		if err := m.s.delete(ctx, tx, u, authenticatorID); err != nil {
			return manage.Audit{}, err
		}
		return manage.Audit{UserID: u.UserID}, m.s.endSessionsWithoutFactor(ctx, tx, u.ID)
	})
}

// Reset removes every authenticator of a user (update:users).
func (m *Manager) Reset(ctx context.Context, operation, user string) error {
	return manage.Write(ctx, m.s.cfg.DB, manage.Op{Scope: ScopeUpdateAuthenticators, Operation: operation,
		Description: "Reset the MFA of a user"}, func(tx *ent.Client) (manage.Audit, error) {
		u, err := identity.Resolve(authz.SystemContext(ctx), tx, user)
		if err != nil {
			return manage.Audit{}, err
		}
		return manage.Audit{UserID: u.UserID}, m.s.reset(ctx, tx, u)
	})
}

// EnrollmentTicket creates an enrollment ticket for a user
// (create:guardian_enrollment_tickets) and returns its link
// ({issuer}login/mfa/enroll?ticket=…) and expiry. ttl <= 0 means
// EnrollmentTicketTTL.
func (m *Manager) EnrollmentTicket(ctx context.Context, operation, user string, ttl time.Duration) (link string, expiresAt time.Time, err error) {
	err = manage.Write(ctx, m.s.cfg.DB, manage.Op{Scope: ScopeCreateTickets, Operation: operation,
		Description: "Create an MFA enrollment ticket"}, func(tx *ent.Client) (manage.Audit, error) {
		u, err := identity.Resolve(authz.SystemContext(ctx), tx, user)
		if err != nil {
			return manage.Audit{}, err
		}
		var token string
		token, expiresAt, err = m.s.createTicket(ctx, tx, u.ID, ttl)
		link = m.s.EnrollmentTicketURL(token)
		return manage.Audit{UserID: u.UserID}, err
	})
	return link, expiresAt, err
}
