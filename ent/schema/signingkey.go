package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// SigningKey is a token signing key. Its private half is sealed with the
// master key; no token can read it, so it is absent from GraphQL.
type SigningKey struct{ ent.Schema }

// Mixin implements ent.Schema.
func (SigningKey) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("key_"), timestamps{}}
}

// Fields implements ent.Schema.
func (SigningKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("kid").NotEmpty().Unique().Immutable(),
		field.String("algorithm").Default("RS256").Immutable(),
		field.Bytes("private_sealed").Sensitive().Immutable(),
		field.Bytes("public_der").Immutable(),
		// activates_at is when a key made ahead of a scheduled rotation
		// starts signing; until then it is only published in the JWKS, so
		// relying parties that cache the JWKS already know it. Nil: active
		// since it was created.
		field.Time("activates_at").Optional().Nillable().Immutable(),
		// retired keys sign nothing but stay in the JWKS until their tokens
		// have expired.
		field.Time("retired_at").Optional().Nillable(),
	}
}

// Annotations implements ent.Schema.
func (SigningKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (SigningKey) Policy() ent.Policy { return authz.SystemOnly{} }
