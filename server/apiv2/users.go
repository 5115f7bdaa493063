package apiv2

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"

	"entgo.io/ent/dialect/sql"

	"github.com/authgraph/authgraph/accounts"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/rbac"
	"github.com/authgraph/authgraph/store"
	"github.com/authgraph/authgraph/userlist"
)

// searchLimit is how far Auth0 lets a user's logs page: the first 1,000
// results (page*per_page + per_page ≤ 1000). The total is capped at it too,
// so an SDK paging loop (HasNext: total > start+limit) stops at the last
// page it may fetch instead of running into the 400. GET /users has no such
// window (docs/AUTH0-COMPATIBILITY.md).
const searchLimit = 1000

func (a *API) userRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/users", Scopes: []string{"read:users"},
			Summary: "List or search users",
			Description: "q takes Auth0's user-search (v3) Lucene subset as documented in docs/MANAGEMENT.md (field:value terms, " +
				"AND/OR/NOT, parentheses, trailing * prefixes, _exists_). page/per_page reach every result (no 1,000-result window); " +
				"with include_totals, total is exact up to 10,000 and beyond it may be Postgres' estimate, flagged by total_is_estimate: true. " +
				"take/from page by checkpoint in sort's order: the answer is {users, next}, next absent on the last page.",
			Query: ListUsersQuery{}, Response: UserList{}, Handle: a.listUsers,
		},
		{
			Method: http.MethodPost, Path: "/users", Scopes: []string{"create:users"},
			Summary:     "Create a user",
			Description: "Database and custom-database connections. verify_email is accepted and ignored: send a verification with POST /jobs/verification-email or a ticket.",
			Body:        CreateUserBody{}, Response: User{}, Status: http.StatusCreated, Handle: a.createUser,
		},
		{
			Method: http.MethodGet, Path: "/users/{id}", Scopes: []string{"read:users"},
			Summary: "Get a user", Description: "id is the user_id (auth0|…) or the node id (usr_…).",
			Query: FieldsQuery{}, Response: User{}, Handle: a.getUser,
		},
		{
			Method: http.MethodPatch, Path: "/users/{id}", Scopes: []string{"update:users"},
			Summary: "Update a user",
			Description: "Root attributes are replaced, null unsets them; app_metadata and user_metadata are merged one level " +
				"deep (a key set to null is deleted, {} clears the object). password changes through the connection's policy.",
			Body: UpdateUserBody{}, Response: User{}, Handle: a.updateUser,
		},
		{
			Method: http.MethodDelete, Path: "/users/{id}", Scopes: []string{"delete:users"},
			Summary: "Delete a user", Description: "204 also for a user that does not exist, as Auth0.",
			Status: http.StatusNoContent, Handle: a.deleteUser,
		},
		{
			Method: http.MethodGet, Path: "/users-by-email", Scopes: []string{"read:users"},
			Summary: "Find users by email",
			Description: "Case-insensitive for database users (their emails are stored lowercased), exact for others; " +
				"at most 100 users, oldest first.",
			Query: UsersByEmailQuery{}, Response: []User{}, Handle: a.usersByEmail,
		},
		{
			Method: http.MethodGet, Path: "/users/{id}/logs", Scopes: []string{"read:logs"},
			Summary:     "Get a user's log events",
			Description: "The tenant log events whose user_id is the user's; a deleted user's events stay readable by its user_id.",
			Query:       UserLogsQuery{}, Response: []LogEvent{}, Handle: a.userLogs,
		},
	}
}

// FieldsQuery documents fields and include_fields.
type FieldsQuery struct {
	Fields        string `query:"fields" doc:"Comma-separated list of fields to include or exclude (by include_fields). Empty: all fields."`
	IncludeFields bool   `query:"include_fields" doc:"Whether fields lists the fields to include (true, default) or to exclude (false)."`
}

// ListUsersQuery documents GET /users's parameters.
type ListUsersQuery struct {
	PageQuery
	FieldsQuery
	Take         int    `query:"take" doc:"Checkpoint paging: number of users to return (default 50, at most 100); page, per_page and include_totals are then ignored."`
	From         string `query:"from" doc:"Checkpoint paging: the next value of the previous answer; users follow it in sort's order."`
	Q            string `query:"q" doc:"Query in Auth0's user-search (v3) syntax, e.g. email:\"jane@example.com\" or app_metadata.plan:gold."`
	SearchEngine string `query:"search_engine" doc:"v3 (the default and only engine; v1 and v2 are refused)."`
	Sort         string `query:"sort" doc:"field:1 (ascending) or field:-1 (descending): created_at, updated_at, last_login, email, name, given_name, family_name, nickname, username, user_id, logins_count."`
}

// UsersByEmailQuery documents GET /users-by-email's parameters.
type UsersByEmailQuery struct {
	FieldsQuery
	Email string `query:"email" doc:"The email address (required)."`
}

// UserLogsQuery documents GET /users/{id}/logs's parameters.
type UserLogsQuery struct {
	PageQuery
	Sort string `query:"sort" doc:"date:-1 (newest first, the default) or date:1."`
}

// UserList is GET /users's envelope (include_totals=true, or take/from).
type UserList struct {
	Start  int `json:"start,omitempty"`
	Limit  int `json:"limit,omitempty"`
	Length int `json:"length,omitempty"`
	Total  int `json:"total,omitempty"`
	// TotalIsEstimate is present (true) only when total is Postgres'
	// estimate: beyond 10,000 matching users.
	TotalIsEstimate bool   `json:"total_is_estimate,omitempty"`
	Users           []User `json:"users"`
	// Next is the checkpoint after this page (take/from): pass it as from.
	// Absent on the last page.
	Next string `json:"next,omitempty"`
}

// userSortColumns are the fields GET /users sorts by.
var userSortColumns = map[string]string{
	"created_at": user.FieldCreatedAt, "updated_at": user.FieldUpdatedAt, "last_login": user.FieldLastLogin,
	"email": user.FieldEmail, "name": user.FieldName, "given_name": user.FieldGivenName,
	"family_name": user.FieldFamilyName, "nickname": user.FieldNickname, "username": user.FieldUsername,
	"user_id": user.FieldUserID, "logins_count": user.FieldLoginsCount,
}

// parseSort reads sort=field:1|-1 among allowed (field → column).
func parseSort(v string, allowed map[string]string) (col string, desc bool, err error) {
	field, dir, ok := strings.Cut(v, ":")
	col, known := allowed[field]
	if !ok || !known || (dir != "1" && dir != "-1") {
		return "", false, badQuery("sort must be field:1 or field:-1 with a sortable field")
	}
	return col, dir == "-1", nil
}

// searchPage checks a page of a user's logs against Auth0's 1,000-result
// window.
func searchPage(p Page) error {
	if (p.Page+1)*p.PerPage > searchLimit {
		return &httpError{Status: http.StatusBadRequest, ErrorCode: "invalid_paging",
			Message: "You can only page through the first 1000 records"}
	}
	return nil
}

// listUsers serves GET /users: a listing, read from the replica when
// there is a fresh one (store/replica.go). Like Auth0's search, it may miss
// a user created a moment ago; GET /users/{id} reads the primary.
func (a *API) listUsers(r *Request) (any, error) {
	return store.Read(r.Ctx(), a.cfg.DB, func(db *ent.Client) (any, error) { return a.listUsersFrom(r, db) })
}

func (a *API) listUsersFrom(r *Request, db *ent.Client) (any, error) {
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	qs := r.URL.Query()
	switch qs.Get("search_engine") {
	case "", "v3":
	default:
		return nil, badQuery("search_engine must be v3: the v1 and v2 search engines are not served")
	}
	q := db.User.Query()
	if v := qs.Get("q"); v != "" {
		pred, err := rbac.SearchUsers(r.Ctx(), v)
		if ve := new(identity.ValidationError); errors.As(err, &ve) {
			return nil, badQuery("q: %s", ve.Message)
		} else if err != nil {
			return nil, err
		}
		if pred != nil {
			q.Where(pred)
			// Planned with its values, not as a cached generic plan.
			r.Request = r.WithContext(store.Unprepared(r.Ctx()))
		}
	}
	// Users without the sort field (no last login, no name) come last
	// either way; the node id breaks ties in the same direction, so pages
	// neither overlap nor skip.
	order := userlist.Order{Column: userlist.Columns[user.FieldCreatedAt]}
	if v := qs.Get("sort"); v != "" {
		col, desc, err := parseSort(v, userSortColumns)
		if err != nil {
			return nil, err
		}
		order = userlist.Order{Column: userlist.Columns[col], Desc: desc}
	}
	if qs.Has("take") || qs.Has("from") {
		return a.userCheckpoint(r, db, q, order, fields, include)
	}
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	ctx := r.Ctx()
	total, estimate := 0, false
	if p.IncludeTotals {
		if total, estimate, err = userlist.Count(ctx, db, q.Clone(), userlist.ExactCountBound); err != nil {
			return nil, err
		}
	}
	// Offset paging has no window (Auth0 stops at 1,000 results), but a
	// deep page costs the rows before it: from/take does not.
	q.Order(userlist.OrderBy(order))
	us, err := q.Offset(p.Offset()).Limit(p.PerPage).All(ctx)
	if err != nil {
		return nil, err
	}
	out, err := a.usersFrom(ctx, db, us)
	if err != nil {
		return nil, err
	}
	list, err := ProjectedList(p, "users", out, total, fields, include)
	if m, ok := list.(map[string]any); ok && estimate {
		m["total_is_estimate"] = true
	}
	return list, err
}

// userCheckpoint serves GET /users?take=&from=: take users (default 50, at
// most 100) after the checkpoint from, in sort's order, and next when more
// follow. The checkpoint is the last user's position (sort value and id),
// so a walk neither skips nor repeats users created or deleted meanwhile.
func (a *API) userCheckpoint(r *Request, db *ent.Client, q *ent.UserQuery, order userlist.Order, fields []string, include bool) (any, error) {
	// page, per_page and include_totals are ignored, as on Auth0's
	// checkpoint endpoints: the SDKs' list calls send them by default.
	qs := r.URL.Query()
	take, err := r.Take()
	if err != nil {
		return nil, err
	}
	req := userlist.Request{Order: order, Limit: take}
	if from := qs.Get("from"); from != "" {
		k, err := userlist.DecodeCheckpoint(from, order)
		if err != nil {
			return nil, badQuery("from is not a checkpoint of this listing and sort")
		}
		req.After = &k
	}
	ctx := r.Ctx()
	res, err := userlist.Page(ctx, q, req)
	if err != nil {
		return nil, err
	}
	out, err := a.usersFrom(ctx, db, res.Users)
	if err != nil {
		return nil, err
	}
	items, err := Project(out, fields, include)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"users": items}
	if res.More {
		body["next"] = userlist.EncodeCheckpoint(userlist.KeyOf(res.Users[len(res.Users)-1], order), order)
	}
	return body, nil
}

// getUserByID resolves {id} (user_id or node id) as the caller: unknown is
// Auth0's 404 inexistent_user.
func (a *API) getUserByID(r *Request) (*ent.User, error) {
	u, err := identity.Resolve(r.Ctx(), a.cfg.DB, r.Param("id"))
	if err != nil {
		return nil, userNotFound(err)
	}
	return u, nil
}

// userNotFound maps identity's not-found of a user to Auth0's 404.
func userNotFound(err error) error {
	var nf *identity.NotFoundError
	if errors.As(err, &nf) && nf.What == "user" {
		return notFound("user")
	}
	return err
}

func (a *API) getUser(r *Request) (any, error) {
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	u, err := a.getUserByID(r)
	if err != nil {
		return nil, err
	}
	out, err := a.userWithTokens(r.Ctx(), u)
	if err != nil {
		return nil, err
	}
	return Project(out, fields, include)
}

// CreateUserBody is POST /users's body, Auth0's.
type CreateUserBody struct {
	Connection    string         `json:"connection" doc:"The connection's name (required)."`
	Email         *string        `json:"email,omitempty"`
	Password      *string        `json:"password,omitempty"`
	Username      *string        `json:"username,omitempty"`
	UserID        *string        `json:"user_id,omitempty" doc:"The id at the connection; the user_id becomes auth0|<user_id> (a given provider|id is kept as is)."`
	EmailVerified *bool          `json:"email_verified,omitempty"`
	VerifyEmail   *bool          `json:"verify_email,omitempty" doc:"Accepted and ignored: no email is sent."`
	PhoneNumber   *string        `json:"phone_number,omitempty"`
	PhoneVerified *bool          `json:"phone_verified,omitempty"`
	GivenName     *string        `json:"given_name,omitempty"`
	FamilyName    *string        `json:"family_name,omitempty"`
	Name          *string        `json:"name,omitempty"`
	Nickname      *string        `json:"nickname,omitempty"`
	Picture       *string        `json:"picture,omitempty"`
	Blocked       *bool          `json:"blocked,omitempty"`
	AppMetadata   map[string]any `json:"app_metadata,omitempty"`
	UserMetadata  map[string]any `json:"user_metadata,omitempty"`
}

func (a *API) createUser(r *Request) (any, error) {
	var b CreateUserBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.Connection == "" {
		return nil, badRequest("Missing required property: connection")
	}
	u, err := a.cfg.Accounts.Create(r.Ctx(), identity.CreateInput{
		Connection: b.Connection, Email: b.Email, Password: b.Password, Username: b.Username, UserID: b.UserID,
		EmailVerified: b.EmailVerified, Name: b.Name, GivenName: b.GivenName, FamilyName: b.FamilyName,
		Nickname: b.Nickname, Picture: b.Picture, PhoneNumber: b.PhoneNumber, PhoneVerified: b.PhoneVerified,
		Blocked: b.Blocked, UserMetadata: b.UserMetadata, AppMetadata: b.AppMetadata,
	})
	if err != nil {
		return nil, writeErr(err)
	}
	return a.user(r.Ctx(), u)
}

// writeErr maps a user write's error to Auth0's: a duplicate is 409 with
// Auth0's message and errorCode, an unknown connection 400
// inexistent_connection, an invalid field 400 invalid_body naming the
// property as Auth0 spells it (user_metadata, not userMetadata), a refused
// password 400 with the policy's code and message.
func writeErr(err error) error {
	var nf *identity.NotFoundError
	var ve *identity.ValidationError
	switch {
	case errors.As(err, &nf) && nf.What == "connection":
		return &httpError{Status: http.StatusBadRequest, ErrorCode: "inexistent_connection", Message: "The connection does not exist."}
	case errors.As(err, &nf) && nf.What == "user":
		return notFound("user")
	case errors.As(err, &ve):
		return badRequest("%s on property %s", ve.Message, snakeCase(ve.Field))
	}
	if pe, ok := dbauth.IsPolicyError(err); ok {
		// Auth0's refusal of a password: "PasswordStrengthError: Password
		// is too weak".
		return &httpError{Status: http.StatusBadRequest, Message: pe.Code + ": " + pe.Message}
	}
	// Auth0's status and message ("The user already exists."), which is what
	// the SDKs' users match on; the errorCode names the reason, user_exists,
	// where Auth0's generic one is auth0_idp_error.
	return asConflict(err, "user_exists", "The user already exists.")
}

// snakeCase turns the use cases' field names (GraphQL's camelCase) into
// Auth0's property names: userMetadata → user_metadata.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// UpdateUserBody documents PATCH /users/{id}'s body. Every property may be
// null, which unsets it (metadata: null is ignored).
type UpdateUserBody struct {
	Email         *string        `json:"email,omitempty"`
	EmailVerified *bool          `json:"email_verified,omitempty"`
	VerifyEmail   *bool          `json:"verify_email,omitempty" doc:"Accepted and ignored: no email is sent."`
	Password      *string        `json:"password,omitempty" doc:"A new password, checked against the connection's policy; the user's sessions and grants end."`
	Connection    *string        `json:"connection,omitempty" doc:"The connection whose identity the email, username or password belongs to; must be one of the user's."`
	ClientID      *string        `json:"client_id,omitempty" doc:"Accepted and ignored."`
	Username      *string        `json:"username,omitempty"`
	PhoneNumber   *string        `json:"phone_number,omitempty"`
	PhoneVerified *bool          `json:"phone_verified,omitempty"`
	GivenName     *string        `json:"given_name,omitempty"`
	FamilyName    *string        `json:"family_name,omitempty"`
	Name          *string        `json:"name,omitempty"`
	Nickname      *string        `json:"nickname,omitempty"`
	Picture       *string        `json:"picture,omitempty"`
	Blocked       *bool          `json:"blocked,omitempty"`
	AppMetadata   map[string]any `json:"app_metadata,omitempty"`
	UserMetadata  map[string]any `json:"user_metadata,omitempty"`
}

// patch is one property of a PATCH body: absent, null or a value.
type patch[T any] identity.Patch[T]

func (p *patch[T]) UnmarshalJSON(b []byte) error {
	p.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		p.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.Value = &v
	return nil
}

// userPatch is what PATCH /users/{id} decodes (UpdateUserBody's properties).
type userPatch struct {
	Email         patch[string]         `json:"email"`
	EmailVerified patch[bool]           `json:"email_verified"`
	VerifyEmail   patch[bool]           `json:"verify_email"`
	Password      patch[string]         `json:"password"`
	Connection    patch[string]         `json:"connection"`
	ClientID      patch[string]         `json:"client_id"`
	Username      patch[string]         `json:"username"`
	PhoneNumber   patch[string]         `json:"phone_number"`
	PhoneVerified patch[bool]           `json:"phone_verified"`
	GivenName     patch[string]         `json:"given_name"`
	FamilyName    patch[string]         `json:"family_name"`
	Name          patch[string]         `json:"name"`
	Nickname      patch[string]         `json:"nickname"`
	Picture       patch[string]         `json:"picture"`
	Blocked       patch[bool]           `json:"blocked"`
	AppMetadata   patch[map[string]any] `json:"app_metadata"`
	UserMetadata  patch[map[string]any] `json:"user_metadata"`
}

func (a *API) updateUser(r *Request) (any, error) {
	var b userPatch
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	in := accounts.UpdateInput{
		UpdateInput: identity.UpdateInput{
			Email: identity.Patch[string](b.Email), Username: identity.Patch[string](b.Username),
			Name: identity.Patch[string](b.Name), GivenName: identity.Patch[string](b.GivenName),
			FamilyName: identity.Patch[string](b.FamilyName), Nickname: identity.Patch[string](b.Nickname),
			Picture: identity.Patch[string](b.Picture), PhoneNumber: identity.Patch[string](b.PhoneNumber),
			EmailVerified: identity.Patch[bool](b.EmailVerified), PhoneVerified: identity.Patch[bool](b.PhoneVerified),
			Blocked:      identity.Patch[bool](b.Blocked),
			UserMetadata: identity.Patch[map[string]any](b.UserMetadata), AppMetadata: identity.Patch[map[string]any](b.AppMetadata),
		},
		Password: identity.Patch[string](b.Password),
	}
	if in.UpdateInput == (identity.UpdateInput{}) && !in.Password.Set && !b.VerifyEmail.Set && !b.Connection.Set && !b.ClientID.Set {
		return nil, badRequest("Too few properties defined (0), minimum 1")
	}
	ctx := r.Ctx()
	if b.Connection.Set {
		// The connection says which identity a login attribute belongs to;
		// Authgraph keeps them on the user's one database identity, so it
		// must name a connection of the user's.
		if b.Connection.Value == nil {
			return nil, badRequest("Expected type string but found type null on property connection.")
		}
		u, err := identity.Resolve(authz.SystemContext(ctx), a.cfg.DB, r.Param("id"))
		if err != nil {
			return nil, userNotFound(err)
		}
		has, err := u.QueryIdentities().QueryConnection().Where(connection.Name(*b.Connection.Value)).Exist(authz.SystemContext(ctx))
		if err != nil {
			return nil, err
		}
		if !has {
			return nil, badRequest("the user has no identity in connection %q on property connection", *b.Connection.Value)
		}
	}
	if in.UpdateInput == (identity.UpdateInput{}) && !in.Password.Set {
		// Only modifiers (connection, client_id, verify_email): nothing
		// changes, the user is returned as is — read as the system, as an
		// update returns it, so update:users alone answers the same way
		// whatever the body holds.
		u, err := identity.Resolve(authz.SystemContext(ctx), a.cfg.DB, r.Param("id"))
		if err != nil {
			return nil, userNotFound(err)
		}
		return a.user(ctx, u)
	}
	u, err := a.cfg.Accounts.Update(ctx, r.Param("id"), in)
	if err != nil {
		return nil, writeErr(err)
	}
	return a.user(ctx, u)
}

func (a *API) deleteUser(r *Request) (any, error) {
	_, err := a.cfg.Accounts.Delete(r.Ctx(), r.Param("id"))
	var nf *identity.NotFoundError
	if errors.As(err, &nf) && nf.What == "user" {
		// Deleting is idempotent, as in Auth0: the user is gone either way.
		return nil, nil
	}
	return nil, err
}

func (a *API) usersByEmail(r *Request) (any, error) {
	fields, include, err := r.Fields()
	if err != nil {
		return nil, err
	}
	email := r.URL.Query().Get("email")
	if email == "" {
		return nil, badQuery("Missing required property: email")
	}
	us, err := identity.ByEmail(r.Ctx(), a.cfg.DB, email)
	if err != nil {
		return nil, err
	}
	out, err := a.users(r.Ctx(), us)
	if err != nil {
		return nil, err
	}
	return Project(out, fields, include)
}

func (a *API) userLogs(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	if err := searchPage(p); err != nil {
		return nil, err
	}
	desc := true
	if v := r.URL.Query().Get("sort"); v != "" {
		if _, desc, err = parseSort(v, map[string]string{"date": logevent.FieldDate}); err != nil {
			return nil, err
		}
	}
	ctx := r.Ctx()
	// The events name the user by user_id. A user deleted since keeps its
	// events, readable by that user_id.
	userID := r.Param("id")
	if u, err := identity.Resolve(authz.SystemContext(ctx), a.cfg.DB, userID); err == nil {
		userID = u.UserID
	} else if !errors.Is(err, identity.ErrNotFound) {
		return nil, err
	}
	q := a.cfg.DB.LogEvent.Query().Where(logevent.UserID(userID))
	total := 0
	if p.IncludeTotals {
		if total, err = q.Clone().Count(ctx); err != nil {
			return nil, err
		}
		total = min(total, searchLimit)
	}
	if desc {
		q.Order(logevent.ByDate(sql.OrderDesc()), logevent.ByID(sql.OrderDesc()))
	} else {
		q.Order(logevent.ByDate(), logevent.ByID())
	}
	evs, err := q.Offset(p.Offset()).Limit(p.PerPage).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]LogEvent, len(evs))
	for i, e := range evs {
		out[i] = logJSON(e)
	}
	return List(p, "logs", out, total), nil
}
