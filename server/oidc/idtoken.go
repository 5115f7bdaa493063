package oidc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/application"
)

// ErrInvalidIDToken is VerifyIDToken's refusal of a token: not an ID token
// this provider issued to one of its clients, or expired.
var ErrInvalidIDToken = errors.New("not a valid ID token of this issuer")

// VerifyIDToken checks an ID token presented to the management API (Auth0's
// account linking with link_with): signed by a key of this provider, its
// issuer, unexpired (within MaxLeeway), an ID token rather than an access
// token, and issued to a client of this tenant. It returns the token's
// subject, the user's user_id. Key-loading failures wrap
// ErrKeysUnavailable, not ErrInvalidIDToken.
func (p *Provider) VerifyIDToken(ctx context.Context, raw string) (string, error) {
	t, err := p.parseJWT(ctx, raw)
	if err != nil {
		if errors.Is(err, ErrKeysUnavailable) {
			return "", err
		}
		return "", ErrInvalidIDToken
	}
	if t.typ != typeIDToken {
		return "", ErrInvalidIDToken
	}
	exp, ok := t.num("exp")
	if !ok || time.Now().Add(-MaxLeeway).Unix() > exp {
		return "", fmt.Errorf("%w: expired", ErrInvalidIDToken)
	}
	auds := t.audiences()
	if len(auds) == 0 {
		return "", ErrInvalidIDToken
	}
	n, err := p.db.Application.Query().Where(application.ClientIDIn(auds...)).Count(authz.SystemContext(ctx))
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", fmt.Errorf("%w: audience is not a client of this tenant", ErrInvalidIDToken)
	}
	return t.str("sub"), nil
}
