package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// LogEvent is one entry of the tenant log, with Auth0's fields and type codes
// (docs/LOGS.md): s, f, fp, fu, ss, fs, sapi, limit_wc…
type LogEvent struct{ ent.Schema }

// Mixin implements ent.Schema.
func (LogEvent) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("log_")} }

// Fields implements ent.Schema.
func (LogEvent) Fields() []ent.Field {
	opt := func(name string) ent.Field { return field.String(name).Optional().Immutable().MaxLen(512) }
	return []ent.Field{
		field.Time("date").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("DATE")),
		field.String("type").NotEmpty().MaxLen(32).Immutable(),
		field.String("description").Optional().Immutable().MaxLen(2048),
		opt("ip"), opt("user_agent"), opt("client_id"), opt("client_name"),
		opt("connection"), opt("connection_id"), opt("strategy"), opt("strategy_type"),
		opt("user_id"), opt("user_name"),
		field.JSON("details", map[string]any{}).Optional().Immutable().SchemaType(jsonb),
	}
}

// Indexes implements ent.Schema.
func (LogEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("date"),
		index.Fields("type", "date"),
		index.Fields("user_id", "date"),
	}
}

// Annotations implements ent.Schema.
func (LogEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy implements ent.Schema: only the server writes logs.
func (LogEvent) Policy() ent.Policy { return authz.SystemOnly{ReadScope: "read:logs"} }
