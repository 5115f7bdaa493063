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

// UpstreamState is short-lived login state kept server-side for upstream
// connections (connectors/upstream):
//   - kind "oidc": a redirect to an OIDC/OAuth2 provider pending its
//     callback, keyed by the `state` parameter (data: PKCE verifier, nonce);
//   - kind "saml_request": an AuthnRequest pending its response, keyed by
//     RelayState (the IdP's cross-site POST carries no Lax cookie), data the
//     request ID;
//   - kind "saml_assertion": the replay cache, keyed by connection and
//     assertion ID, kept until the assertion's NotOnOrAfter.
type UpstreamState struct{ ent.Schema }

// Mixin implements ent.Schema.
func (UpstreamState) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ust_"), timestamps{}}
}

// Fields implements ent.Schema.
func (UpstreamState) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("oidc", "saml_request", "saml_assertion").Immutable(),
		// key is unique per kind: the state, the RelayState, or
		// "<connection>|<assertion id>".
		field.String("key").NotEmpty().MaxLen(512).Immutable(),
		field.String("connection").NotEmpty().MaxLen(128).Immutable(),
		// login_request is the pending /authorize (loginflow) id.
		field.String("login_request").Optional().MaxLen(64).Immutable(),
		field.Bytes("data").Optional().Sensitive().Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes implements ent.Schema.
func (UpstreamState) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("kind", "key").Unique(),
		index.Fields("expires_at"),
	}
}

// Annotations implements ent.Schema.
func (UpstreamState) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (UpstreamState) Policy() ent.Policy { return authz.SystemOnly{} }
