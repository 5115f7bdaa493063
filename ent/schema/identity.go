package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/authgraph/authgraph/authz"
	gen "github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
)

// Identity is one way a user signs in: an account at one connection. A login
// finds its user through (connection, upstream_id) only, never by email, so
// a low-trust IdP asserting someone's address cannot sign in as them.
type Identity struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Identity) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("idn_"), timestamps{}} }

// Fields implements ent.Schema.
func (Identity) Fields() []ent.Field {
	return []ent.Field{
		field.String("owner_id").GoType(pulid.ID("")),
		field.String("connection_id").GoType(pulid.ID("")).Immutable(),
		// provider is the strategy name Auth0 reports (auth0, oidc, samlp, ad…).
		field.String("provider").NotEmpty().Immutable(),
		// upstream_id is the id at the connection, without the provider prefix
		// (GraphQL `userId`).
		field.String("upstream_id").NotEmpty().MaxLen(255).Immutable().
			Annotations(entgql.MapsTo("userId")),
		field.Bool("is_social").Default(false),
		// profile_data is the raw upstream profile (≤ 64 KB).
		field.JSON("profile_data", map[string]any{}).Optional().SchemaType(jsonb),
		// email_lower and username make database-connection logins unique per
		// connection; NULL for other strategies (NULLs never collide).
		field.String("email_lower").Optional().Nillable().MaxLen(254),
		field.String("username").Optional().Nillable().MaxLen(128),
		field.String("password_hash").Optional().Nillable().Sensitive(),
		// password_history holds the previous password hashes (newest first)
		// for the connection's password_history option.
		field.Strings("password_history").Optional().Sensitive(),
		// upstream tokens, sealed with the master key.
		field.Bytes("tokens_sealed").Optional().Nillable().Sensitive(),
	}
}

// Edges implements ent.Schema.
func (Identity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("identities").Field("owner_id").Unique().Required(),
		edge.To("connection", Connection.Type).Field("connection_id").Unique().Required().Immutable().
			Annotations(entsqlCascade()),
	}
}

// Indexes implements ent.Schema.
func (Identity) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("connection_id", "upstream_id").Unique(),
		index.Fields("connection_id", "email_lower").Unique(),
		index.Fields("connection_id", "username").Unique(),
		index.Fields("owner_id"),
	}
}

// Policy implements ent.Schema: identities are part of the user.
func (Identity) Policy() ent.Policy {
	return authz.ScopePolicy{Resource: "users", SelfQuery: func(q ent.Query, uid string) {
		q.(*gen.IdentityQuery).Where(identity.HasUserWith(user.UserID(uid)))
	}}
}
