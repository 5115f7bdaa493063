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

// AuthRequest is one /authorize request, from the moment the OpenID Provider
// accepts it until its code is exchanged (or it expires). It lives in the
// database, not in memory, so any node can finish a login another started.
type AuthRequest struct{ ent.Schema }

// Mixin implements ent.Schema.
func (AuthRequest) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("arq_"), timestamps{}}
}

// Fields implements ent.Schema.
func (AuthRequest) Fields() []ent.Field {
	return []ent.Field{
		field.String("client_id").NotEmpty(),
		field.String("redirect_uri"),
		field.String("response_type"),
		field.String("response_mode").Optional(),
		field.Strings("scopes").Default([]string{}),
		field.String("state").Optional(),
		field.String("nonce").Optional(),
		field.String("code_challenge").Optional(),
		field.String("code_challenge_method").Optional(),
		field.Strings("prompt").Default([]string{}),
		field.Int("max_age").Optional().Nillable(),
		field.String("login_hint").Optional(),
		field.Strings("ui_locales").Default([]string{}),
		field.Strings("acr_values").Default([]string{}),
		// id_token_hint_subject is the `sub` of a verified id_token_hint.
		field.String("id_token_hint_subject").Optional(),
		// audience is the API the access token is for (the `audience`
		// parameter, which the OP library drops and we carry ourselves).
		field.Strings("audience").Default([]string{}),
		// connection is the `connection` parameter: skips the chooser.
		field.String("connection").Optional(),
		// claims_request is the OIDC `claims` request parameter.
		field.JSON("claims_request", map[string]any{}).Optional(),
		// Set when the user has authenticated.
		field.String("user_ref").GoType(pulid.ID("")).Optional().Nillable(),
		field.String("session_ref").GoType(pulid.ID("")).Optional().Nillable(),
		field.Time("auth_time").Optional().Nillable(),
		field.Strings("amr").Default([]string{}),
		field.Bool("done").Default(false),
		// code_hash is SHA-256 of the authorization code; the code itself is
		// never stored.
		field.String("code_hash").Optional().Nillable().Unique().Sensitive(),
		field.Time("code_expires_at").Optional().Nillable(),
		// code_used_at marks an exchanged code: a second exchange fails and
		// revokes what the first one issued.
		field.Time("code_used_at").Optional().Nillable(),
		field.Time("expires_at"),
	}
}

// Indexes implements ent.Schema.
func (AuthRequest) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Annotations implements ent.Schema.
func (AuthRequest) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema: only the server touches login state.
func (AuthRequest) Policy() ent.Policy { return authz.SystemOnly{} }
