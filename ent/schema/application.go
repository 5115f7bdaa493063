package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// Application is a client (an application) registered with the OpenID Provider.
type Application struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Application) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cli_"), timestamps{}}
}

// Fields implements ent.Schema.
func (Application) Fields() []ent.Field {
	return []ent.Field{
		field.String("client_id").NotEmpty().MaxLen(128).Unique().Immutable(),
		// secret_hash is SHA-256 of a ≥256-bit random secret: a slow password
		// hash buys nothing against a secret of that entropy and would cap
		// token issuance.
		field.Bytes("secret_hash").Optional().Nillable().Sensitive(),
		field.String("name").NotEmpty().MaxLen(128).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("type").Values("m2m", "spa", "regular_web", "native"),
		field.Strings("redirect_uris").Default([]string{}),
		field.Strings("logout_urls").Default([]string{}),
		field.Strings("web_origins").Default([]string{}),
		field.Strings("grant_types").Default([]string{}),
		// management_scopes are the management API scopes the client may be
		// granted; all_management_scopes (the bootstrap admin client) means
		// every scope the server knows, including ones added later.
		field.Strings("management_scopes").Default([]string{}),
		field.Bool("all_management_scopes").Default(false),
		// metadata is Auth0's client_metadata: ≤ 10 string keys and values of
		// ≤ 255 characters, handed to rules as event.client.metadata.
		field.JSON("metadata", map[string]string{}).Default(map[string]string{}),
		// system clients are created by the server and cannot be edited.
		field.Bool("system").Default(false),
		// Token lifetimes in seconds; 0 means the server default (ID token
		// 36,000, refresh 15 days idle and 30 days absolute).
		field.Int("id_token_lifetime").Default(0).NonNegative(),
		field.Int("refresh_token_idle_lifetime").Default(0).NonNegative(),
		field.Int("refresh_token_lifetime").Default(0).NonNegative(),
	}
}

// Annotations implements ent.Schema.
func (Application) Annotations() []schema.Annotation {
	// The GraphQL type is named Client; entgql.Type("Client") would clash with
	// ent's own Client, so graph/ maps the names (see loadFullClients).
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy implements ent.Schema.
func (Application) Policy() ent.Policy { return authz.ScopePolicy{Resource: "clients"} }
