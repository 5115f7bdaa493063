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

// Authenticator is one second factor of a user (docs/MFA.md): a TOTP app, a
// WebAuthn credential, the email factor, or the user's set of recovery codes
// (whose codes are RecoveryCode rows). Package mfa reads and writes it;
// package passkeys writes the WebAuthn columns of webauthn rows.
type Authenticator struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Authenticator) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("mfa_"), timestamps{}}
}

// Fields implements ent.Schema.
func (Authenticator) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_ref").GoType(pulid.ID("")).Immutable(),
		field.Enum("type").Values("totp", "webauthn", "email", "recovery_code").Immutable(),
		field.String("name").Default("").MaxLen(255),
		// secret_sealed is the TOTP seed sealed with the master key, bound
		// to this authenticator and its user (secretbox associated data).
		field.Bytes("secret_sealed").Optional().Nillable().Sensitive(),
		// confirmed: a first valid code proved the enrollment; pending ones
		// never answer a challenge.
		field.Bool("confirmed").Default(false),
		field.Time("last_used_at").Optional().Nillable(),
		// totp_last_step is the last TOTP time step accepted: a code of this
		// step or an earlier one is refused (replay).
		field.Int64("totp_last_step").Default(0),
		// otp_hash and otp_expires_at hold the last emailed one-time code
		// (SHA-256), cleared when used.
		field.Bytes("otp_hash").Optional().Nillable().Sensitive(),
		field.Time("otp_expires_at").Optional().Nillable(),
		field.Time("otp_sent_at").Optional().Nillable(),
		// WebAuthn credential (package passkeys): id (unique), COSE public
		// key, signature counter, authenticator model, transports, backup
		// flags.
		field.Bytes("credential_id").Optional().Nillable().Unique(),
		field.Bytes("public_key").Optional().Nillable(),
		field.Int64("sign_count").Default(0),
		field.Bytes("aaguid").Optional().Nillable(),
		field.Strings("transports").Optional(),
		field.Bool("backup_eligible").Default(false),
		field.Bool("backup_state").Default(false),
	}
}

// Edges implements ent.Schema.
func (Authenticator) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("authenticators").Field("user_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("recovery_codes", RecoveryCode.Type).Annotations(entsqlCascade()),
	}
}

// Indexes implements ent.Schema.
func (Authenticator) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_ref", "type")}
}

// Annotations implements ent.Schema.
func (Authenticator) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (Authenticator) Policy() ent.Policy { return authz.SystemOnly{} }

// RecoveryCode is one single-use recovery code of a user's recovery_code
// authenticator. Codes are random and long, so their SHA-256 is stored.
type RecoveryCode struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RecoveryCode) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rcv_"), timestamps{}}
}

// Fields implements ent.Schema.
func (RecoveryCode) Fields() []ent.Field {
	return []ent.Field{
		field.String("authenticator_ref").GoType(pulid.ID("")).Immutable(),
		field.Bytes("code_hash").NotEmpty().Immutable().Sensitive(),
		field.Time("used_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (RecoveryCode) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("authenticator", Authenticator.Type).Ref("recovery_codes").Field("authenticator_ref").
			Unique().Required().Immutable().Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes implements ent.Schema.
func (RecoveryCode) Indexes() []ent.Index {
	return []ent.Index{index.Fields("authenticator_ref")}
}

// Annotations implements ent.Schema.
func (RecoveryCode) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (RecoveryCode) Policy() ent.Policy { return authz.SystemOnly{} }

// MfaState is a user's MFA counters: wrong codes towards the lockout, the
// lockout's end, and the generation that "remember this browser" values
// carry (bumped when authenticators are removed, which voids them).
type MfaState struct{ ent.Schema }

// Mixin implements ent.Schema.
func (MfaState) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("mfs_"), timestamps{}}
}

// Fields implements ent.Schema.
func (MfaState) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_ref").GoType(pulid.ID("")).Unique().Immutable(),
		field.Int("failures").Default(0),
		field.Time("last_failure_at").Optional().Nillable(),
		field.Time("locked_until").Optional().Nillable(),
		field.Int64("generation").Default(0),
	}
}

// Edges implements ent.Schema.
func (MfaState) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("mfa_state").Field("user_ref").Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Annotations implements ent.Schema.
func (MfaState) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (MfaState) Policy() ent.Policy { return authz.SystemOnly{} }

// MfaConfig is the tenant's MFA settings: one row, keyed by singleton.
type MfaConfig struct{ ent.Schema }

// Mixin implements ent.Schema.
func (MfaConfig) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("mfc_"), timestamps{}}
}

// Fields implements ent.Schema.
func (MfaConfig) Fields() []ent.Field {
	return []ent.Field{
		// singleton is always "tenant" (package mfa sets it): its unique
		// index makes a second row impossible, and an upsert on it writes
		// the one row.
		field.String("singleton").NotEmpty().Unique().Immutable(),
		// challenge_policy is mfa.Policy ("policy" would clash with ent's
		// privacy Policy in the generated package).
		field.Enum("challenge_policy").Values("never", "opt_in", "always").Default("never"),
		field.Strings("factors").Default([]string{"totp", "recovery_code"}),
		field.Int("remember_browser_days").Default(0).NonNegative(),
	}
}

// Annotations implements ent.Schema.
func (MfaConfig) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy implements ent.Schema.
func (MfaConfig) Policy() ent.Policy { return authz.SystemOnly{} }
