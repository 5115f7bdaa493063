package passkeys

import (
	"context"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mfa"
)

// TypeCloneDetected is the log event of an assertion refused because its
// sign count did not increase. Auth0 has no such event; the name follows
// its "gd_" codes of second factors.
const TypeCloneDetected = "gd_webauthn_clone_detected"

// HasCredential reports whether the user has a confirmed WebAuthn
// credential.
func (s *Service) HasCredential(ctx context.Context, userID pulid.ID) (bool, error) {
	ok, err := s.cfg.DB.Authenticator.Query().Where(authenticator.UserRef(userID),
		authenticator.TypeEQ(authenticator.TypeWebauthn), authenticator.Confirmed(true),
		authenticator.CredentialIDNotNil()).Exist(sys(ctx))
	if err != nil {
		return false, fmt.Errorf("passkeys: reading credentials: %w", err)
	}
	return ok, nil
}

// BeginMFA begins a second-factor assertion with one of the user's
// credentials.
func (s *Service) BeginMFA(ctx context.Context, userID pulid.ID, binding string) (*Ceremony, error) {
	if err := s.requireEnabled(ctx); err != nil {
		return nil, err
	}
	w, err := s.loadUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(w.creds) == 0 {
		return nil, ErrUnknownCredential
	}
	assertion, sd, err := s.wa.BeginLogin(w, gowebauthn.WithUserVerification(protocol.VerificationDiscouraged))
	if err != nil {
		return nil, fmt.Errorf("passkeys: beginning an assertion: %w", err)
	}
	return s.ceremony(assertion, state{Purpose: purposeMFA, Binding: binding, User: string(userID), Session: *sd})
}

// FinishMFA verifies the browser's answer (the JSON of the
// PublicKeyCredential navigator.credentials.get returned) to BeginMFA.
func (s *Service) FinishMFA(ctx context.Context, userID pulid.ID, binding, sealed string, response []byte, lc mfa.LoginContext) (*Result, error) {
	if err := s.requireEnabled(ctx); err != nil {
		return nil, err
	}
	st, err := s.open(purposeMFA, binding, sealed)
	if err != nil {
		return nil, err
	}
	if st.User != string(userID) {
		return nil, fmt.Errorf("%w: state of another user", ErrCeremony)
	}
	parsed, err := parseAssertion(response)
	if err != nil {
		return nil, err
	}
	w, err := s.loadUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	cred, err := s.wa.ValidateLogin(w, st.Session, parsed)
	if err != nil {
		s.logFailure(ctx, w.u, lc, "Security key refused", err)
		return nil, fmt.Errorf("%w: %v", ErrCeremony, err)
	}
	return s.accept(ctx, w, cred, parsed, st, lc, "Security key accepted")
}

// BeginLogin begins a passkey sign-in: any discoverable credential of this
// relying party, user verification required.
func (s *Service) BeginLogin(ctx context.Context, binding string) (*Ceremony, error) {
	if err := s.requireEnabled(ctx); err != nil {
		return nil, err
	}
	assertion, sd, err := s.wa.BeginDiscoverableLogin(gowebauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("passkeys: beginning a passkey sign-in: %w", err)
	}
	return s.ceremony(assertion, state{Purpose: purposeLogin, Binding: binding, Session: *sd})
}

// FinishLogin verifies the answer to BeginLogin and returns the user the
// passkey belongs to. Whether that user may sign in (blocked, enabled
// connection, second factor, rules) is decided with the login, by
// authn.Finalize.
func (s *Service) FinishLogin(ctx context.Context, binding, sealed string, response []byte, lc mfa.LoginContext) (*Result, error) {
	if err := s.requireEnabled(ctx); err != nil {
		return nil, err
	}
	st, err := s.open(purposeLogin, binding, sealed)
	if err != nil {
		return nil, err
	}
	parsed, err := parseAssertion(response)
	if err != nil {
		return nil, err
	}
	var w *waUser
	handler := func(_, userHandle []byte) (gowebauthn.User, error) {
		if len(userHandle) == 0 || len(userHandle) > 64 {
			return nil, ErrUnknownCredential
		}
		w, err = s.loadUser(ctx, pulid.ID(userHandle))
		if err != nil {
			return nil, err
		}
		return w, nil
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(handler, st.Session, parsed)
	if err != nil {
		var u *ent.User
		if w != nil {
			u = w.u
		}
		s.logFailure(ctx, u, lc, "Passkey refused", err)
		return nil, fmt.Errorf("%w: %v", ErrCeremony, err)
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return nil, fmt.Errorf("%w: the user was not verified", ErrCeremony)
	}
	return s.accept(ctx, w, cred, parsed, st, lc, "Passkey accepted")
}

// accept records a verified assertion on its credential: refused when the
// sign count did not grow (a clone) or the credential was used since the
// ceremony began (a replayed answer).
func (s *Service) accept(ctx context.Context, w *waUser, cred *gowebauthn.Credential, parsed *protocol.ParsedCredentialAssertionData,
	st *state, lc mfa.LoginContext, desc string) (*Result, error) {
	row := w.row(cred.ID)
	if row == nil {
		return nil, ErrUnknownCredential
	}
	count := parsed.Response.AuthenticatorData.Counter
	if cred.Authenticator.CloneWarning {
		e := event(TypeCloneDetected, "Security key refused: its sign count did not increase (cloned credential?)", w.u, lc)
		e.Details = map[string]any{"authenticator_id": string(row.ID), "authenticator_type": string(mfa.FactorWebAuthn),
			"stored_sign_count": row.SignCount, "sign_count": count}
		s.log(ctx, e)
		s.cfg.Logger.WarnContext(ctx, "passkeys: sign count did not increase, possible cloned credential",
			"user_id", w.u.UserID, "authenticator_id", row.ID, "stored", row.SignCount, "got", count)
		return nil, ErrCloned
	}
	now := s.cfg.Now().Truncate(time.Microsecond)
	issued := time.UnixMicro(st.Issued)
	n, err := s.cfg.DB.Authenticator.Update().
		Where(authenticator.ID(row.ID), authenticator.SignCount(row.SignCount),
			authenticator.Or(authenticator.LastUsedAtIsNil(), authenticator.LastUsedAtLT(issued))).
		SetSignCount(int64(count)).
		SetBackupState(parsed.Response.AuthenticatorData.Flags.HasBackupState()).
		SetLastUsedAt(now).
		Save(sys(ctx))
	if err != nil {
		return nil, fmt.Errorf("passkeys: recording an assertion: %w", err)
	}
	if n != 1 {
		s.logFailure(ctx, w.u, lc, desc+" twice", fmt.Errorf("the credential was used since the ceremony began"))
		return nil, fmt.Errorf("%w: the credential was used since the ceremony began", ErrCeremony)
	}
	uv := parsed.Response.AuthenticatorData.Flags.HasUserVerified()
	e := event(logs.TypeMFAAuthSucceed, desc, w.u, lc)
	e.Details = map[string]any{"authenticator_id": string(row.ID), "authenticator_type": string(mfa.FactorWebAuthn),
		"user_verified": uv}
	s.log(ctx, e)
	return &Result{UserID: w.u.ID, User: w.u, AuthenticatorID: string(row.ID), AMR: amrOf(row.BackupEligible, uv), UserVerified: uv}, nil
}

// LoginConnections lists the database connections the user has an
// identity in, oldest identity first: a passkey sign-in completes through
// one of them that is enabled for the client.
func (s *Service) LoginConnections(ctx context.Context, userID pulid.ID) ([]string, error) {
	ids, err := s.cfg.DB.Identity.Query().Where(identity.OwnerID(userID),
		identity.HasConnectionWith(connection.StrategyEQ(connection.StrategyDatabase))).
		WithConnection().Order(ent.Asc(identity.FieldCreatedAt)).All(sys(ctx))
	if err != nil {
		return nil, fmt.Errorf("passkeys: reading identities: %w", err)
	}
	var out []string
	for _, i := range ids {
		if i.Edges.Connection != nil {
			out = append(out, i.Edges.Connection.Name)
		}
	}
	return out, nil
}

// LoginEvent is the s event of a passkey sign-in through connection, which
// the login's record writes (authn.Pending) once the login is decided.
func LoginEvent(res *Result, connection string, lc mfa.LoginContext) logs.Event {
	lc.Connection = connection
	e := event(logs.TypeSuccessLogin, "Successful login with a passkey", res.User, lc)
	e.Details = map[string]any{"method": "passkey"}
	return e
}
