package passkeys

import (
	"context"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authenticator"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

func sys(ctx context.Context) context.Context { return authz.SystemContext(ctx) }

// waUser is a user as go-webauthn sees it. The user handle is the user's
// node id (usr_…): stable, opaque, never an email address.
type waUser struct {
	u     *ent.User
	rows  []*ent.Authenticator
	creds []gowebauthn.Credential
}

func (w *waUser) WebAuthnID() []byte { return []byte(w.u.ID) }

func (w *waUser) WebAuthnName() string {
	switch {
	case w.u.Email != nil && *w.u.Email != "":
		return *w.u.Email
	case w.u.Username != nil && *w.u.Username != "":
		return *w.u.Username
	}
	return w.u.UserID
}

func (w *waUser) WebAuthnDisplayName() string {
	if w.u.Name != nil && *w.u.Name != "" {
		return *w.u.Name
	}
	return w.WebAuthnName()
}

func (w *waUser) WebAuthnCredentials() []gowebauthn.Credential { return w.creds }

// row returns the authenticator of credential id.
func (w *waUser) row(id []byte) *ent.Authenticator {
	for _, a := range w.rows {
		if a.CredentialID != nil && string(*a.CredentialID) == string(id) {
			return a
		}
	}
	return nil
}

// loadUser reads the user and their confirmed WebAuthn credentials.
func (s *Service) loadUser(ctx context.Context, userID pulid.ID) (*waUser, error) {
	u, err := s.cfg.DB.User.Get(sys(ctx), userID)
	if ent.IsNotFound(err) {
		return nil, ErrUnknownCredential
	}
	if err != nil {
		return nil, fmt.Errorf("passkeys: loading the user: %w", err)
	}
	rows, err := s.cfg.DB.Authenticator.Query().Where(authenticator.UserRef(userID),
		authenticator.TypeEQ(authenticator.TypeWebauthn), authenticator.Confirmed(true),
		authenticator.CredentialIDNotNil()).
		Order(ent.Asc(authenticator.FieldCreatedAt), ent.Asc(authenticator.FieldID)).All(sys(ctx))
	if err != nil {
		return nil, fmt.Errorf("passkeys: loading credentials: %w", err)
	}
	w := &waUser{u: u, rows: rows}
	for _, a := range rows {
		w.creds = append(w.creds, toCredential(a))
	}
	return w, nil
}

func toCredential(a *ent.Authenticator) gowebauthn.Credential {
	c := gowebauthn.Credential{
		ID: *a.CredentialID,
		Flags: gowebauthn.CredentialFlags{UserPresent: true, BackupEligible: a.BackupEligible,
			BackupState: a.BackupState},
		Authenticator: gowebauthn.Authenticator{SignCount: uint32(a.SignCount)},
	}
	if a.PublicKey != nil {
		c.PublicKey = *a.PublicKey
	}
	if a.Aaguid != nil {
		c.Authenticator.AAGUID = *a.Aaguid
	}
	for _, t := range a.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}
