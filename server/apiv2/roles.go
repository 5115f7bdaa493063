package apiv2

import (
	"net/http"
	"strings"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/rbac"
)

// Roles, their permissions and members, and users' roles and direct
// permissions (package rbac). The status codes are Auth0's, uneven as they
// are: creating a role is 200, assigning permissions 201 with {}, assigning
// a role's users 200 with {}, assigning a user's roles 204.

// Role is Auth0's role object.
type Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// RoleBody is the body of POST /roles and PATCH /roles/{id}; absent
// properties are left alone on PATCH.
type RoleBody struct {
	// ID is read-only: PATCH accepts it unchanged (SDKs send back what they
	// read).
	ID          *string `json:"id,omitempty"`
	Name        *string `json:"name,omitempty" doc:"1 to 200 characters, unique (required on create)."`
	Description *string `json:"description,omitempty" doc:"At most 1000 characters."`
}

// RoleList is the include_totals envelope of GET /roles and GET
// /users/{id}/roles.
type RoleList struct {
	Start  int    `json:"start"`
	Limit  int    `json:"limit"`
	Length int    `json:"length"`
	Total  int    `json:"total"`
	Roles  []Role `json:"roles"`
}

// RoleListQuery documents GET /roles.
type RoleListQuery struct {
	PageQuery
	NameFilter string `query:"name_filter" doc:"Keep the roles whose name contains this text, case-insensitively."`
}

// Permission is Auth0's permission object in listings.
type Permission struct {
	ResourceServerIdentifier string `json:"resource_server_identifier"`
	PermissionName           string `json:"permission_name"`
	ResourceServerName       string `json:"resource_server_name"`
	// Description is the API's description of the scope.
	Description string `json:"description"`
	// Sources say where a user holds the permission from (GET
	// /users/{id}/permissions only).
	Sources []PermissionSource `json:"sources,omitempty"`
}

// PermissionSource is one reason a user holds a permission: source_type
// DIRECT (source_id and source_name empty) or ROLE (the role's id and name).
type PermissionSource struct {
	SourceID   string `json:"source_id"`
	SourceName string `json:"source_name"`
	SourceType string `json:"source_type"`
}

// PermissionList is the include_totals envelope of the permission listings.
type PermissionList struct {
	Start       int          `json:"start"`
	Limit       int          `json:"limit"`
	Length      int          `json:"length"`
	Total       int          `json:"total"`
	Permissions []Permission `json:"permissions"`
}

// PermissionsBody is the body that assigns or removes permissions.
type PermissionsBody struct {
	Permissions []PermissionRef `json:"permissions" doc:"1 to 100 permissions."`
}

// PermissionRef names a permission: a scope of an API, by the API's
// identifier.
type PermissionRef struct {
	ResourceServerIdentifier string `json:"resource_server_identifier"`
	PermissionName           string `json:"permission_name"`
}

// RoleUser is a role's member as Auth0 lists it.
type RoleUser struct {
	UserID  string `json:"user_id"`
	Email   string `json:"email,omitempty"`
	Picture string `json:"picture,omitempty"`
	Name    string `json:"name,omitempty"`
}

// RoleUserList is GET /roles/{id}/users's envelope: {start, limit, length,
// total, users} with include_totals, {users, next} with checkpoint paging.
type RoleUserList struct {
	Start  int        `json:"start,omitempty"`
	Limit  int        `json:"limit,omitempty"`
	Length int        `json:"length,omitempty"`
	Total  int        `json:"total,omitempty"`
	Users  []RoleUser `json:"users"`
	// Next is the checkpoint cursor (with from/take): pass it as from.
	Next string `json:"next,omitempty"`
}

// RoleUsersQuery documents GET /roles/{id}/users.
type RoleUsersQuery struct {
	PageQuery
	From string `query:"from" doc:"Checkpoint paging: the next value of the previous answer."`
	Take int    `query:"take" doc:"Checkpoint paging: how many users to return (default 50; above 100 reads 100)."`
}

// RoleUsersBody is POST /roles/{id}/users's body.
type RoleUsersBody struct {
	Users []string `json:"users" doc:"1 to 100 user ids (user_id or node id)."`
}

// UserRolesBody is the body of POST and DELETE /users/{id}/roles.
type UserRolesBody struct {
	Roles []string `json:"roles" doc:"1 to 100 role ids."`
}

// emptyObject is Auth0's answer to some assignments: {}.
type emptyObject struct{}

func (a *API) roleRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/roles", Scopes: []string{"read:roles"},
			Summary:     "Get roles",
			Description: "Lists the roles by name.",
			Query:       RoleListQuery{}, Response: RoleList{},
			Handle: a.listRoles,
		},
		{
			Method: http.MethodPost, Path: "/roles", Scopes: []string{"create:roles"},
			Summary:     "Create a role",
			Description: "200 and the role, as Auth0 answers. A taken name is 409.",
			Body:        RoleBody{}, Response: Role{},
			Handle: a.createRole,
		},
		{
			Method: http.MethodGet, Path: "/roles/{id}", Scopes: []string{"read:roles"},
			Summary: "Get a role", Response: Role{},
			Handle: a.readRole,
		},
		{
			Method: http.MethodPatch, Path: "/roles/{id}", Scopes: []string{"update:roles"},
			Summary: "Update a role", Description: "Changes the properties given. A taken name is 409.",
			Body: RoleBody{}, Response: Role{},
			Handle: a.updateRole,
		},
		{
			Method: http.MethodDelete, Path: "/roles/{id}", Scopes: []string{"delete:roles"},
			Summary:     "Delete a role",
			Description: "Deletes the role, its permissions and its assignments; 200 with {}, as Auth0 answers. An unknown role is 404.",
			Response:    emptyObject{},
			Handle:      a.deleteRole,
		},
		{
			Method: http.MethodGet, Path: "/roles/{id}/permissions", Scopes: []string{"read:roles"},
			Summary: "Get a role's permissions", Query: PageQuery{}, Response: PermissionList{},
			Handle: a.rolePermissions,
		},
		{
			Method: http.MethodPost, Path: "/roles/{id}/permissions", Scopes: []string{"update:roles"},
			Summary: "Associate permissions with a role",
			Description: "Each permission must be a scope its API declares; the management API's are refused (its powers are " +
				"administrator grants and client grants). Permissions the role has already are kept. 201 with {}, as Auth0 answers.",
			Body: PermissionsBody{}, Response: emptyObject{}, Status: http.StatusCreated,
			Handle: a.addRolePermissions,
		},
		{
			Method: http.MethodDelete, Path: "/roles/{id}/permissions", Scopes: []string{"update:roles"},
			Summary: "Remove permissions from a role", Description: "The body names the permissions, as Auth0's SDKs send it. 204.",
			Body: PermissionsBody{}, Status: http.StatusNoContent,
			Handle: a.removeRolePermissions,
		},
		{
			Method: http.MethodGet, Path: "/roles/{id}/users", Scopes: []string{"read:users", "read:role_members"}, AllScopes: true,
			Summary: "Get a role's users",
			Description: "Offset paging (page, per_page, include_totals), or checkpoint paging (take, from), which answers " +
				"{users, next} with next absent on the last page. Users are {user_id, email, picture, name}.",
			Query: RoleUsersQuery{}, Response: RoleUserList{},
			Handle: a.roleUsers,
		},
		{
			Method: http.MethodPost, Path: "/roles/{id}/users", Scopes: []string{"update:roles", "create:role_members"}, AllScopes: true,
			Summary:     "Assign users to a role",
			Description: "Users are given by user_id (or node id); users that have the role already keep it. 200 with {}, as Auth0 answers.",
			Body:        RoleUsersBody{}, Response: emptyObject{},
			Handle: a.assignRoleUsers,
		},
	}
}

func (a *API) userRBACRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/users/{id}/roles", Scopes: []string{"read:users", "read:roles"}, AllScopes: true,
			Summary: "Get a user's roles", Description: "By name.",
			Query: PageQuery{}, Response: RoleList{},
			Handle: a.userRoles,
		},
		{
			Method: http.MethodPost, Path: "/users/{id}/roles", Scopes: []string{"update:users", "create:role_members"}, AllScopes: true,
			Summary:     "Assign roles to a user",
			Description: "Roles the user has already are kept. 204, as Auth0 answers.",
			Body:        UserRolesBody{}, Status: http.StatusNoContent,
			Handle: a.assignUserRoles,
		},
		{
			Method: http.MethodDelete, Path: "/users/{id}/roles", Scopes: []string{"update:users", "delete:role_members"}, AllScopes: true,
			Summary:     "Remove roles from a user",
			Description: "The body names the roles, as Auth0's SDKs send it. 204.",
			Body:        UserRolesBody{}, Status: http.StatusNoContent,
			Handle: a.removeUserRoles,
		},
		{
			Method: http.MethodGet, Path: "/users/{id}/permissions", Scopes: []string{"read:users"},
			Summary: "Get a user's permissions",
			Description: "The permissions the user holds directly and through roles, each once, with its sources " +
				"(source_type DIRECT, or ROLE with the role's id and name).",
			Query: PageQuery{}, Response: PermissionList{},
			Handle: a.userPermissions,
		},
		{
			Method: http.MethodPost, Path: "/users/{id}/permissions", Scopes: []string{"update:users"},
			Summary:     "Assign permissions to a user",
			Description: "Direct permissions; each must be a scope its API declares, the management API's refused. 201 with {}, as Auth0 answers.",
			Body:        PermissionsBody{}, Response: emptyObject{}, Status: http.StatusCreated,
			Handle: a.addUserPermissions,
		},
		{
			Method: http.MethodDelete, Path: "/users/{id}/permissions", Scopes: []string{"update:users"},
			Summary:     "Remove permissions from a user",
			Description: "Removes direct permissions (those held through roles stay). The body names them, as Auth0's SDKs send it. 204.",
			Body:        PermissionsBody{}, Status: http.StatusNoContent,
			Handle: a.removeUserPermissions,
		},
	}
}

func (a *API) rbac() rbac.Manager { return rbac.Manager{DB: a.cfg.DB, Issuer: a.cfg.Issuer} }

func rbacPage(p Page) rbac.Page { return rbac.Page{Offset: p.Offset(), Limit: p.PerPage} }

func roleJSON(r *ent.Role) Role {
	return Role{ID: string(r.ID), Name: r.Name, Description: r.Description}
}

func rolesJSON(rs []*ent.Role) []Role {
	out := make([]Role, 0, len(rs))
	for _, r := range rs {
		out = append(out, roleJSON(r))
	}
	return out
}

// roleConflict is Auth0's 409 for a taken role name.
func roleConflict(err error) error {
	return asConflict(err, "conflict", "A role with the same name already exists.")
}

func (a *API) listRoles(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	roles, total, err := a.rbac().Roles(r.Ctx(), r.URL.Query().Get("name_filter"), rbacPage(p))
	if err != nil {
		return nil, err
	}
	return List(p, "roles", rolesJSON(roles), total), nil
}

func (a *API) createRole(r *Request) (any, error) {
	var b RoleBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	switch {
	case b.ID != nil:
		return nil, badRequest("id is generated by the server and cannot be set")
	case b.Name == nil:
		return nil, badRequest("Missing required property: name")
	}
	role, err := a.rbac().CreateRole(r.Ctx(), rbac.RoleParams{Name: b.Name, Description: b.Description})
	if err != nil {
		return nil, roleConflict(err)
	}
	return roleJSON(role), nil
}

func (a *API) readRole(r *Request) (any, error) {
	role, err := rbac.FindRole(r.Ctx(), a.cfg.DB, r.Param("id"))
	if err != nil {
		return nil, err
	}
	return roleJSON(role), nil
}

func (a *API) updateRole(r *Request) (any, error) {
	var b RoleBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.ID != nil && *b.ID != r.Param("id") {
		return nil, badRequest("id cannot be changed")
	}
	if b.Name == nil && b.Description == nil {
		return nil, badRequest("Too few properties defined (0), minimum 1")
	}
	role, err := a.rbac().UpdateRole(r.Ctx(), r.Param("id"), rbac.RoleParams{Name: b.Name, Description: b.Description})
	if err != nil {
		return nil, roleConflict(err)
	}
	return roleJSON(role), nil
}

func (a *API) deleteRole(r *Request) (any, error) {
	if _, err := a.rbac().DeleteRole(r.Ctx(), r.Param("id")); err != nil {
		return nil, err
	}
	return emptyObject{}, nil
}

// permissions decodes and checks a permissions body.
func (r *Request) permissions() ([]rbac.Permission, error) {
	var b struct {
		Permissions *[]PermissionRef `json:"permissions"`
	}
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.Permissions == nil {
		return nil, badRequest("Missing required property: permissions")
	}
	if err := arrayLen("permissions", len(*b.Permissions)); err != nil {
		return nil, err
	}
	out := make([]rbac.Permission, 0, len(*b.Permissions))
	for _, p := range *b.Permissions {
		switch {
		case p.ResourceServerIdentifier == "":
			return nil, badRequest("Missing required property: resource_server_identifier")
		case p.PermissionName == "":
			return nil, badRequest("Missing required property: permission_name")
		}
		out = append(out, rbac.Permission{ResourceServerIdentifier: p.ResourceServerIdentifier, PermissionName: p.PermissionName})
	}
	return out, nil
}

// ids decodes a body {"<key>": ["id", …]} of 1 to 100 non-empty ids.
func (r *Request) ids(key string) ([]string, error) {
	var raw map[string]*[]string
	if err := r.Decode(&raw); err != nil {
		return nil, err
	}
	for k := range raw {
		if k != key {
			return nil, badRequest("Additional properties not allowed: %s", k)
		}
	}
	ids := raw[key]
	if ids == nil {
		return nil, badRequest("Missing required property: %s", key)
	}
	if err := arrayLen(key, len(*ids)); err != nil {
		return nil, err
	}
	for _, id := range *ids {
		if strings.TrimSpace(id) == "" {
			return nil, badRequest("String is too short (0 chars), minimum 1 on property %s", key)
		}
	}
	return *ids, nil
}

// arrayLen checks an assignment array's length as Auth0 does: 1 to 100.
func arrayLen(property string, n int) error {
	switch {
	case n == 0:
		return badRequest("Array is too short (0), minimum 1 on property %s", property)
	case n > rbac.MaxPerRequest:
		return badRequest("Array is too long (%d), maximum %d on property %s", n, rbac.MaxPerRequest, property)
	}
	return nil
}

func permissionsJSON(ps []rbac.PermissionInfo, withSources bool) []Permission {
	out := make([]Permission, 0, len(ps))
	for _, p := range ps {
		j := Permission{ResourceServerIdentifier: p.ResourceServerIdentifier, PermissionName: p.PermissionName,
			ResourceServerName: p.ResourceServerName, Description: p.Description}
		if withSources {
			j.Sources = make([]PermissionSource, 0, len(p.Sources))
			for _, s := range p.Sources {
				j.Sources = append(j.Sources, PermissionSource{SourceID: string(s.RoleID), SourceName: s.RoleName, SourceType: s.Type})
			}
		}
		out = append(out, j)
	}
	return out
}

func (a *API) rolePermissions(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	ps, total, err := a.rbac().RolePermissions(r.Ctx(), r.Param("id"), rbacPage(p))
	if err != nil {
		return nil, err
	}
	return List(p, "permissions", permissionsJSON(ps, false), total), nil
}

func (a *API) addRolePermissions(r *Request) (any, error) {
	perms, err := r.permissions()
	if err != nil {
		return nil, err
	}
	if err := a.rbac().AddRolePermissions(r.Ctx(), r.Param("id"), perms); err != nil {
		return nil, err
	}
	return emptyObject{}, nil
}

func (a *API) removeRolePermissions(r *Request) (any, error) {
	perms, err := r.permissions()
	if err != nil {
		return nil, err
	}
	return nil, a.rbac().RemoveRolePermissions(r.Ctx(), r.Param("id"), perms)
}

func roleUsersJSON(us []*ent.User) []RoleUser {
	out := make([]RoleUser, 0, len(us))
	for _, u := range us {
		j := RoleUser{UserID: u.UserID}
		if u.Email != nil {
			j.Email = *u.Email
		}
		if u.Picture != nil {
			j.Picture = *u.Picture
		}
		if u.Name != nil {
			j.Name = *u.Name
		}
		out = append(out, j)
	}
	return out
}

func (a *API) roleUsers(r *Request) (any, error) {
	q := r.URL.Query()
	if q.Has("take") || q.Has("from") {
		// Checkpoint paging, as Auth0: {users, next}, next absent on the
		// last page; the other paging parameters are ignored. The cursor
		// is the last user's node id, stable under inserts.
		take, err := r.Take()
		if err != nil {
			return nil, err
		}
		from := q.Get("from")
		if from != "" && !strings.HasPrefix(from, "usr_") {
			return nil, badQuery("from must be the next value of a previous answer")
		}
		page, err := a.rbac().RoleMembers(r.Ctx(), r.Param("id"), from, take)
		if err != nil {
			return nil, err
		}
		return RoleUserList{Users: roleUsersJSON(page.Users), Next: page.Next}, nil
	}
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	us, total, err := a.rbac().RoleUsersPage(r.Ctx(), r.Param("id"), rbacPage(p))
	if err != nil {
		return nil, err
	}
	return List(p, "users", roleUsersJSON(us), total), nil
}

func (a *API) assignRoleUsers(r *Request) (any, error) {
	ids, err := r.ids("users")
	if err != nil {
		return nil, err
	}
	if err := a.rbac().AssignRoleUsers(r.Ctx(), r.Param("id"), ids); err != nil {
		return nil, err
	}
	return emptyObject{}, nil
}

func (a *API) userRoles(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	roles, total, err := a.rbac().UserRoles(r.Ctx(), r.Param("id"), rbacPage(p))
	if err != nil {
		return nil, err
	}
	return List(p, "roles", rolesJSON(roles), total), nil
}

func (a *API) assignUserRoles(r *Request) (any, error) {
	ids, err := r.ids("roles")
	if err != nil {
		return nil, err
	}
	return nil, a.rbac().AssignUserRoles(r.Ctx(), r.Param("id"), ids)
}

func (a *API) removeUserRoles(r *Request) (any, error) {
	ids, err := r.ids("roles")
	if err != nil {
		return nil, err
	}
	return nil, a.rbac().RemoveUserRoles(r.Ctx(), r.Param("id"), ids)
}

func (a *API) userPermissions(r *Request) (any, error) {
	p, err := r.Paging()
	if err != nil {
		return nil, err
	}
	ps, total, err := a.rbac().UserPermissions(r.Ctx(), r.Param("id"), "", rbacPage(p))
	if err != nil {
		return nil, err
	}
	return List(p, "permissions", permissionsJSON(ps, true), total), nil
}

func (a *API) addUserPermissions(r *Request) (any, error) {
	perms, err := r.permissions()
	if err != nil {
		return nil, err
	}
	if err := a.rbac().AddUserPermissions(r.Ctx(), r.Param("id"), perms); err != nil {
		return nil, err
	}
	return emptyObject{}, nil
}

func (a *API) removeUserPermissions(r *Request) (any, error) {
	perms, err := r.permissions()
	if err != nil {
		return nil, err
	}
	return nil, a.rbac().RemoveUserPermissions(r.Ctx(), r.Param("id"), perms)
}
