package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// Role is a named set of permissions (scopes of resource servers) that users
// are assigned (package rbac). Names are unique, as Auth0's.
type Role struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Role) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rol_"), timestamps{}}
}

// Fields implements ent.Schema.
func (Role) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).Unique().
			Annotations(entgql.OrderField("NAME")),
		field.String("description").Default("").MaxLen(1000),
	}
}

// Annotations implements ent.Schema.
func (Role) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy implements ent.Schema.
func (Role) Policy() ent.Policy { return authz.ScopePolicy{Resource: "roles"} }

// RolePermission is one permission a role carries: a scope of a resource
// server. Deleting the role or the API deletes it; removing the scope from
// the API deletes it too (rbac.PrunePermissions, in the API's update).
type RolePermission struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RolePermission) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rpm_"), timestamps{}}
}

// Fields implements ent.Schema.
func (RolePermission) Fields() []ent.Field {
	return []ent.Field{
		field.String("role_ref").GoType(pulid.ID("")).Immutable(),
		field.String("resource_server_ref").GoType(pulid.ID("")).Immutable(),
		field.String("permission_name").NotEmpty().MaxLen(280).Immutable(),
	}
}

// Edges implements ent.Schema.
func (RolePermission) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("role", Role.Type).Field("role_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("resource_server", ResourceServer.Type).Field("resource_server_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema.
func (RolePermission) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("role_ref", "resource_server_ref", "permission_name").Unique(),
		index.Fields("resource_server_ref", "permission_name"),
	}
}

// Annotations implements ent.Schema.
func (RolePermission) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema: only package rbac reads and writes these,
// after checking the caller's scopes itself.
func (RolePermission) Policy() ent.Policy { return authz.SystemOnly{} }

// UserRole assigns a role to a user. Assignments are their own rows (not an
// edge mutation of User) so that the per-user permission cache watches only
// RBAC changes, not every login's update of the user row.
type UserRole struct{ ent.Schema }

// Mixin implements ent.Schema.
func (UserRole) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("uro_"), timestamps{}}
}

// Fields implements ent.Schema.
func (UserRole) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_ref").GoType(pulid.ID("")).Immutable(),
		field.String("role_ref").GoType(pulid.ID("")).Immutable(),
	}
}

// Edges implements ent.Schema.
func (UserRole) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("role", Role.Type).Field("role_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema: (user, role) for a user's roles, (role,
// id) for a role's members in keyset order and for the search term roles:.
func (UserRole) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_ref", "role_ref").Unique(),
		index.Fields("role_ref", "user_ref"),
	}
}

// Annotations implements ent.Schema.
func (UserRole) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema (see RolePermission).
func (UserRole) Policy() ent.Policy { return authz.SystemOnly{} }

// UserPermission is a permission assigned to a user directly, not through a
// role.
type UserPermission struct{ ent.Schema }

// Mixin implements ent.Schema.
func (UserPermission) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("upm_"), timestamps{}}
}

// Fields implements ent.Schema.
func (UserPermission) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_ref").GoType(pulid.ID("")).Immutable(),
		field.String("resource_server_ref").GoType(pulid.ID("")).Immutable(),
		field.String("permission_name").NotEmpty().MaxLen(280).Immutable(),
	}
}

// Edges implements ent.Schema.
func (UserPermission) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("resource_server", ResourceServer.Type).Field("resource_server_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema.
func (UserPermission) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_ref", "resource_server_ref", "permission_name").Unique(),
		index.Fields("resource_server_ref", "permission_name"),
	}
}

// Annotations implements ent.Schema.
func (UserPermission) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema (see RolePermission).
func (UserPermission) Policy() ent.Policy { return authz.SystemOnly{} }

// ClientGrant lets a machine client obtain client_credentials tokens for a
// resource server with at most these scopes. The built-in management API is
// not stored here: its grant is the client's management_scopes, which the
// rbac package presents as a client grant too.
type ClientGrant struct{ ent.Schema }

// Mixin implements ent.Schema.
func (ClientGrant) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cgr_"), timestamps{}}
}

// Fields implements ent.Schema.
func (ClientGrant) Fields() []ent.Field {
	return []ent.Field{
		field.String("client_ref").GoType(pulid.ID("")).Immutable(),
		field.String("resource_server_ref").GoType(pulid.ID("")).Immutable(),
		field.Strings("scopes").Default([]string{}),
	}
}

// Edges implements ent.Schema.
func (ClientGrant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("client", Application.Type).Field("client_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("resource_server", ResourceServer.Type).Field("resource_server_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema: one grant per (client, API), as Auth0.
func (ClientGrant) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("client_ref", "resource_server_ref").Unique(),
		index.Fields("resource_server_ref"),
	}
}

// Annotations implements ent.Schema.
func (ClientGrant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (ClientGrant) Policy() ent.Policy { return authz.ScopePolicy{Resource: "client_grants"} }
