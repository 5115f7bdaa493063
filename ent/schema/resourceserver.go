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
	}
}

// Annotations implements ent.Schema.
func (ResourceServer) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy implements ent.Schema.
func (ResourceServer) Policy() ent.Policy { return authz.ScopePolicy{Resource: "resource_servers"} }
