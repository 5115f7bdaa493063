package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/user"
)

// Link makes secondary's identities part of primary (docs/MANAGEMENT.md): primary keeps
// its user_id, root profile and metadata; each of secondary's identities
// moves to primary with secondary's profile in its profile_data
// (profileData); secondary's metadata is discarded and the secondary user
// removed. A later login through any moved identity resolves to primary.
// Ids are node ids (usr_…) or user_ids.
func Link(ctx context.Context, db *ent.Client, primaryID, secondaryID string) (*ent.User, error) {
	var out *ent.User
	err := inTx(ctx, db, func(c *ent.Client) error {
		sys := authz.SystemContext(ctx)
		primary, err := Resolve(sys, c, primaryID)
		if err != nil {
			return err
		}
		secondary, err := Resolve(sys, c, secondaryID)
		if err != nil {
			return err
		}
		if primary.ID == secondary.ID {
			return invalid("secondaryId", "a user cannot be linked to itself")
		}
		idents, err := c.Identity.Query().Where(entidentity.OwnerID(secondary.ID)).All(sys)
		if err != nil {
			return err
		}
		if len(idents) == 0 {
			return invalid("secondaryId", "user %s has no identity to link", secondary.UserID)
		}
		profile := secondaryProfile(secondary)
		for _, idn := range idents {
			data := map[string]any{}
			for k, v := range idn.ProfileData {
				data[k] = v
			}
			for k, v := range profile {
				data[k] = v
			}
			if err := c.Identity.UpdateOne(idn).SetOwnerID(primary.ID).SetProfileData(data).Exec(sys); err != nil {
				return err
			}
		}
		// Sessions, grants and tickets of the secondary go with it.
		if err := c.User.DeleteOne(secondary).Exec(sys); err != nil {
			return err
		}
		out, err = c.User.Get(sys, primary.ID)
		return err
	})
	return out, err
}

// secondaryProfile is what Auth0 keeps of a linked secondary in its
// identity's profileData.
func secondaryProfile(u *ent.User) map[string]any {
	out := map[string]any{"email_verified": u.EmailVerified}
	for k, v := range map[string]*string{"email": u.Email, "name": u.Name, "username": u.Username, "given_name": u.GivenName,
		"family_name": u.FamilyName, "nickname": u.Nickname, "picture": u.Picture, "phone_number": u.PhoneNumber} {
		if v != nil {
			out[k] = *v
		}
	}
	if u.PhoneNumber != nil {
		out["phone_verified"] = u.PhoneVerified
	}
	return out
}

// ErrPrimaryIdentity: the identity a user was created from cannot be
// unlinked from it.
var ErrPrimaryIdentity = errors.New("the primary identity cannot be unlinked")

// Unlink detaches the identity (connection name, upstream id without
// provider) from user and recreates it as a standalone user, without
// metadata, with its profile from the identity's profileData; user_id is
// provider|upstream id again. The user's sessions and grants are revoked
// (RevokeAccess). It returns the (primary) user.
func Unlink(ctx context.Context, db *ent.Client, userID, connName, identityUserID string) (*ent.User, error) {
	var out *ent.User
	err := inTx(ctx, db, func(c *ent.Client) error {
		sys := authz.SystemContext(ctx)
		u, err := Resolve(sys, c, userID)
		if err != nil {
			return err
		}
		idn, err := c.Identity.Query().Where(entidentity.OwnerID(u.ID), entidentity.UpstreamID(identityUserID),
			entidentity.HasConnectionWith(connection.Name(connName))).Only(sys)
		if ent.IsNotFound(err) {
			return &NotFoundError{What: "identity", ID: connName + "/" + identityUserID}
		}
		if err != nil {
			return err
		}
		full := idn.Provider + "|" + idn.UpstreamID
		if full == u.UserID {
			return &ValidationError{Field: "identityUserId", Message: ErrPrimaryIdentity.Error()}
		}
		if taken, err := c.User.Query().Where(user.UserID(full)).Exist(sys); err != nil {
			return err
		} else if taken {
			return &ConflictError{Field: "identityUserId", Message: fmt.Sprintf("a user with user_id %s exists", full)}
		}
		p := idn.ProfileData
		str := func(k string, maxLen int) *string {
			s, ok := p[k].(string)
			if !ok || s == "" || len(s) > maxLen {
				return nil
			}
			return &s
		}
		uc := c.User.Create().SetUserID(full).
			SetNillableName(str("name", 300)).SetNillableGivenName(str("given_name", 150)).
			SetNillableFamilyName(str("family_name", 150)).SetNillableNickname(str("nickname", 350))
		if e := str("email", 254); e != nil {
			// A profile's look-alike address is dropped with its verification.
			if email, err := normalizeEmail("email", *e); err == nil {
				uc.SetEmail(email)
				if v, ok := p["email_verified"].(bool); ok {
					uc.SetEmailVerified(v)
				}
			}
		}
		if pic := str("picture", 2048); pic != nil && validatePicture("picture", *pic) == nil {
			uc.SetPicture(*pic)
		}
		if idn.Provider == DatabaseProvider {
			// A database identity keeps its login name on the user too.
			uc.SetNillableUsername(idn.Username)
		}
		standalone, err := uc.Save(sys)
		if err != nil {
			return translateConstraint(err)
		}
		if err := c.Identity.UpdateOne(idn).SetOwnerID(standalone.ID).Exec(sys); err != nil {
			return err
		}
		// Sessions and tokens obtained through the identity that leaves
		// were the user's: they end with everything the user holds.
		if err := RevokeAccess(ctx, c, u.ID, RevokeIdentityUnlinked); err != nil {
			return err
		}
		out, err = c.User.Get(sys, u.ID)
		return err
	})
	return out, err
}

// inTx runs fn in a transaction, or in the caller's when db is already
// transactional (GraphQL mutations run in one).
func inTx(ctx context.Context, db *ent.Client, fn func(*ent.Client) error) error {
	tx, err := db.Tx(authz.SystemContext(ctx))
	if errors.Is(err, ent.ErrTxStarted) || (err != nil && err.Error() == ent.ErrTxStarted.Error()) {
		return fn(db)
	}
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
