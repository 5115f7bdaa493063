package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
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

// storage implements op.Storage, which op.Provider requires, on ent. op
// serves no endpoint any more (client_credentials is client_credentials.go),
// so only the client and key lookups answer; flow methods return
// ErrNotImplemented.
//
// Every error handed back to op is an *oidc.Error: op turns any other error
// into a server_error whose description is the error text, which could leak
// internals.
type storage struct {
	db      *ent.Client
	clients *clients.Cache
	keys    *KeySet
	log     *slog.Logger
}

var _ op.Storage = (*storage)(nil)

// serverError logs err and returns a server_error that says nothing about it.
func (s *storage) serverError(ctx context.Context, what string, err error) *oidc.Error {
	s.log.ErrorContext(ctx, "oidc: "+what, slog.Any("error", err))
	return oidc.ErrServerError().WithParent(err).WithDescription("internal error")
}

// errInvalidClient is the plain error op wraps into invalid_client; it is
// the same for unknown clients and wrong secrets.
var errInvalidClient = clients.ErrInvalidClient

// CreateAccessToken is not used: every token is issued by Provider.
func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	return "", time.Time{}, fmt.Errorf("%w: access tokens for %T", ErrNotImplemented, req)
}

// GetPrivateClaimsFromScopes is not used: every token is issued by Provider.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, fmt.Errorf("%w: GetPrivateClaimsFromScopes", ErrNotImplemented)
}

// newTokenID returns 128 random bits, base64url.
func newTokenID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
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
