package accounts

// TEMPORARY stand-in for the accounts use cases on the rest-users branch,
// removed when the accounts branch is merged. Same signatures.

import (
	"context"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/manage"
)

type UpdateInput struct {
	identity.UpdateInput
	Password identity.Patch[string]
}

func (s *Service) Create(ctx context.Context, in identity.CreateInput) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "create:users", Operation: "createUser", Description: "Create a User"},
		func(tx *ent.Client) (manage.Audit, error) {
			var err error
			if u, err = identity.Create(ctx, tx, in); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: u.UserID}, nil
		})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

func (s *Service) Update(ctx context.Context, id string, in UpdateInput) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "update:users", Operation: "updateUser", Description: "Update a User"},
		func(tx *ent.Client) (manage.Audit, error) {
			var err error
			if u, err = identity.Update(ctx, tx, id, in.UpdateInput); err != nil {
				return manage.Audit{}, err
			}
			if in.Password.Set {
				if in.Password.Value == nil {
					return manage.Audit{}, &identity.ValidationError{Field: "password", Message: "cannot be null"}
				}
				if err := s.Auth.ChangePassword(ctx, tx, u, *in.Password.Value); err != nil {
					return manage.Audit{}, err
				}
				if u, err = tx.User.Get(authz.SystemContext(ctx), u.ID); err != nil {
					return manage.Audit{}, err
				}
			}
			return manage.Audit{UserID: u.UserID}, nil
		})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

func (s *Service) Delete(ctx context.Context, id string) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "delete:users", Operation: "deleteUser", Description: "Delete a User"},
		func(tx *ent.Client) (manage.Audit, error) {
			var err error
			if u, err = identity.Delete(ctx, tx, id); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: u.UserID}, nil
		})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Service) Link(ctx context.Context, primaryID, secondaryID string) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "update:users", Operation: "linkUser", Description: "Link a User"},
		func(tx *ent.Client) (manage.Audit, error) {
			var err error
			if u, err = identity.Link(ctx, tx, primaryID, secondaryID); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: u.UserID}, nil
		})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

func (s *Service) Unlink(ctx context.Context, userID, conn, identityUserID string) (*ent.User, error) {
	var u *ent.User
	err := manage.Write(ctx, s.DB, manage.Op{Scope: "update:users", Operation: "unlinkIdentity", Description: "Unlink a User"},
		func(tx *ent.Client) (manage.Audit, error) {
			var err error
			if u, err = identity.Unlink(ctx, tx, userID, conn, identityUserID); err != nil {
				return manage.Audit{}, err
			}
			return manage.Audit{UserID: u.UserID}, nil
		})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

var _ = time.Now
var _ dbauth.TicketOptions
