package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
)

// Machine (client_credentials) tokens live no longer than their client and
// its secret. Each token's jti carries a binding to the client's secret as
// it was at issuance: "c." + base64url(HMAC-SHA256(key, client_id ‖
// secret_hash))[:11] + random. A token is refused once its client is deleted
// or its secret rotated (the binding no longer matches the stored hash),
// and its scopes are cut to those the client may still be granted. The
// check reads the client from clients.Cache: no database access on the hot
// path; a change made through this process applies at once, one made on
// another node within clients.CacheTTL. The binding is an HMAC under a key
// derived from the master key (so the same on every node), never the hash
// itself, so a token does not help guess an operator-chosen secret.

// machineJTIPrefix marks a jti carrying a secret binding; it never looks like
// a grant jti ("grt_….…").
const machineJTIPrefix = "c."

// bindingLen is the length of the encoded binding (64 bits).
const bindingLen = 11

// machineTokens issues and checks the secret binding of machine tokens.
type machineTokens struct {
	// keys: the current key, then those derived from previous master keys
	// (a master key rotation must not end live machine tokens).
	keys    [][]byte
	clients *clients.Cache
}

// binding returns the encoded binding of app's current secret.
func (m *machineTokens) binding(app *ent.Application) string {
	return m.bindingWith(m.keys[0], app)
}

// bound reports whether b is the binding of app's current secret under any
// key.
func (m *machineTokens) bound(b string, app *ent.Application) bool {
	for _, k := range m.keys {
		if subtle.ConstantTimeCompare([]byte(b), []byte(m.bindingWith(k, app))) == 1 {
			return true
		}
	}
	return false
}

func (m *machineTokens) bindingWith(key []byte, app *ent.Application) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(app.ClientID))
	mac.Write([]byte{0})
	if app.SecretHash != nil {
		mac.Write(*app.SecretHash)
	}
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))[:bindingLen]
}

// jti returns a new jti for a machine token of app.
func (m *machineTokens) jti(app *ent.Application) string {
	return machineJTIPrefix + m.binding(app) + newTokenID()
}

// client returns the live client of a machine token, nil when the client
// was deleted or its secret rotated since the token was issued. iat is the
// token's issue time (Unix seconds, 0 when absent).
func (m *machineTokens) client(ctx context.Context, clientID, jti string, iat int64) (*ent.Application, error) {
	app, err := m.clients.Get(ctx, clientID)
	if err != nil || app == nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(jti, machineJTIPrefix); ok {
		if len(rest) < bindingLen || !m.bound(rest[:bindingLen], app) {
			return nil, nil
		}
		return app, nil
	}
	// A token issued before jtis carried the binding: good only if the
	// client has not changed since (a rotation updates it). Such tokens are
	// gone one access token lifetime after the upgrade.
	if iat == 0 || iat <= app.UpdatedAt.Unix() {
		return nil, nil
	}
	return app, nil
}

// exists reports whether the client of a user token still exists.
func (m *machineTokens) exists(ctx context.Context, clientID string) (bool, error) {
	app, err := m.clients.Get(ctx, clientID)
	return app != nil, err
}

// narrow returns the scopes of a machine token that its client may still be
// granted (a client whose scopes were reduced loses them at once).
func narrow(app *ent.Application, scopes []string) []string {
	grantable := grantableScopes(app)
	return slices.DeleteFunc(scopes, func(s string) bool { return !slices.Contains(grantable, s) })
}

// machineTokenActive reports whether a client_credentials token with these
// claims is still good: its client exists and its secret has not been
// rotated since. Introspection calls it; the management API's Verifier does
// the same check.
func (p *Provider) machineTokenActive(ctx context.Context, clientID, jti string, iat int64) (bool, error) {
	app, err := p.verifier.machines.client(ctx, clientID, jti, iat)
	return app != nil, err
}
