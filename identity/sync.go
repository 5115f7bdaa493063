package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/mapping"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	entidentity "github.com/authgraph/authgraph/ent/identity"
)

// Sealer seals upstream tokens (secretbox.Box).
type Sealer interface {
	Seal(plaintext []byte, ad string) []byte
	Open(sealed []byte, ad string) ([]byte, error)
}

// UpstreamLogin is a user an upstream connection vouched for.
type UpstreamLogin struct {
	Connection *ent.Connection
	Identity   connectors.Identity
	// Sealer seals Identity.Tokens; tokens are dropped when nil.
	Sealer Sealer
	// IP is the client's address (last_ip); Now the clock (time.Now).
	IP  string
	Now time.Time
}

// SyncResult is the user an upstream login resolved to.
type SyncResult struct {
	// User is the owner of the identity: the primary user when the identity
	// was linked to another account (docs/MANAGEMENT.md).
	User     *ent.User
	Identity *ent.Identity
	Created  bool
	// RefusedEmail, when not nil, is why the upstream's email was not
	// stored (a look-alike or malformed address): the login goes on
	// without it, and the caller logs it.
	RefusedEmail error
}

// rootAttributes are the profile fields set_user_root_attributes governs.
var rootAttributes = []string{"name", "given_name", "family_name", "nickname", "picture"}

// SyncUpstream finds the user of an upstream login by (connection, upstream
// id) only — never by email, so two connections asserting one address make
// two users until someone links them — creating it on the first login, and
// refreshes it in one transaction:
//   - the identity's profile_data is the raw upstream profile without the
//     connection's non_persistent_attrs (≤ 64 KB); its tokens are sealed;
//   - email and email_verified follow the upstream at every login, names and
//     picture as the connection's set_user_root_attributes says
//     (on_each_login, on_first_login, never_on_login); a field named in
//     non_persistent_attrs is never stored;
//   - a linked (secondary) identity refreshes only itself: the primary's
//     root profile is its own;
//   - last_login, last_ip and logins_count are bumped, also for a blocked
//     user (the caller refuses the login after).
func SyncUpstream(ctx context.Context, db *ent.Client, in UpstreamLogin) (*SyncResult, error) {
	id := in.Identity
	if id.Provider == "" || id.UserID == "" {
		return nil, fmt.Errorf("identity: upstream login without provider or user id")
	}
	if len(id.UserID) > 255 || len(id.FullUserID()) > 255 {
		return nil, connectors.Invalid("upstream user id longer than 255 bytes")
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	var res *SyncResult
	var err error
	// A concurrent first login of the same user loses the unique-index race
	// once: retry, which then finds the identity.
	for attempt := 0; attempt < 2; attempt++ {
		res, err = syncOnce(ctx, db, in)
		if err == nil || !ent.IsConstraintError(err) {
			break
		}
	}
	return res, err
}

func syncOnce(ctx context.Context, db *ent.Client, in UpstreamLogin) (*SyncResult, error) {
	sys := authz.SystemContext(ctx)
	conn, id := in.Connection, in.Identity
	denied := mapping.Strings(conn.Options["non_persistent_attrs"])
	raw := map[string]any{}
	for k, v := range id.Raw {
		raw[k] = v
	}
	if len(id.Groups) > 0 {
		raw["groups"] = id.Groups
	}
	raw = mapping.Sanitize(raw, denied)
	mode := string(conn.SyncMode)
	if mode == "" {
		mode = connections.SyncMode(conn.Options)
	}
	root, refusedEmail := rootValues(id, denied)

	tx, err := db.Tx(sys)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	c := tx.Client()

	idn, err := c.Identity.Query().
		Where(entidentity.ConnectionID(conn.ID), entidentity.UpstreamID(id.UserID)).
		WithUser().Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	res := &SyncResult{RefusedEmail: refusedEmail}
	var sealed []byte
	if id.Tokens != nil && in.Sealer != nil {
		b, _ := json.Marshal(id.Tokens)
		sealed = in.Sealer.Seal(b, TokensAD(conn.Name, id.UserID))
	}
	if idn == nil {
		uc := c.User.Create().SetUserID(id.FullUserID()).SetLastLogin(in.Now).SetLoginsCount(1)
		if in.IP != "" {
			uc.SetLastIP(truncateString(in.IP, 64))
		}
		if v, ok := root["email"]; ok {
			uc.SetEmail(v)
			uc.SetEmailVerified(id.EmailVerified)
		}
		if mode != connection.SyncModeNeverOnLogin.String() {
			setRoot(root, uc.SetName, uc.SetGivenName, uc.SetFamilyName, uc.SetNickname, uc.SetPicture)
		}
		u, err := uc.Save(sys)
		if err != nil {
			return nil, err
		}
		ic := c.Identity.Create().SetOwnerID(u.ID).SetConnectionID(conn.ID).
			SetProvider(id.Provider).SetUpstreamID(id.UserID).
			SetIsSocial(isSocial(id.Provider)).SetProfileData(raw)
		if sealed != nil {
			ic.SetTokensSealed(sealed)
		}
		if idn, err = ic.Save(sys); err != nil {
			return nil, err
		}
		res.User, res.Identity, res.Created = u, idn, true
	} else {
		if idn.Edges.User != nil && idn.Edges.User.UserID != id.FullUserID() {
			// A linked (secondary) identity keeps its normalized profile in
			// profileData, as Auth0's linked identities do.
			for k, v := range root {
				raw[k] = v
			}
			if _, ok := root["email"]; ok {
				raw["email_verified"] = id.EmailVerified
			}
			if id.Username != "" && !slices.Contains(denied, "username") {
				raw["username"] = id.Username
			}
		}
		iu := c.Identity.UpdateOne(idn).SetProfileData(raw)
		if sealed != nil {
			iu.SetTokensSealed(sealed)
		}
		if idn, err = iu.Save(sys); err != nil {
			return nil, err
		}
		owner, err := c.User.Get(sys, idn.OwnerID)
		if err != nil {
			return nil, err
		}
		uu := c.User.UpdateOne(owner).SetLastLogin(in.Now).AddLoginsCount(1)
		if in.IP != "" {
			uu.SetLastIP(truncateString(in.IP, 64))
		}
		// Only the identity the user was created from (the primary) writes
		// the root profile.
		if owner.UserID == id.FullUserID() {
			if v, ok := root["email"]; ok {
				uu.SetEmail(v).SetEmailVerified(id.EmailVerified)
			} else if !slices.Contains(denied, "email") {
				uu.ClearEmail().SetEmailVerified(false)
			}
			if mode == connection.SyncModeOnEachLogin.String() {
				setRoot(root, uu.SetName, uu.SetGivenName, uu.SetFamilyName, uu.SetNickname, uu.SetPicture)
			}
		}
		u, err := uu.Save(sys)
		if err != nil {
			return nil, err
		}
		res.User, res.Identity = u, idn
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	res.User = res.User.Unwrap()
	res.Identity = res.Identity.Unwrap()
	res.Identity.Edges.User = res.User
	return res, nil
}

// TokensAD is the associated data sealing an identity's upstream tokens, so
// a sealed blob cannot be moved to another identity.
func TokensAD(connName, upstreamID string) string {
	return "identity-tokens:" + connName + "|" + upstreamID
}

// OpenTokens returns an identity's upstream tokens (nil when none); only
// for callers holding read:user_idp_tokens.
func OpenTokens(s Sealer, connName string, idn *ent.Identity) (*connectors.Tokens, error) {
	if idn.TokensSealed == nil || len(*idn.TokensSealed) == 0 {
		return nil, nil
	}
	b, err := s.Open(*idn.TokensSealed, TokensAD(connName, idn.UpstreamID))
	if err != nil {
		return nil, err
	}
	var t connectors.Tokens
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func isSocial(provider string) bool {
	return provider == "github" || provider == "google-oauth2"
}

// rootValues are the identity's root fields that may be stored: present,
// not denied, and valid for the profile's column limits (an IdP's oversized
// or malformed value is dropped, never a reason to fail the login). The
// email is stored normalized (NormalizeEmail); a refused one is dropped, the
// user then has no email (so none verified), and refusedEmail says why.
func rootValues(id connectors.Identity, denied []string) (_ map[string]string, refusedEmail error) {
	out := map[string]string{}
	put := func(field, v string, maxLen int) {
		if v == "" || slices.Contains(denied, field) || utf8.RuneCountInString(v) > maxLen {
			return
		}
		out[field] = v
	}
	if id.Email != "" {
		if email, err := normalizeEmail("email", id.Email); err == nil {
			put("email", email, 254)
		} else {
			refusedEmail = err
		}
	}
	put("name", id.Name, 300)
	put("given_name", id.GivenName, 150)
	put("family_name", id.FamilyName, 150)
	put("nickname", id.Nickname, 350)
	if u, err := url.Parse(id.Picture); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		put("picture", id.Picture, 2048)
	}
	return out, refusedEmail
}

func setRoot[T any](root map[string]string, name, given, family, nick, pic func(string) T) {
	setters := map[string]func(string) T{"name": name, "given_name": given, "family_name": family, "nickname": nick, "picture": pic}
	for _, f := range rootAttributes {
		if v, ok := root[f]; ok {
			setters[f](v)
		}
	}
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
