package passkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mfa"
	entstore "github.com/authgraph/authgraph/store"
)

// BeginRegistration begins registering a credential for the user. A
// passkey is a discoverable credential (resident key required) with user
// verification required, usable to sign in without a password; a security
// key is a second factor (neither required). The user's credentials are
// excluded: an authenticator is registered once. binding names what the
// ceremony belongs to (an auth request, a session); Finish must name the
// same. It adds a factor: only for a caller who has proved the user's
// existing factors (the account page); a login's enrollment step uses
// BeginFirstRegistration.
func (s *Service) BeginRegistration(ctx context.Context, userID pulid.ID, binding string, passkey bool) (*Ceremony, error) {
	return s.beginRegistration(ctx, userID, binding, passkey, false)
}

// BeginFirstRegistration is BeginRegistration for a user who has no factor
// yet: one with any confirmed factor (recovery codes included) gets
// mfa.ErrAlreadyEnrolled. Reaching a login's second step takes only the
// password, which may not add a factor to an enrolled user.
func (s *Service) BeginFirstRegistration(ctx context.Context, userID pulid.ID, binding string, passkey bool) (*Ceremony, error) {
	return s.beginRegistration(ctx, userID, binding, passkey, true)
}

func (s *Service) beginRegistration(ctx context.Context, userID pulid.ID, binding string, passkey, first bool) (*Ceremony, error) {
	if err := s.requireEnabled(ctx); err != nil {
		return nil, err
	}
	if first {
		if err := s.refuseEnrolled(ctx, s.cfg.DB, userID); err != nil {
			return nil, err
		}
	}
	w, err := s.loadUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	sel := protocol.AuthenticatorSelection{
		ResidentKey:      protocol.ResidentKeyRequirementDiscouraged,
		UserVerification: protocol.VerificationDiscouraged,
	}
	if passkey {
		yes := true
		sel = protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: &yes,
			UserVerification: protocol.VerificationRequired,
		}
	}
	creation, sd, err := s.wa.BeginRegistration(w,
		gowebauthn.WithAuthenticatorSelection(sel),
		gowebauthn.WithExclusions(gowebauthn.Credentials(w.creds).CredentialDescriptors()),
		gowebauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, fmt.Errorf("passkeys: beginning a registration: %w", err)
	}
	return s.ceremony(creation, state{Purpose: purposeRegister, Binding: binding, User: string(userID),
		Passkey: passkey, Session: *sd})
}

func (s *Service) ceremony(options any, st state) (*Ceremony, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	st.Issued = s.cfg.Now().UnixMicro()
	sealed, err := s.seal(st)
	if err != nil {
		return nil, err
	}
	return &Ceremony{Options: opts, State: sealed}, nil
}

// FinishRegistration verifies the browser's answer (the JSON of the
// PublicKeyCredential navigator.credentials.create returned) and stores
// the credential as a confirmed webauthn authenticator of the user. As
// BeginRegistration, it is for a caller who has proved the user's existing
// factors; a login's enrollment step uses FinishFirstRegistration.
func (s *Service) FinishRegistration(ctx context.Context, userID pulid.ID, binding, sealed string, response []byte, lc mfa.LoginContext) (*Registered, error) {
	return s.finishRegistration(ctx, userID, binding, sealed, response, lc, false)
}

// FinishFirstRegistration is FinishRegistration for a user who has no
// factor yet: one who has a confirmed factor by then (recovery codes
// included) gets mfa.ErrAlreadyEnrolled and nothing is stored. Whatever
// ceremony it is handed (one begun with BeginRegistration too), it adds no
// factor to an enrolled user.
func (s *Service) FinishFirstRegistration(ctx context.Context, userID pulid.ID, binding, sealed string, response []byte, lc mfa.LoginContext) (*Registered, error) {
	return s.finishRegistration(ctx, userID, binding, sealed, response, lc, true)
}

// refuseEnrolled returns mfa.ErrAlreadyEnrolled when the user has a
// confirmed authenticator of any type (recovery codes included), in db.
func (s *Service) refuseEnrolled(ctx context.Context, db *ent.Client, userID pulid.ID) error {
	has, err := db.Authenticator.Query().Where(authenticator.UserRef(userID), authenticator.Confirmed(true)).Exist(sys(ctx))
	if err != nil {
		return fmt.Errorf("passkeys: reading authenticators: %w", err)
	}
	if has {
		return mfa.ErrAlreadyEnrolled
	}
	return nil
}

func (s *Service) finishRegistration(ctx context.Context, userID pulid.ID, binding, sealed string, response []byte, lc mfa.LoginContext, first bool) (*Registered, error) {
	if err := s.requireEnabled(ctx); err != nil {
		return nil, err
	}
	if first {
		if err := s.refuseEnrolled(ctx, s.cfg.DB, userID); err != nil {
			return nil, err
		}
	}
	st, err := s.open(purposeRegister, binding, sealed)
	if err != nil {
		return nil, err
	}
	if st.User != string(userID) {
		return nil, fmt.Errorf("%w: state of another user", ErrCeremony)
	}
	parsed, err := parseCreation(response)
	if err != nil {
		return nil, err
	}
	w, err := s.loadUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	cred, err := s.wa.CreateCredential(w, st.Session, parsed)
	if err != nil {
		s.logFailure(ctx, w.u, lc, "Security key registration refused", err)
		return nil, fmt.Errorf("%w: %v", ErrCeremony, err)
	}
	name := NameSecurityKey
	if st.Passkey {
		name = NamePasskey
	}
	transports := make([]string, 0, len(cred.Transport))
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	id := pulid.MustNew("mfa_")
	store := func(db *ent.Client) error {
		return db.Authenticator.Create().SetID(id).SetUserRef(userID).SetType(authenticator.TypeWebauthn).
			SetName(name).SetConfirmed(true).
			SetCredentialID(cred.ID).SetPublicKey(cred.PublicKey).SetSignCount(int64(cred.Authenticator.SignCount)).
			SetAaguid(cred.Authenticator.AAGUID).SetTransports(transports).
			SetBackupEligible(cred.Flags.BackupEligible).SetBackupState(cred.Flags.BackupState).
			Exec(sys(ctx))
	}
	if first {
		// Again in the transaction that stores it: a factor confirmed
		// meanwhile (an authenticator app, another key) wins.
		err = s.inTx(ctx, func(tx *ent.Client) error {
			if err := mfa.LockUser(ctx, tx, entstore.Of(s.cfg.DB).Postgres(), userID); err != nil {
				return err
			}
			if err := s.refuseEnrolled(ctx, tx, userID); err != nil {
				return err
			}
			return store(tx)
		})
	} else {
		err = store(s.cfg.DB)
	}
	if errors.Is(err, mfa.ErrAlreadyEnrolled) {
		return nil, err
	}
	if ent.IsConstraintError(err) {
		// The credential is registered already (this answer was sent
		// before, or the authenticator is another user's).
		return nil, fmt.Errorf("%w: credential already registered", ErrCeremony)
	}
	if err != nil {
		return nil, fmt.Errorf("passkeys: storing a credential: %w", err)
	}
	e := event(logs.TypeMFAEnrollmentComplete, name+" enrolled", w.u, lc)
	e.Details = map[string]any{"authenticator_id": string(id), "authenticator_type": string(mfa.FactorWebAuthn),
		"passkey": st.Passkey, "backup_eligible": cred.Flags.BackupEligible}
	s.log(ctx, e)
	return &Registered{AuthenticatorID: string(id), Name: name, Passkey: st.Passkey,
		AMR: amrOf(cred.Flags.BackupEligible, cred.Flags.UserVerified)}, nil
}

// inTx runs fn in a transaction.
func (s *Service) inTx(ctx context.Context, fn func(tx *ent.Client) error) error {
	tx, err := s.cfg.DB.Tx(sys(ctx))
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// event is a log event about u during lc.
func event(typ, desc string, u *ent.User, lc mfa.LoginContext) logs.Event {
	e := logs.Event{Type: typ, Description: desc, ClientID: lc.ClientID, ClientName: lc.ClientName, Connection: lc.Connection}
	if u != nil {
		e.UserID = u.UserID
		if u.Email != nil {
			e.UserName = *u.Email
		}
	}
	return e
}

// log writes a tenant log event; a failure to write is the server log's
// business, not the user's.
func (s *Service) log(ctx context.Context, e logs.Event) {
	if err := logs.Write(ctx, s.cfg.DB, e); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "passkeys: writing a log event", "type", e.Type, "err", err)
	}
}

// logFailure logs a refused answer (gd_auth_failed) with go-webauthn's
// reason, which names no secret.
func (s *Service) logFailure(ctx context.Context, u *ent.User, lc mfa.LoginContext, desc string, err error) {
	e := event(logs.TypeMFAAuthFailed, desc, u, lc)
	reason := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		reason = pe.Details
	}
	e.Details = map[string]any{"authenticator_type": string(mfa.FactorWebAuthn), "reason": reason}
	s.log(ctx, e)
}
