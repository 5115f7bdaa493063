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

// Ticket is a single-use link sent to a user: a password change, an email
// verification or an MFA enrollment. Only the SHA-256 of its token is
// stored; only the newest ticket of a kind per user is valid.
type Ticket struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Ticket) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("tkt_"), timestamps{}} }

// Fields implements ent.Schema.
func (Ticket) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_ref").GoType(pulid.ID("")),
		field.Enum("kind").Values("password_change", "email_verification", "mfa_enrollment"),
		field.String("token_hash").NotEmpty().Unique().Immutable().Sensitive(),
		field.String("result_url").Optional(),
		field.String("client_id").Optional(),
		field.Bool("mark_email_verified").Default(false),
		field.Time("expires_at"),
		field.Time("used_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (Ticket) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("tickets").Field("user_ref").Unique().Required().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema.
func (Ticket) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_ref", "kind")}
}

// Annotations implements ent.Schema.
func (Ticket) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (Ticket) Policy() ent.Policy { return authz.SystemOnly{} }
