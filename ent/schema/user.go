package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/authgraph/authgraph/authz"
	gen "github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
)

// User is one normalized profile (docs/PROFILE.md): one per unique person, whatever
// connections they sign in through.
type User struct{ ent.Schema }

// jsonb makes metadata columns jsonb on Postgres (indexable, comparable);
// other dialects keep ent's default JSON text.
var jsonb = map[string]string{dialect.Postgres: "jsonb"}

// Mixin implements ent.Schema.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("usr_"), timestamps{}} }

// Fields implements ent.Schema.
func (User) Fields() []ent.Field {
	return []ent.Field{
		// user_id is the Auth0-style "provider|id": the OIDC `sub`, immutable,
		// kept as given when users are imported or created with one.
		field.String("user_id").NotEmpty().MaxLen(255).Unique().Immutable().
			Annotations(entgql.MapsTo("userId")),
		field.String("email").Optional().Nillable().MaxLen(254),
		field.Bool("email_verified").Default(false),
		field.String("username").Optional().Nillable().MaxLen(128),
		field.String("phone_number").Optional().Nillable().MaxLen(16),
		field.Bool("phone_verified").Default(false),
		field.String("name").Optional().Nillable().MaxLen(300),
		field.String("given_name").Optional().Nillable().MaxLen(150),
		field.String("family_name").Optional().Nillable().MaxLen(150),
		field.String("nickname").Optional().Nillable().MaxLen(350),
		field.String("picture").Optional().Nillable().MaxLen(2048),
		field.Bool("blocked").Default(false),
		field.JSON("user_metadata", map[string]any{}).Default(map[string]any{}).
			SchemaType(jsonb),
		field.JSON("app_metadata", map[string]any{}).Default(map[string]any{}).
			SchemaType(jsonb),
		field.Time("last_login").Optional().Nillable().
			Annotations(entgql.OrderField("LAST_LOGIN")),
		field.String("last_ip").Optional().Nillable().MaxLen(64).
			Annotations(entgql.MapsTo("lastIp")),
		field.Int("logins_count").Default(0).NonNegative().
			Annotations(entgql.OrderField("LOGINS_COUNT")),
		field.Time("last_password_reset").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("identities", Identity.Type).
			Annotations(entsqlCascade()),
		edge.To("sessions", Session.Type).Annotations(entsqlCascade(), entgql.Skip()),
		edge.To("grants", Grant.Type).Annotations(entsqlCascade(), entgql.Skip()),
		edge.To("tickets", Ticket.Type).Annotations(entsqlCascade(), entgql.Skip()),
		// Second factors (package mfa); GraphQL lists them through mfa.
		edge.To("authenticators", Authenticator.Type).Annotations(entsqlCascade(), entgql.Skip()),
		edge.To("mfa_state", MfaState.Type).Unique().Annotations(entsqlCascade(), entgql.Skip()),
	}
}

// Indexes implements ent.Schema.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("email"),
		index.Fields("created_at"),
	}
}

// Annotations implements ent.Schema.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField(),
		entgql.MultiOrder(),
	}
}

// Policy implements ent.Schema: read:users, create:users, update:users,
// delete:users.
func (User) Policy() ent.Policy {
	return authz.ScopePolicy{Resource: "users", SelfQuery: func(q ent.Query, uid string) {
		q.(*gen.UserQuery).Where(user.UserID(uid))
	}}
}

// now is time.Now at the precision Postgres stores (microseconds), so what a
// write returns equals what a later read returns.
func now() time.Time { return time.Now().Truncate(time.Microsecond) }

// timestamps adds created_at (orderable) and updated_at.
type timestamps struct{ mixinSchema }

// Fields implements ent.Mixin.
func (timestamps) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(now).UpdateDefault(now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}
