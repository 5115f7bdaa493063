package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// ResourceServer is an API that access tokens can be issued for (the
// `audience` parameter). The management API is a built-in one.
type ResourceServer struct{ ent.Schema }

// Mixin implements ent.Schema.
func (ResourceServer) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("api_"), timestamps{}}
}

// Fields implements ent.Schema.
func (ResourceServer) Fields() []ent.Field {
	return []ent.Field{
		field.String("identifier").NotEmpty().MaxLen(600).Unique().Immutable(),
		field.String("name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("NAME")),
		// scopes are {value, description} objects, as Auth0 exports them.
		field.JSON("scopes", []map[string]string{}).Default([]map[string]string{}),
		field.Bool("allow_offline_access").Default(false),
		// token_lifetime in seconds (default 86,400).
		field.Int("token_lifetime").Default(86400).Positive(),
		field.Bool("system").Default(false),
		// enforce_policies turns RBAC on for this API: a user's token carries
		// only the requested scopes the user holds as permissions (directly
		// or through roles; package rbac).
		field.Bool("enforce_policies").Default(false),
		// token_dialect is Auth0's: the _authz dialects add a permissions
		// claim listing every permission the user holds for this API.
		field.Enum("token_dialect").
			Values("access_token", "access_token_authz", "rfc9068_profile", "rfc9068_profile_authz").
			Default("access_token"),
		// introspection_clients are the client_ids (besides a token's own
		// client) that may introspect access tokens issued for this API.
		field.Strings("introspection_clients").Default([]string{}),
		// signing_alg is the JWS algorithm of this API's access tokens:
		// RS256, ES256 or EdDSA (Ed25519). ID tokens stay RS256.
		field.String("signing_alg").Default("RS256"),
	}
}

// Annotations implements ent.Schema.
func (ResourceServer) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy implements ent.Schema.
func (ResourceServer) Policy() ent.Policy { return authz.ScopePolicy{Resource: "resource_servers"} }
