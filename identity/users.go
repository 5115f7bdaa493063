package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/predicate"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/passwords"
)

// DatabaseProvider is the provider name of database users, as in Auth0, so
// apps and rules that parse "auth0|…" ids keep working.
const DatabaseProvider = "auth0"

// CreateInput is a new user (management API). Nil means absent.
type CreateInput struct {
	Connection    string
	Email         *string
	Password      *string
	Username      *string
	UserID        *string
	EmailVerified *bool
	Name          *string
	GivenName     *string
	FamilyName    *string
	Nickname      *string
	Picture       *string
	PhoneNumber   *string
	PhoneVerified *bool
	Blocked       *bool
	UserMetadata  map[string]any
	AppMetadata   map[string]any
}

// Patch is one field of an update: absent (Set false), unset (Set, nil
// Value) or replaced.
type Patch[T any] struct {
	Set   bool
	Value *T
}

// UpdateInput is a PATCH of a user with docs/PROFILE.md semantics.
type UpdateInput struct {
	// Passwords change through dbauth.ChangePassword (policy, history,
	// session revocation), not here.
	Email, Username, Name, GivenName, FamilyName, Nickname, Picture, PhoneNumber Patch[string]
	EmailVerified, PhoneVerified, Blocked                                        Patch[bool]
	// Metadata patches: Set with a nil map clears nothing (null is ignored),
	// an empty map clears the object, keys with nil values are deleted.
	UserMetadata, AppMetadata Patch[map[string]any]
}

// Create validates in and stores the user with its database identity. A
// custom-database connection's users are created through its scripts
// (connectors/upstream: PrepareCreate, then NewUser.Store).
// The password is hashed through hasher (passwords.ErrBusy when it is busy).
func Create(ctx context.Context, db *ent.Client, hasher *passwords.Limiter, in CreateInput) (*ent.User, error) {
	nu, err := PrepareCreate(ctx, db, in)
	if err != nil {
		return nil, err
	}
	if nu.Connection.Strategy != connection.StrategyDatabase {
		return nil, invalid("connection", "users of %s connections are created through its scripts", nu.Connection.Strategy)
	}
	return nu.Store(ctx, db, hasher)
}

// NewUser is a validated CreateInput, not stored yet.
type NewUser struct {
	Connection *ent.Connection
	// Email is lowercased, as database connections store it.
	Email    string
	Username *string
	// Password is the clear password (nil: none); Store keeps only its
	// hash, and none at all when KeepPassword is false.
	Password     *string
	KeepPassword bool
	// UserID is "auth0|<UpstreamID>".
	UserID, UpstreamID string
	in                 CreateInput
	nickname           *string
	userMeta, appMeta  map[string]any
}

// SetUpstreamID gives the user the id a custom-database script returned:
// user_id becomes auth0|<id>.
func (n *NewUser) SetUpstreamID(id string) error {
	if err := validateUserID("userId", id); err != nil {
		return err
	}
	n.UpstreamID, n.UserID = id, DatabaseProvider+"|"+id
	return nil
}

// UserMetadata and AppMetadata are the validated metadata.
func (n *NewUser) UserMetadata() map[string]any { return n.userMeta }

// AppMetadata is the validated app_metadata.
func (n *NewUser) AppMetadata() map[string]any { return n.appMeta }

// PrepareCreate validates in for a database or custom-database connection
// and returns what Store will write: nothing is written yet, so a
// custom-database script runs only for input Authgraph accepts.
func PrepareCreate(ctx context.Context, db *ent.Client, in CreateInput) (*NewUser, error) {
	conn, err := connectionByName(ctx, db, in.Connection)
	if err != nil {
		return nil, err
	}
	return PrepareIn(conn, in)
}

// PrepareIn is PrepareCreate for a connection already looked up (bulk
// imports validate many rows against one connection): it validates in and
// writes nothing.
func PrepareIn(conn *ent.Connection, in CreateInput) (*NewUser, error) {
	if conn.Strategy != connection.StrategyDatabase && conn.Strategy != connection.StrategyCustomdb {
		return nil, invalid("connection", "users can be created only in database and customdb connections; %q is %s", conn.Name, conn.Strategy)
	}
	opts := conn.Options

	if in.Email == nil {
		return nil, invalid("email", "is required for database connections")
	}
	// Database connections store emails lowercased (docs/PROFILE.md).
	email, err := normalizeEmail("email", strings.ToLower(*in.Email))
	if err != nil {
		return nil, err
	}
	var username *string
	if in.Username != nil {
		if !connections.Bool(opts, "requires_username") {
			return nil, invalid("username", "cannot be set: connection %q does not use usernames", conn.Name)
		}
		u := strings.ToLower(*in.Username)
		minLen, maxLen := connections.UsernameBounds(opts)
		if err := validateUsername("username", u, minLen, maxLen); err != nil {
			return nil, err
		}
		username = &u
	} else if connections.Bool(opts, "requires_username") {
		return nil, invalid("username", "is required by connection %q", conn.Name)
	}
	if in.Password != nil {
		if err := validatePassword("password", *in.Password); err != nil {
			return nil, err
		}
	}
	userID, upstream, err := newDatabaseUserID(in.UserID)
	if err != nil {
		return nil, err
	}
	if err := validateProfile(in.Name, in.GivenName, in.FamilyName, in.Nickname, in.Picture, in.PhoneNumber); err != nil {
		return nil, err
	}
	userMeta, appMeta := dropNulls(in.UserMetadata), dropNulls(in.AppMetadata)
	if err := ValidateMetadata("userMetadata", userMeta, false); err != nil {
		return nil, err
	}
	if err := ValidateMetadata("appMetadata", appMeta, true); err != nil {
		return nil, err
	}
	nickname := in.Nickname
	if nickname == nil {
		local := email[:strings.LastIndexByte(email, '@')]
		nickname = &local
	}
	return &NewUser{Connection: conn, Email: email, Username: username, Password: in.Password, KeepPassword: true,
		UserID: userID, UpstreamID: upstream, in: in, nickname: nickname, userMeta: userMeta, appMeta: appMeta}, nil
}

// Store writes the user and its identity of the connection (provider
// auth0) in one transaction: db's own, or a new one when db is not a
// transaction's client. Unique indexes turn duplicates into ConflictErrors.
// The password is hashed through hasher, before the transaction opens
// (passwords.ErrBusy when no hash could start in time).
func (n *NewUser) Store(ctx context.Context, db *ent.Client, hasher *passwords.Limiter) (*ent.User, error) {
	var hash *string
	if n.Password != nil && n.KeepPassword {
		h, err := hasher.Hash(ctx, *n.Password)
		if err != nil {
			return nil, err
		}
		hash = &h
	}
	tx, err := db.Tx(ctx)
	if errors.Is(err, ent.ErrTxStarted) {
		return n.store(ctx, db, hash)
	}
	if err != nil {
		return nil, err
	}
	u, err := n.store(ctx, tx.Client(), hash)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	// Later queries through u (its edges) go through db, not the closed tx.
	return u.Unwrap(), nil
}

func (n *NewUser) store(ctx context.Context, db *ent.Client, hash *string) (*ent.User, error) {
	u, err := n.UserCreate(db).Save(ctx)
	if err != nil {
		return nil, translateConstraint(err)
	}
	err = n.IdentityCreate(db, u.ID, hash).Exec(ctx)
	if err != nil {
		return nil, translateConstraint(err)
	}
	return u, nil
}

// UserRow is the stored form of a NewUser's user columns (the ones a new
// user is given; the others keep their defaults), for callers that write
// rows without ent, such as Postgres COPY in imports. UserCreate sets
// exactly these.
type UserRow struct {
	UserID, Email                                                         string
	EmailVerified, PhoneVerified, Blocked                                 bool
	Username, PhoneNumber, Name, GivenName, FamilyName, Nickname, Picture *string
	UserMetadata, AppMetadata                                             map[string]any
}

// Row is n's UserRow.
func (n *NewUser) Row() UserRow {
	in := n.in
	email := n.Email
	return UserRow{UserID: n.UserID, Email: email, EmailVerified: deref(in.EmailVerified),
		Username: n.Username, PhoneNumber: in.PhoneNumber, PhoneVerified: deref(in.PhoneVerified),
		Name: in.Name, GivenName: in.GivenName, FamilyName: in.FamilyName, Nickname: n.nickname,
		Picture: in.Picture, Blocked: deref(in.Blocked), UserMetadata: n.userMeta, AppMetadata: n.appMeta}
}

// UserCreate is the user row of n, for callers that batch many users in
// one statement (imports).
func (n *NewUser) UserCreate(db *ent.Client) *ent.UserCreate {
	r := n.Row()
	return db.User.Create().
		SetUserID(r.UserID).
		SetEmail(r.Email).
		SetEmailVerified(r.EmailVerified).
		SetNillableUsername(r.Username).
		SetNillablePhoneNumber(r.PhoneNumber).
		SetPhoneVerified(r.PhoneVerified).
		SetNillableName(r.Name).
		SetNillableGivenName(r.GivenName).
		SetNillableFamilyName(r.FamilyName).
		SetNillableNickname(r.Nickname).
		SetNillablePicture(r.Picture).
		SetBlocked(r.Blocked).
		SetUserMetadata(r.UserMetadata).
		SetAppMetadata(r.AppMetadata)
}

// IdentityCreate is the identity row of n for the user with node id owner,
// holding the password hash given (nil: none).
func (n *NewUser) IdentityCreate(db *ent.Client, owner pulid.ID, hash *string) *ent.IdentityCreate {
	return db.Identity.Create().
		SetOwnerID(owner).
		SetConnectionID(n.Connection.ID).
		SetProvider(DatabaseProvider).
		SetUpstreamID(n.UpstreamID).
		SetEmailLower(n.Email).
		SetNillableUsername(n.Username).
		SetNillablePasswordHash(hash)
}

// TranslateConstraint turns a unique-index violation into a ConflictError
// naming the field (email, username, userId); other errors pass through.
func TranslateConstraint(err error) error { return translateConstraint(err) }

// newDatabaseUserID returns the user_id and upstream id of a database user:
// a given "provider|id" is kept as is (imports keep their ids, so tokens'
// `sub` survives a migration); a bare id gets the auth0| prefix; none gets a
// random one.
func newDatabaseUserID(given *string) (userID, upstream string, err error) {
	if given == nil {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		upstream = hex.EncodeToString(b)
		return DatabaseProvider + "|" + upstream, upstream, nil
	}
	if err := validateUserID("userId", *given); err != nil {
		return "", "", err
	}
	if i := strings.IndexByte(*given, '|'); i >= 0 {
		if i == 0 || i == len(*given)-1 {
			return "", "", invalid("userId", "must be \"provider|id\" or a bare id")
		}
		return *given, (*given)[i+1:], nil
	}
	return DatabaseProvider + "|" + *given, *given, nil
}

func validateProfile(name, given, family, nickname, picture, phone *string) error {
	checks := []struct {
		field    string
		v        *string
		min, max int
	}{{"name", name, 1, 300}, {"givenName", given, 1, 150}, {"familyName", family, 1, 150}, {"nickname", nickname, 1, 350}}
	for _, c := range checks {
		if c.v != nil {
			if err := validateLength(c.field, *c.v, c.min, c.max); err != nil {
				return err
			}
		}
	}
	if picture != nil {
		if err := validatePicture("picture", *picture); err != nil {
			return err
		}
	}
	if phone != nil {
		if err := validatePhone("phoneNumber", *phone); err != nil {
			return err
		}
	}
	return nil
}

// Update applies a PATCH to the user with id (node id or user_id).
func Update(ctx context.Context, db *ent.Client, id string, in UpdateInput) (*ent.User, error) {
	// The lookup is part of a write the policy authorises (update:users).
	u, err := Resolve(authz.SystemContext(ctx), db, id)
	if err != nil {
		return nil, err
	}
	// The database identity carries the login email, username and password.
	dbIdent, conn, err := databaseIdentity(ctx, db, u)
	if err != nil {
		return nil, err
	}
	upd := db.User.UpdateOne(u)
	var identUpd *ent.IdentityUpdateOne
	identity := func() (*ent.IdentityUpdateOne, error) {
		if dbIdent == nil {
			return nil, invalid("connection", "user %s has no database identity to hold a password, email login or username", u.UserID)
		}
		if identUpd == nil {
			identUpd = db.Identity.UpdateOne(dbIdent)
		}
		return identUpd, nil
	}

	if in.Email.Set {
		if in.Email.Value == nil {
			if dbIdent != nil {
				return nil, invalid("email", "cannot be removed from a database user")
			}
			upd.ClearEmail()
		} else {
			email := *in.Email.Value
			if dbIdent != nil {
				email = strings.ToLower(email)
			}
			email, err := normalizeEmail("email", email)
			if err != nil {
				return nil, err
			}
			if u.Email == nil || *u.Email != email {
				upd.SetEmail(email)
				// A new address is unverified unless the caller says otherwise.
				if !in.EmailVerified.Set {
					upd.SetEmailVerified(false)
				}
				if dbIdent != nil {
					iu, _ := identity()
					iu.SetEmailLower(email)
				}
			}
		}
	}
	if in.EmailVerified.Set {
		if in.EmailVerified.Value == nil {
			return nil, invalid("emailVerified", "must be true or false")
		}
		upd.SetEmailVerified(*in.EmailVerified.Value)
	}
	if in.Username.Set {
		iu, err := identity()
		if err != nil {
			return nil, err
		}
		if !connections.Bool(conn.Options, "requires_username") {
			return nil, invalid("username", "cannot be set: connection %q does not use usernames", conn.Name)
		}
		if in.Username.Value == nil {
			return nil, invalid("username", "is required by connection %q", conn.Name)
		}
		name := strings.ToLower(*in.Username.Value)
		minLen, maxLen := connections.UsernameBounds(conn.Options)
		if err := validateUsername("username", name, minLen, maxLen); err != nil {
			return nil, err
		}
		upd.SetUsername(name)
		iu.SetUsername(name)
	}
	strField := func(p Patch[string], field string, minLen, maxLen int, set func(string), clear func()) error {
		if !p.Set {
			return nil
		}
		if p.Value == nil {
			clear()
			return nil
		}
		if err := validateLength(field, *p.Value, minLen, maxLen); err != nil {
			return err
		}
		set(*p.Value)
		return nil
	}
	for _, f := range []struct {
		p        Patch[string]
		field    string
		min, max int
		set      func(string) *ent.UserUpdateOne
		clear    func() *ent.UserUpdateOne
	}{
		{in.Name, "name", 1, 300, upd.SetName, upd.ClearName},
		{in.GivenName, "givenName", 1, 150, upd.SetGivenName, upd.ClearGivenName},
		{in.FamilyName, "familyName", 1, 150, upd.SetFamilyName, upd.ClearFamilyName},
		{in.Nickname, "nickname", 1, 350, upd.SetNickname, upd.ClearNickname},
	} {
		if err := strField(f.p, f.field, f.min, f.max, func(s string) { f.set(s) }, func() { f.clear() }); err != nil {
			return nil, err
		}
	}
	if in.Picture.Set {
		if in.Picture.Value == nil {
			upd.ClearPicture()
		} else {
			if err := validatePicture("picture", *in.Picture.Value); err != nil {
				return nil, err
			}
			upd.SetPicture(*in.Picture.Value)
		}
	}
	if in.PhoneNumber.Set {
		if in.PhoneNumber.Value == nil {
			upd.ClearPhoneNumber()
		} else {
			if err := validatePhone("phoneNumber", *in.PhoneNumber.Value); err != nil {
				return nil, err
			}
			upd.SetPhoneNumber(*in.PhoneNumber.Value)
		}
	}
	if in.PhoneVerified.Set {
		if in.PhoneVerified.Value == nil {
			return nil, invalid("phoneVerified", "must be true or false")
		}
		upd.SetPhoneVerified(*in.PhoneVerified.Value)
	}
	if in.Blocked.Set {
		if in.Blocked.Value == nil {
			return nil, invalid("blocked", "must be true or false")
		}
		upd.SetBlocked(*in.Blocked.Value)
	}
	if in.UserMetadata.Set && in.UserMetadata.Value != nil {
		merged := MergeMetadata(u.UserMetadata, *in.UserMetadata.Value)
		if err := ValidateMetadata("userMetadata", merged, false); err != nil {
			return nil, err
		}
		upd.SetUserMetadata(merged)
	}
	if in.AppMetadata.Set && in.AppMetadata.Value != nil {
		merged := MergeMetadata(u.AppMetadata, *in.AppMetadata.Value)
		if err := ValidateMetadata("appMetadata", merged, true); err != nil {
			return nil, err
		}
		upd.SetAppMetadata(merged)
	}

	if identUpd != nil {
		if err := identUpd.Exec(ctx); err != nil {
			return nil, translateConstraint(err)
		}
	}
	out, err := upd.Save(ctx)
	if err != nil {
		return nil, translateConstraint(err)
	}
	if !strings.EqualFold(deref(u.Email), deref(out.Email)) {
		// Whoever signed in under the old address (perhaps the reason it
		// changes) keeps nothing.
		if err := RevokeAccess(ctx, db, u.ID, RevokeEmailChanged); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Delete removes the user; identities and their credentials go with it (the
// foreign key cascades).
func Delete(ctx context.Context, db *ent.Client, id string) (*ent.User, error) {
	u, err := Resolve(authz.SystemContext(ctx), db, id)
	if err != nil {
		return nil, err
	}
	if err := db.User.DeleteOne(u).Exec(ctx); err != nil {
		return nil, err
	}
	return u, nil
}

// Resolve finds a user by node id ("usr_…") or user_id ("auth0|…").
func Resolve(ctx context.Context, db *ent.Client, id string) (*ent.User, error) {
	q := db.User.Query()
	if pulid.ID(id).Prefix() == "usr_" {
		q.Where(user.ID(pulid.ID(id)))
	} else {
		q.Where(user.UserID(id))
	}
	u, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &NotFoundError{What: "user", ID: id}
	}
	return u, err
}

// ByEmail returns the users with exactly this email. Database users' emails
// are stored lowercased, so for them the match is case-insensitive; other
// users keep their IdP's case and match exactly (docs/MANAGEMENT.md).
//
// Addresses are stored normalized (NormalizeEmail), so the typed address is
// looked up in that form ("josé@bücher.de" finds "josé@xn--bcher-kva.de"),
// and also as typed: that finds accounts stored before addresses were
// normalized, look-alikes included, so that they can be cleaned up.
func ByEmail(ctx context.Context, db *ent.Client, email string) ([]*ent.User, error) {
	forms := []string{email}
	if n, err := normalizeEmail("email", email); err == nil && n != email {
		forms = append(forms, n)
	}
	var preds []predicate.User
	for _, e := range forms {
		preds = append(preds, user.Email(e))
		if lower := strings.ToLower(e); lower != e {
			preds = append(preds, user.And(user.Email(lower),
				user.HasIdentitiesWith(identity.HasConnectionWith(connection.StrategyEQ(connection.StrategyDatabase)))))
		}
	}
	return db.User.Query().Where(user.Or(preds...)).Order(ent.Asc(user.FieldCreatedAt)).Limit(100).All(ctx)
}

// connectionByName looks a connection up for a write the caller is already
// authorised for (create:users): reading its options needs no read scope.
func connectionByName(ctx context.Context, db *ent.Client, name string) (*ent.Connection, error) {
	if name == "" {
		return nil, invalid("connection", "is required")
	}
	c, err := db.Connection.Query().Where(connection.Name(name)).Only(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, &NotFoundError{What: "connection", ID: name}
	}
	return c, err
}

// databaseIdentity returns the user's identity of a database or
// custom-database connection (the one holding the login email, username and
// password), if any.
func databaseIdentity(ctx context.Context, db *ent.Client, u *ent.User) (*ent.Identity, *ent.Connection, error) {
	idn, err := db.Identity.Query().
		Where(identity.OwnerID(u.ID), identity.HasConnectionWith(connection.StrategyIn(connection.StrategyDatabase, connection.StrategyCustomdb))).
		WithConnection().
		First(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return idn, idn.Edges.Connection, nil
}

// translateConstraint turns unique-index violations into ConflictErrors
// naming the field, on both Postgres and SQLite.
func translateConstraint(err error) error {
	if !ent.IsConstraintError(err) {
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "email_lower"):
		return &ConflictError{Field: "email", Message: "a user with this email already exists in the connection"}
	case strings.Contains(msg, "username"):
		return &ConflictError{Field: "username", Message: "a user with this username already exists in the connection"}
	case strings.Contains(msg, "user_id"), strings.Contains(msg, "upstream_id"):
		return &ConflictError{Field: "userId", Message: "a user with this user_id already exists"}
	}
	return &ConflictError{Message: "the change conflicts with an existing record"}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
