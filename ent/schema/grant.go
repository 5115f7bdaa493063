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

// Grant is what one authorization code (or one refresh chain) gave a client
// for a user: its access tokens carry the grant id, its refresh tokens belong
// to it. Revoking the grant (code reuse, refresh-token reuse, block, password
// change, logout) revokes all of them at once.
type Grant struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Grant) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("grt_"), timestamps{}} }

// Fields implements ent.Schema.
func (Grant) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_ref").GoType(pulid.ID("")),
		field.String("client_id").NotEmpty(),
		field.String("session_ref").GoType(pulid.ID("")).Optional().Nillable(),
		field.String("auth_request_ref").GoType(pulid.ID("")).Optional().Nillable(),
		field.Strings("scopes").Default([]string{}),
		field.Strings("audience").Default([]string{}),
		field.Time("auth_time"),
		field.Strings("amr").Default([]string{}),
		// Absolute end of the refresh chain (30 days by default).
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("revoked_reason").Optional(),
	}
}

// Edges implements ent.Schema.
func (Grant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("grants").Field("user_ref").Unique().Required().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("refresh_tokens", RefreshToken.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema.
func (Grant) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_ref"), index.Fields("auth_request_ref"), index.Fields("expires_at")}
}

// Annotations implements ent.Schema.
func (Grant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (Grant) Policy() ent.Policy { return authz.SystemOnly{} }

// RefreshToken is one refresh token of a grant. Tokens rotate on every use:
// a used token that is presented again means it leaked, and the whole grant
// is revoked.
type RefreshToken struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RefreshToken) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rft_"), timestamps{}}
}

// Fields implements ent.Schema.
func (RefreshToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("grant_ref").GoType(pulid.ID("")),
		field.String("token_hash").NotEmpty().Unique().Immutable().Sensitive(),
		field.Time("idle_expires_at"),
		field.Time("used_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (RefreshToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("grant", Grant.Type).Ref("refresh_tokens").Field("grant_ref").Unique().Required(),
	}
}

// Annotations implements ent.Schema.
func (RefreshToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (RefreshToken) Policy() ent.Policy { return authz.SystemOnly{} }
