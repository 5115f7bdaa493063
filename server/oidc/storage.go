package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/signingkey"
)

// DefaultAccessTokenLifetime is the access token lifetime (86,400 s, as
// Auth0's default for APIs).
const DefaultAccessTokenLifetime = 86400 * time.Second

// GrantTypeClientCredentialsClaim is the `gty` claim of client_credentials
// access tokens (Auth0's spelling).
const GrantTypeClientCredentialsClaim = "client-credentials"

// ClientSubjectSuffix makes a machine token's `sub`: "<client_id>@clients",
// as Auth0 does, so it can never collide with a user_id ("provider|id").
const ClientSubjectSuffix = "@clients"

// ErrNotImplemented is wrapped by every op.Storage method whose flow op
// does not serve here. Such methods are unreachable through Provider's routes; the
// error makes any accidental call fail loudly instead of faking success.
var ErrNotImplemented = errors.New("server/oidc: not implemented yet")

// storage implements op.Storage on ent for the one flow op serves: the
// client_credentials grant.
//
// Every error handed back to op is an *oidc.Error: op turns any other error
// into a server_error whose description is the error text, which could leak
// internals.
type storage struct {
	db                  *ent.Client
	clients             *clients.Cache
	keys                *KeySet
	log                 *slog.Logger
	managementAudience  string
	accessTokenLifetime time.Duration
	now                 func() time.Time
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

// serverError logs err and returns a server_error that says nothing about it.
func (s *storage) serverError(ctx context.Context, what string, err error) *oidc.Error {
	s.log.ErrorContext(ctx, "oidc: "+what, slog.Any("error", err))
	return oidc.ErrServerError().WithParent(err).WithDescription("internal error")
}

// errInvalidClient is the plain error op wraps into invalid_client; it is
// the same for unknown clients and wrong secrets.
var errInvalidClient = clients.ErrInvalidClient

// clientCredentialsRequest is the op.TokenRequest of a client_credentials
// grant, checked and complete.
type clientCredentialsRequest struct {
	clientID string
	audience []string
	scopes   []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID + ClientSubjectSuffix }
func (r *clientCredentialsRequest) GetAudience() []string { return r.audience }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }

// --- client_credentials ---------------------------------------------------

// ClientCredentials authenticates a confidential client (constant time,
// identical failure for unknown clients and wrong secrets). op then checks
// the grant type against client.GrantTypes.
func (s *storage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	app, err := s.clients.Authenticate(ctx, clientID, clientSecret)
	if err != nil {
		if errors.Is(err, clients.ErrInvalidClient) {
			return nil, errInvalidClient
		}
		return nil, s.serverError(ctx, "authenticating a client", err)
	}
	if st := tokenStateFrom(ctx); st != nil {
		st.app = app
	}
	return &client{app: app}, nil
}

// ClientCredentialsTokenRequest decides the audience and scopes of a
// client_credentials token for an authenticated client:
//   - audience: omitted means the management API; any other value is
//     invalid_target (RFC 8707) until resource servers exist;
//   - scope: omitted means every scope the client may be granted (none at
//     all is access_denied); a requested scope outside them is invalid_scope.
func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	st := tokenStateFrom(ctx)
	var app *ent.Application
	if st != nil && st.app != nil && st.app.ClientID == clientID {
		app = st.app
	} else {
		var err error
		app, err = s.clients.Get(ctx, clientID)
		if err != nil {
			return nil, s.serverError(ctx, "loading a client", err)
		}
		if app == nil {
			return nil, oidc.ErrInvalidClient()
		}
	}
	if st != nil {
		for _, a := range st.audiences {
			if a != s.managementAudience {
				return nil, oidc.ErrInvalidTarget().WithDescription(
					"unknown audience: the only API is the management API %s", s.managementAudience)
			}
		}
	}
	grantable := clients.GrantableScopes(app)
	var granted []string
	if len(scopes) == 0 {
		if len(grantable) == 0 {
			return nil, oidc.ErrAccessDenied().WithDescription("the client may not be granted any scope of the management API")
		}
		granted = grantable
	} else {
		for _, sc := range scopes {
			if sc == "" || slices.Contains(granted, sc) {
				continue
			}
			if !slices.Contains(grantable, sc) {
				return nil, oidc.ErrInvalidScope().WithDescription("a requested scope is unknown or not granted to this client")
			}
			granted = append(granted, sc)
		}
		if len(granted) == 0 {
			return nil, oidc.ErrInvalidScope().WithDescription("empty scope")
		}
	}
	return &clientCredentialsRequest{
		clientID: app.ClientID,
		audience: []string{s.managementAudience},
		scopes:   granted,
	}, nil
}

// CreateAccessToken returns a fresh token id (the JWT's jti) and expiry.
// JWT access tokens are not stored: they are verified by signature, and
// machine tokens have nothing to revoke them by yet.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	switch req.(type) {
	case *clientCredentialsRequest:
		return newTokenID(), s.now().UTC().Add(s.accessTokenLifetime), nil
	default:
		return "", time.Time{}, fmt.Errorf("%w: access tokens for %T", ErrNotImplemented, req)
	}
}

// GetPrivateClaimsFromRequest adds what op's access token claims lack:
// `scope` as a space-separated string (op sets none for client_credentials),
// `azp` (Auth0) and `gty`. op already sets iss, sub, aud, exp, iat, nbf, jti
// and client_id; registered claims win over these on a name clash.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	switch r := req.(type) {
	case *clientCredentialsRequest:
		return map[string]any{
			"scope": strings.Join(r.scopes, " "),
			"azp":   r.clientID,
			"gty":   GrantTypeClientCredentialsClaim,
		}, nil
	default:
		return nil, fmt.Errorf("%w: claims for %T", ErrNotImplemented, req)
	}
}

// GetPrivateClaimsFromScopes is superseded by GetPrivateClaimsFromRequest,
// which op prefers when implemented.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, fmt.Errorf("%w: GetPrivateClaimsFromScopes (GetPrivateClaimsFromRequest is used)", ErrNotImplemented)
}

// newTokenID returns 128 random bits, base64url.
func newTokenID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// --- clients ----------------------------------------------------------------

// GetClientByClientID loads a client; unknown is a plain error (op answers
// invalid_client), a database fault a server_error.
func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	app, err := s.clients.Get(ctx, clientID)
	if err != nil {
		return nil, s.serverError(ctx, "loading a client", err)
	}
	if app == nil {
		return nil, errInvalidClient
	}
	return &client{app: app}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, clientSecret string) error {
	_, err := s.clients.Authenticate(ctx, clientID, clientSecret)
	if err != nil && !errors.Is(err, clients.ErrInvalidClient) {
		return s.serverError(ctx, "authenticating a client", err)
	}
	return err
}

// --- keys -------------------------------------------------------------------

// SigningKey returns the active RS256 key.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.keys.Signer(ctx)
	if err != nil {
		return nil, s.serverError(ctx, "loading the signing key", err)
	}
	return k, nil
}

// SignatureAlgorithms lists the algorithms of our keys: RS256 only.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet returns the JWKS keys (active and recently retired).
func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.keys.PublicKeys(ctx)
	if err != nil {
		return nil, s.serverError(ctx, "loading the public keys", err)
	}
	return keys, nil
}

// Health checks that the database answers.
func (s *storage) Health(ctx context.Context) error {
	_, err := s.db.SigningKey.Query().Where(signingkey.RetiredAtIsNil()).Exist(authz.SystemContext(ctx))
	return err
}
