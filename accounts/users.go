package accounts

import (
	"context"
	"errors"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth/policy"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

// Scopes of the user use cases (authz/scopes.go).
const (
	ScopeCreate  = "create:users"
	ScopeUpdate  = "update:users"
	ScopeDelete  = "delete:users"
	ScopeTickets = "create:user_tickets"
)

// UpdateInput is a PATCH of a user (identity.UpdateInput) plus its
// password, which changes through dbauth (policy, history, revocation).
type UpdateInput struct {
	identity.UpdateInput
	// Password: Set with a nil Value is a validation error (a password
	// cannot be removed).
	Password identity.Patch[string]
}

// Create validates in and creates the user; in a custom-database
// connection its scripts carry it out (get_user guard, then create, or a
// local user in import mode) after Authgraph validated the input.
func (s *Service) Create(ctx context.Context, in identity.CreateInput) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeCreate, Operation: "createUser", Description: "Create a User"},
		func(tx *ent.Client) (manage.Audit, error) {
			nu, err := identity.PrepareCreate(ctx, tx, in)
			if err != nil {
				return manage.Audit{}, err
			}
			// An administrator's password for a user meets the
			// connection's policy like the user's own would (Auth0 refuses
			// it too): otherwise the management API is the way around it.
			if nu.Password != nil {
				if err := s.Auth.CheckNewPassword(ctx, nu.Connection, newUserPersonal(nu, in), nil, *nu.Password); err != nil {
					return manage.Audit{}, err
				}
			}
			if nu.Connection.Strategy != connection.StrategyCustomdb {
				u, err = nu.Store(ctx, tx, s.Auth.Passwords)
			} else if s.Upstream == nil {
				err = errors.New("accounts: no connector service for custom-database connections")
			} else {
				u, err = s.Upstream.CreateUser(ctx, tx, nu)
			}
			if err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: u.UserID}, nil
		})
	if err != nil {
		return nil, err
	}
	return detach(ctx, u), nil
}

// Update patches the user with id (a node id or a user_id). A
// custom-database user's email change runs its change_email script after
// the local change, in the same transaction, so the script's failure
// undoes it. A password change applies the connection's policy and ends
// the user's sessions and grants; blocking a user ends them too.
func (s *Service) Update(ctx context.Context, id string, in UpdateInput) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeUpdate, Operation: "updateUser", Description: "Update a User"},
		func(tx *ent.Client) (manage.Audit, error) {
			if err := requireControl(ctx, tx, id); err != nil {
				return manage.Audit{}, err
			}
			legacy, err := s.customDBUser(ctx, tx, id, in.Email.Set)
			if err != nil {
				return manage.Audit{}, err
			}
			if u, err = identity.Update(ctx, tx, id, in.UpdateInput); err != nil {
				return manage.Audit{}, err
			}
			if err := legacy.emailChanged(ctx, u); err != nil {
				return manage.Audit{}, err
			}
			reread := false
			if in.Password.Set {
				if in.Password.Value == nil {
					return manage.Audit{}, &identity.ValidationError{Field: "password", Message: "cannot be null"}
				}
				// The connection's password policy, history and dictionary
				// apply to administrators too; the change ends the user's
				// sessions and grants (identity.RevokeAccess), as every
				// password change does.
				if err := s.Auth.ChangePassword(ctx, tx, u, *in.Password.Value); err != nil {
					return manage.Audit{}, err
				}
				reread = true // last_password_reset
			}
			if u.Blocked && in.Blocked.Set {
				if err := identity.RevokeAccess(ctx, tx, u.ID, identity.RevokeUserBlocked); err != nil {
					return manage.Audit{}, err
				}
			}
			if reread {
				if u, err = tx.User.Get(authz.SystemContext(ctx), u.ID); err != nil {
					return manage.Audit{}, err
				}
			}
			return manage.Audit{UserID: u.UserID}, nil
		})
	if err != nil {
		return nil, err
	}
	return detach(ctx, u), nil
}

// Delete deletes the user with id and returns it as it was. A
// custom-database user's delete script runs after the local delete, in the
// same transaction, so its failure keeps the user.
func (s *Service) Delete(ctx context.Context, id string) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeDelete, Operation: "deleteUser", Description: "Delete a User"},
		func(tx *ent.Client) (manage.Audit, error) {
			if err := requireControl(ctx, tx, id); err != nil {
				return manage.Audit{}, err
			}
			legacy, err := s.customDBUser(ctx, tx, id, true)
			if err != nil {
				return manage.Audit{}, err
			}
			if u, err = identity.Delete(ctx, tx, id); err != nil {
				return manage.Audit{}, err
			}
			if legacy != nil {
				if err := legacy.cu.Delete(ctx); err != nil {
					return manage.Audit{}, err
				}
			}
			return manage.Audit{UserID: u.UserID}, nil
		})
	if err != nil {
		return nil, err
	}
	return detach(ctx, u), nil
}

// Link moves the secondary user's identities to the primary user and
// deletes the secondary user (identity.Link).
func (s *Service) Link(ctx context.Context, primaryID, secondaryID string) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeUpdate, Operation: "linkUser"},
		func(tx *ent.Client) (manage.Audit, error) {
			us, err := resolveControlled(ctx, tx, primaryID, secondaryID)
			if err != nil {
				return manage.Audit{}, err
			}
			if u, err = identity.Link(ctx, tx, primaryID, secondaryID); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: u.UserID, Description: "Link " + us[1].UserID + " to a User"}, nil
		})
	if err != nil {
		return nil, err
	}
	return detach(ctx, u), nil
}

// Unlink detaches the identity (connection, identityUserID) from the user
// with userID into a user of its own (identity.Unlink).
func (s *Service) Unlink(ctx context.Context, userID, conn, identityUserID string) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: ScopeUpdate, Operation: "unlinkIdentity"},
		func(tx *ent.Client) (manage.Audit, error) {
			if err := requireControl(ctx, tx, userID); err != nil {
				return manage.Audit{}, err
			}
			var err error
			if u, err = identity.Unlink(ctx, tx, userID, conn, identityUserID); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: u.UserID, Description: "Unlink " + conn + "|" + identityUserID + " from a User"}, nil
		})
	if err != nil {
		return nil, err
	}
	return detach(ctx, u), nil
}

// requireControl resolves users (node ids or user_ids) and refuses, before
// anything changes, unless the caller holds every scope of their admin
// grants (admins.RequireControl). An unknown user is identity's
// NotFoundError, as the operation itself would answer.
func requireControl(ctx context.Context, db *ent.Client, ids ...string) error {
	_, err := resolveControlled(ctx, db, ids...)
	return err
}

// resolveControlled is requireControl returning the resolved users.
func resolveControlled(ctx context.Context, db *ent.Client, ids ...string) ([]*ent.User, error) {
	us := make([]*ent.User, 0, len(ids))
	refs := make([]pulid.ID, 0, len(ids))
	for _, id := range ids {
		u, err := identity.Resolve(authz.SystemContext(ctx), db, id)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
		refs = append(refs, u.ID)
	}
	return us, admins.RequireControl(ctx, db, refs...)
}

// legacyUser is the custom-database side of a user's update: the email
// before the change, for the change_email script.
type legacyUser struct {
	cu       *upstream.CustomDBUser
	oldEmail string
}

// customDBUser returns the custom-database identity of the user with id
// when want is true and the user has one; nil otherwise (a nil
// *legacyUser does nothing).
func (s *Service) customDBUser(ctx context.Context, db *ent.Client, id string, want bool) (*legacyUser, error) {
	if !want || s.Upstream == nil {
		return nil, nil
	}
	u, err := identity.Resolve(authz.SystemContext(ctx), db, id)
	if err != nil {
		return nil, err
	}
	cu, err := s.Upstream.CustomDBUser(ctx, db, u)
	if err != nil || cu == nil {
		return nil, err
	}
	old := ""
	if u.Email != nil {
		old = *u.Email
	}
	return &legacyUser{cu: cu, oldEmail: old}, nil
}

// emailChanged runs the scripts of an email change that identity.Update
// has validated and written in the use case's transaction: an error rolls
// it back.
func (l *legacyUser) emailChanged(ctx context.Context, u *ent.User) error {
	if l == nil || u.Email == nil || *u.Email == l.oldEmail {
		return nil
	}
	return l.cu.ChangeEmail(ctx, l.oldEmail, *u.Email, u.EmailVerified)
}

// detach rebinds a user read in a transaction the use case opened (and
// has committed) to the plain client, so that the caller's later reads of
// its edges (identities…) work. Inside the caller's transaction (a GraphQL
// operation's) the user stays bound to it.
func detach(ctx context.Context, u *ent.User) (out *ent.User) {
	if u == nil || ent.TxFromContext(ctx) != nil {
		return u
	}
	// Unwrap panics on a user not read through a transaction (a Service
	// whose DB is itself a transaction's client): keep it as it is.
	defer func() {
		if recover() != nil {
			out = u
		}
	}()
	return u.Unwrap()
}

// newUserPersonal is the profile the policy's personal-information rule
// compares a new user's password with.
func newUserPersonal(nu *identity.NewUser, in identity.CreateInput) policy.Personal {
	p := policy.Personal{Email: nu.Email, UserMetadata: in.UserMetadata}
	for _, f := range []struct {
		dst *string
		src *string
	}{{&p.Username, nu.Username}, {&p.Name, in.Name}, {&p.Nickname, in.Nickname}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return p
}
