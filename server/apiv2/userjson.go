package apiv2

import (
	"context"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
)

// scopeReadIdPTokens lets a caller read identities' upstream tokens (as
// the GraphQL identity's accessToken and refreshToken).
const scopeReadIdPTokens = "read:user_idp_tokens"

// User is Auth0's user object. Absent values are omitted, never "" (the
// SDKs cannot parse "" as a time); email_verified, logins_count, blocked
// and both metadata objects are always present.
type User struct {
	UserID            string         `json:"user_id"`
	Email             *string        `json:"email,omitempty"`
	EmailVerified     bool           `json:"email_verified"`
	Username          *string        `json:"username,omitempty"`
	PhoneNumber       *string        `json:"phone_number,omitempty"`
	PhoneVerified     *bool          `json:"phone_verified,omitempty" doc:"Present when the user has a phone number."`
	Name              *string        `json:"name,omitempty"`
	GivenName         *string        `json:"given_name,omitempty"`
	FamilyName        *string        `json:"family_name,omitempty"`
	Nickname          *string        `json:"nickname,omitempty"`
	Picture           *string        `json:"picture,omitempty"`
	CreatedAt         string         `json:"created_at" doc:"RFC 3339, UTC, milliseconds."`
	UpdatedAt         string         `json:"updated_at"`
	Identities        []UserIdentity `json:"identities"`
	AppMetadata       map[string]any `json:"app_metadata"`
	UserMetadata      map[string]any `json:"user_metadata"`
	LastIP            *string        `json:"last_ip,omitempty"`
	LastLogin         *string        `json:"last_login,omitempty" doc:"Absent until the first login."`
	LastPasswordReset *string        `json:"last_password_reset,omitempty"`
	LoginsCount       int            `json:"logins_count"`
	Blocked           bool           `json:"blocked"`
}

// UserIdentity is one of a user's identities in Auth0's shape.
type UserIdentity struct {
	Connection string `json:"connection"`
	// UserID is the id at the connection, without the provider prefix
	// ("5457edea1b8f22891a000004" for "auth0|5457edea1b8f22891a000004").
	UserID      string         `json:"user_id"`
	Provider    string         `json:"provider"`
	IsSocial    bool           `json:"isSocial"`
	ProfileData map[string]any `json:"profileData,omitempty"`
	// The upstream IdP's tokens, only for callers holding
	// read:user_idp_tokens.
	AccessToken  string `json:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// users renders us with their identities, loaded in one query. The
// identities' connections are read as the system: a user's identities name
// their connection whatever the caller may read of connections (the GraphQL
// identity does the same). Upstream tokens are never opened here: only a
// read of one user shows them (userWithTokens), so that no listing pages out
// every identity's tokens at once.
func (a *API) users(ctx context.Context, us []*ent.User) ([]User, error) {
	return a.render(ctx, a.cfg.DB, us, false)
}

// usersFrom is users with the identities read through db: a listing's
// identities come from the database its users came from (the replica's
// listings, store/replica.go).
func (a *API) usersFrom(ctx context.Context, db *ent.Client, us []*ent.User) ([]User, error) {
	return a.render(ctx, db, us, false)
}

// userWithTokens renders one user, with the upstream IdP's tokens of each
// identity when the caller holds read:user_idp_tokens (GET /users/{id}, as
// Auth0 documents them).
func (a *API) userWithTokens(ctx context.Context, u *ent.User) (User, error) {
	out, err := a.render(ctx, a.cfg.DB, []*ent.User{u}, authz.FromContext(ctx).HasScope(scopeReadIdPTokens))
	if err != nil {
		return User{}, err
	}
	return out[0], nil
}

func (a *API) render(ctx context.Context, db *ent.Client, us []*ent.User, tokens bool) ([]User, error) {
	out := make([]User, len(us))
	if len(us) == 0 {
		return out, nil
	}
	ids := make([]pulid.ID, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	sys := authz.SystemContext(ctx)
	// Only the columns the rendering reads: password hashes and their
	// history are never rendered, and sealed upstream tokens only for a
	// caller who may read them.
	cols := []string{entidentity.FieldID, entidentity.FieldOwnerID, entidentity.FieldConnectionID, entidentity.FieldProvider,
		entidentity.FieldUpstreamID, entidentity.FieldIsSocial, entidentity.FieldProfileData, entidentity.FieldCreatedAt}
	if tokens {
		cols = append(cols, entidentity.FieldTokensSealed)
	}
	idents, err := db.Identity.Query().Where(entidentity.OwnerIDIn(ids...)).Select(cols...).All(sys)
	if err != nil {
		return nil, err
	}
	names, err := a.connectionNames(sys, idents)
	if err != nil {
		return nil, err
	}
	byOwner := map[pulid.ID][]*ent.Identity{}
	for _, idn := range idents {
		byOwner[idn.OwnerID] = append(byOwner[idn.OwnerID], idn)
	}
	for i, u := range us {
		out[i] = userJSON(u)
		list, err := a.identities(u, byOwner[u.ID], names, tokens)
		if err != nil {
			return nil, err
		}
		out[i].Identities = list
	}
	return out, nil
}

// connectionNames maps the connections of idents to their names, from a
// cache of all connections: a tenant has few, a user read needs their names,
// and a name never changes (a connection cannot be renamed). A connection
// created since the cache was filled is a miss that refreshes it once.
func (a *API) connectionNames(ctx context.Context, idents []*ent.Identity) (map[pulid.ID]string, error) {
	load := func(ctx context.Context) (map[pulid.ID]string, error) {
		cs, err := a.cfg.DB.Connection.Query().Select(connection.FieldID, connection.FieldName).All(ctx)
		if err != nil {
			return nil, err
		}
		m := make(map[pulid.ID]string, len(cs))
		for _, c := range cs {
			m[c.ID] = c.Name
		}
		return m, nil
	}
	names, err := a.connNames.Get(ctx, struct{}{}, load)
	if err != nil {
		return nil, err
	}
	for _, idn := range idents {
		if _, ok := names[idn.ConnectionID]; !ok {
			return a.connNames.Refresh(ctx, struct{}{}, load)
		}
	}
	return names, nil
}

// user renders one user.
func (a *API) user(ctx context.Context, u *ent.User) (User, error) {
	out, err := a.users(ctx, []*ent.User{u})
	if err != nil {
		return User{}, err
	}
	return out[0], nil
}

// userIdentities renders the identities of the user with node id id.
func (a *API) userIdentities(ctx context.Context, u *ent.User) ([]UserIdentity, error) {
	out, err := a.user(ctx, u)
	if err != nil {
		return nil, err
	}
	return out.Identities, nil
}

// identities renders a user's identities, the primary one (whose
// provider|user_id is the user's user_id) first, as Auth0 lists them, then
// by age.
func (a *API) identities(u *ent.User, idents []*ent.Identity, names map[pulid.ID]string, withTokens bool) ([]UserIdentity, error) {
	primary := func(idn *ent.Identity) bool { return idn.Provider+"|"+idn.UpstreamID == u.UserID }
	slices.SortStableFunc(idents, func(x, y *ent.Identity) int {
		if px, py := primary(x), primary(y); px != py {
			if px {
				return -1
			}
			return 1
		}
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(x.ID), string(y.ID))
	})
	out := make([]UserIdentity, 0, len(idents))
	for _, idn := range idents {
		ui := UserIdentity{UserID: idn.UpstreamID, Provider: idn.Provider, IsSocial: idn.IsSocial}
		if len(idn.ProfileData) > 0 {
			ui.ProfileData = idn.ProfileData
		}
		ui.Connection = names[idn.ConnectionID]
		if withTokens && ui.Connection != "" && a.cfg.Connections != nil && a.cfg.Connections.Box != nil {
			toks, err := identity.OpenTokens(a.cfg.Connections.Box, ui.Connection, idn)
			if err != nil {
				return nil, err
			}
			if toks != nil {
				ui.AccessToken, ui.RefreshToken = pick(toks)
			}
		}
		out = append(out, ui)
	}
	return out, nil
}

func pick(t *connectors.Tokens) (access, refresh string) { return t.AccessToken, t.RefreshToken }

// userJSON is u's root fields in Auth0's shape (identities aside).
func userJSON(u *ent.User) User {
	out := User{
		UserID:        u.UserID,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		Username:      u.Username,
		PhoneNumber:   u.PhoneNumber,
		Name:          u.Name,
		GivenName:     u.GivenName,
		FamilyName:    u.FamilyName,
		Nickname:      u.Nickname,
		Picture:       u.Picture,
		CreatedAt:     auth0Time(u.CreatedAt),
		UpdatedAt:     auth0Time(u.UpdatedAt),
		AppMetadata:   u.AppMetadata,
		UserMetadata:  u.UserMetadata,
		LastIP:        u.LastIP,
		LoginsCount:   u.LoginsCount,
		Blocked:       u.Blocked,
		Identities:    []UserIdentity{},
	}
	if u.PhoneNumber != nil {
		v := u.PhoneVerified
		out.PhoneVerified = &v
	}
	if out.AppMetadata == nil {
		out.AppMetadata = map[string]any{}
	}
	if out.UserMetadata == nil {
		out.UserMetadata = map[string]any{}
	}
	if u.LastLogin != nil {
		s := auth0Time(*u.LastLogin)
		out.LastLogin = &s
	}
	if u.LastPasswordReset != nil {
		s := auth0Time(*u.LastPasswordReset)
		out.LastPasswordReset = &s
	}
	return out
}
