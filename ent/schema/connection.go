package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/authgraph/authgraph/authz"
	gen "github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
)

// Connection is a source of identities: the password database, an OIDC or
// SAML provider, a directory, or a custom database.
type Connection struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Connection) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("con_"), timestamps{}}
}

// Fields implements ent.Schema.
func (Connection) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(128).Unique().Immutable().
			Annotations(entgql.OrderField("NAME")),
		field.Enum("strategy").Values("database", "oidc", "saml", "ldap", "customdb").Immutable(),
		// options holds the non-secret strategy options (docs/CONNECTIONS.md).
		field.JSON("options", map[string]any{}).Default(map[string]any{}).SchemaType(jsonb),
		// secrets_sealed holds the secret options, sealed with the master key;
		// write-only through the API.
		field.Bytes("secrets_sealed").Optional().Nillable().Sensitive(),
		field.Strings("secrets_set").Default([]string{}),
		field.Strings("enabled_clients").Default([]string{}),
		field.Enum("sync_mode").Values("on_each_login", "on_first_login", "never_on_login").
			Default("on_each_login"),
	}
}

// Edges implements ent.Schema.
func (Connection) Edges() []ent.Edge {
	return []ent.Edge{
		// Deleting a connection deletes its identities (Auth0 does the same);
		// the cascade is declared on Identity's edge, which owns the foreign
		// key. Users left with no identity are removed by connections.Delete.
		edge.From("identities", Identity.Type).Ref("connection").
			Annotations(entgql.Skip()),
	}
}

// Annotations implements ent.Schema.
func (Connection) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy implements ent.Schema.
// A signed-in user may see the connections of their own identities (the
// GraphQL layer still hides options from them).
func (Connection) Policy() ent.Policy {
	return authz.ScopePolicy{Resource: "connections", SelfQuery: func(q ent.Query, uid string) {
		q.(*gen.ConnectionQuery).Where(connection.HasIdentitiesWith(identity.HasUserWith(user.UserID(uid))))
	}}
}
