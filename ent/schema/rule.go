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

// Rule is a post-login rule, run on every interactive login and refresh in
// `order` when enabled: either a WebAssembly module implementing the rules
// ABI v1 (rules-sdk/ABI.md) or JavaScript source (an Auth0 post-login Action
// or legacy Rule). Exactly one of module and javascript is set.
type Rule struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Rule) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("rul_"), timestamps{}} }

// Fields implements ent.Schema.
func (Rule) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(128).Unique().
			Annotations(entgql.OrderField("NAME")),
		// order: lower runs first (ties: oldest first).
		field.Int("order").Default(0).
			Annotations(entgql.OrderField("ORDER")),
		field.Bool("enabled").Default(true),
		// module is the wasm binary (≤ 8 MiB); never returned by the API.
		// Empty for a JavaScript rule.
		field.Bytes("module").Optional().Sensitive(),
		// module_size is the module's size in bytes, or for a JavaScript
		// rule the source's size in bytes (UTF-8).
		field.Int("module_size").Default(0).NonNegative(),
		// javascript is a JavaScript rule's source, returned to
		// administrators as Auth0 returns a rule's script (its secrets live
		// in secrets_sealed, not in the source). NULL for a wasm rule.
		field.Text("javascript").Optional().Nillable(),
		// version identifies the code: the hex SHA-256 of the module's bytes
		// or of the JavaScript source's UTF-8 bytes. The engine keys
		// compiled modules and instance pools by (id, version).
		field.String("version").NotEmpty(),
		// secrets_sealed holds the rule's secrets (a JSON object of strings)
		// sealed with the master key, AD "rule-secrets:"+id; write-only
		// through the API, which lists only their names (secrets_set).
		field.Bytes("secrets_sealed").Optional().Nillable().Sensitive(),
		field.Strings("secrets_set").Default([]string{}),
	}
}

// Indexes implements ent.Schema.
func (Rule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("order")}
}

// Annotations implements ent.Schema.
func (Rule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// Policy implements ent.Schema: read:rules, create:rules, update:rules,
// delete:rules.
func (Rule) Policy() ent.Policy { return authz.ScopePolicy{Resource: "rules"} }
