package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// LoginAttempt counts failed logins per (identifier, IP) for brute-force
// protection (docs/DATABASE_CONNECTIONS.md). It is kept for unknown identifiers too: counting only
// real accounts would reveal which exist.
type LoginAttempt struct{ ent.Schema }

// Mixin implements ent.Schema.
func (LoginAttempt) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("att_"), timestamps{}}
}

// Fields implements ent.Schema.
func (LoginAttempt) Fields() []ent.Field {
	return []ent.Field{
		// identifier is the lowercased email or username typed, per connection.
		field.String("connection").NotEmpty(),
		field.String("identifier").NotEmpty().MaxLen(320),
		field.String("ip").NotEmpty().MaxLen(64),
		field.Int("failures").Default(0),
		field.Time("last_failure_at"),
		field.Time("blocked_until").Optional().Nillable(),
	}
}

// Indexes implements ent.Schema.
func (LoginAttempt) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("connection", "identifier", "ip").Unique(),
		index.Fields("identifier"),
	}
}

// Annotations implements ent.Schema.
func (LoginAttempt) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (LoginAttempt) Policy() ent.Policy { return authz.SystemOnly{} }
