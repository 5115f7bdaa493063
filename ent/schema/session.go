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

// Session is a browser's single sign-on session, kept server-side; the
// cookie holds a random token whose SHA-256 is token_hash.
type Session struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Session) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("ses_"), timestamps{}} }

// Fields implements ent.Schema.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_ref").GoType(pulid.ID("")),
		field.String("token_hash").NotEmpty().Unique().Immutable().Sensitive(),
		field.Time("auth_time"),
		field.Strings("amr").Default([]string{}),
		field.String("connection").Optional(),
		field.String("ip").Optional(),
		field.String("user_agent").Optional().MaxLen(512),
		field.Time("last_seen_at"),
		field.Time("idle_expires_at"),
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Field("user_ref").Unique().Required().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema.
func (Session) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_ref"), index.Fields("expires_at")}
}

// Annotations implements ent.Schema.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (Session) Policy() ent.Policy { return authz.SystemOnly{} }
