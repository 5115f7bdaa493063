package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// AdminGrant makes a user an administrator: the management API scopes their
// user tokens may carry (package admins). Grants live in their own table,
// never in app_metadata, so neither the user nor a rule can grant itself.
type AdminGrant struct{ ent.Schema }

// Mixin implements ent.Schema.
func (AdminGrant) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("adm_"), timestamps{}}
}

// Fields implements ent.Schema.
func (AdminGrant) Fields() []ent.Field {
	return []ent.Field{
		// user_ref is the user's node id (usr_…), not their user_id: a
		// user_id can be re-created (imports keep theirs), a node id cannot.
		field.String("user_ref").GoType(pulid.ID("")).Unique(),
		field.Strings("scopes").Default([]string{}),
		// granted_by is the viewer that wrote the grant (client id, user_id
		// or "cli"), for the audit trail.
		field.String("granted_by").Optional().MaxLen(512),
	}
}

// Edges implements ent.Schema: deleting a user deletes their grant.
func (AdminGrant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_ref").Unique().Required().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Annotations implements ent.Schema.
func (AdminGrant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema: read:admins reads grants; only the server
// writes them (package admins, after checking update:admins and that the
// caller holds every scope it grants).
func (AdminGrant) Policy() ent.Policy { return authz.SystemOnly{ReadScope: "read:admins"} }
