package rbac

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/resourceserver"
	"github.com/authgraph/authgraph/ent/role"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
)

// sys reads and writes the assignment tables, which no token may reach:
// every use case checks the caller's scopes before it gets here.
func sys(ctx context.Context) context.Context { return authz.SystemContext(ctx) }

// needScopes refuses a read unless the caller holds every scope.
func needScopes(ctx context.Context, scopes ...string) error {
	v := authz.FromContext(ctx)
	for _, s := range scopes {
		if !v.HasScope(s) {
			return &authz.ScopeError{Scope: s}
		}
	}
	return nil
}

// checkCount bounds the items one write names (Auth0 asks 1 to 100).
func checkCount(field string, n int) error {
	if n == 0 {
		return &identity.ValidationError{Field: field, Message: "name at least one"}
	}
	if n > MaxPerRequest {
		return &identity.ValidationError{Field: field, Message: fmt.Sprintf("at most %d per request", MaxPerRequest)}
	}
	return nil
}

// normalize fills a page's defaults and bounds.
func (p Page) normalize() (Page, error) {
	if p.Offset < 0 {
		return p, &identity.ValidationError{Field: "page", Message: "must not be negative"}
	}
	if p.Limit < 0 || p.Limit > MaxPage {
		return p, &identity.ValidationError{Field: "per_page", Message: fmt.Sprintf("must be 1 to %d", MaxPage)}
	}
	if p.Limit == 0 {
		p.Limit = 50
	}
	return p, nil
}

// window returns the page's slice bounds over n items.
func (p Page) window(n int) (int, int) {
	lo := min(p.Offset, n)
	return lo, min(lo+p.Limit, n)
}

// findRole finds a role as the system (the write's scope was checked).
func findRole(ctx context.Context, db *ent.Client, id string) (*ent.Role, error) {
	return FindRole(sys(ctx), db, id)
}

// findRoles resolves role node ids, deduplicated, in the order given;
// the first unknown one is a NotFoundError.
func findRoles(ctx context.Context, db *ent.Client, ids []string) ([]*ent.Role, error) {
	want := make([]pulid.ID, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(want, pulid.ID(id)) {
			want = append(want, pulid.ID(id))
		}
	}
	rs, err := db.Role.Query().Where(role.IDIn(want...)).All(sys(ctx))
	if err != nil {
		return nil, err
	}
	byID := make(map[pulid.ID]*ent.Role, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	out := make([]*ent.Role, 0, len(want))
	for _, id := range want {
		r, ok := byID[id]
		if !ok {
			return nil, &identity.NotFoundError{What: "role", ID: string(id)}
		}
		out = append(out, r)
	}
	return out, nil
}

// findUsers resolves users by user_id or node id, deduplicated.
func findUsers(ctx context.Context, db *ent.Client, ids []string) ([]*ent.User, error) {
	var out []*ent.User
	for _, id := range ids {
		u, err := identity.Resolve(sys(ctx), db, id)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o *ent.User) bool { return o.ID == u.ID }) {
			out = append(out, u)
		}
	}
	return out, nil
}

// perm is a resolved permission: the API's node id and the scope.
type perm struct {
	rs   pulid.ID
	name string
}

// resolvePerms resolves permissions to their APIs. Unknown APIs are
// NotFoundErrors; the management API's permissions are refused (its powers
// are administrator grants and client management scopes). declared asks
// that each be a scope the API declares (adds); removes accept any name,
// since a name the API does not declare is simply not held.
func resolvePerms(ctx context.Context, db *ent.Client, perms []Permission, declared bool) ([]perm, error) {
	if err := checkCount("permissions", len(perms)); err != nil {
		return nil, err
	}
	apisByID := map[string]*ent.ResourceServer{}
	var out []perm
	for _, p := range perms {
		rs, ok := apisByID[p.ResourceServerIdentifier]
		if !ok {
			if p.ResourceServerIdentifier == "" || strings.HasPrefix(p.ResourceServerIdentifier, "api_") {
				return nil, &identity.ValidationError{Field: "resource_server_identifier", Message: "must name an API by its identifier"}
			}
			var err error
			if rs, err = apis.Find(sys(ctx), db, p.ResourceServerIdentifier); err != nil {
				return nil, err
			}
			if rs.System {
				return nil, &identity.ValidationError{Field: "permissions",
					Message: "the management API's permissions cannot be assigned to roles or users: grant them to administrators or clients"}
			}
			apisByID[p.ResourceServerIdentifier] = rs
		}
		if declared && !declares(rs, p.PermissionName) {
			return nil, &identity.ValidationError{Field: "permission_name",
				Message: fmt.Sprintf("%q is not a scope of the API %s", p.PermissionName, rs.Identifier)}
		}
		q := perm{rs: rs.ID, name: p.PermissionName}
		if !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out, nil
}

// declares reports whether the API defines scope.
func declares(rs *ent.ResourceServer, scope string) bool {
	for _, s := range rs.Scopes {
		if s["value"] == scope {
			return true
		}
	}
	return false
}

// apiInfo is what permission listings show of an API.
type apiInfo struct {
	identifier, name string
	descriptions     map[string]string
}

// apiInfos loads the APIs with these node ids.
func apiInfos(ctx context.Context, db *ent.Client, ids []pulid.ID) (map[pulid.ID]apiInfo, error) {
	rss, err := db.ResourceServer.Query().Where(resourceserver.IDIn(ids...)).All(sys(ctx))
	if err != nil {
		return nil, err
	}
	out := make(map[pulid.ID]apiInfo, len(rss))
	for _, rs := range rss {
		d := make(map[string]string, len(rs.Scopes))
		for _, s := range rs.Scopes {
			d[s["value"]] = s["description"]
		}
		out[rs.ID] = apiInfo{identifier: rs.Identifier, name: rs.Name, descriptions: d}
	}
	return out, nil
}

// sortPerms orders listings as Auth0: by API identifier, then name.
func sortPerms(ps []PermissionInfo) {
	slices.SortFunc(ps, func(a, b PermissionInfo) int {
		if c := strings.Compare(a.ResourceServerIdentifier, b.ResourceServerIdentifier); c != 0 {
			return c
		}
		return strings.Compare(a.PermissionName, b.PermissionName)
	})
}
