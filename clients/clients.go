// Package clients registers applications (OAuth clients) and authenticates
// them. Secrets are 256 bits from crypto/rand, shown once, stored as SHA-256
// and compared in constant time: with that entropy a slow password hash adds
// no protection and would cap token issuance.
package clients

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
)

// Errors owned by this package; the edges translate them.
var (
	// ErrInvalidClient covers unknown clients and wrong secrets alike, so the
	// answer never tells which.
	ErrInvalidClient = errors.New("invalid client credentials")
	// ErrInvalid wraps every rejected parameter.
	ErrInvalid = errors.New("invalid client parameters")
	// ErrSystemClient is returned for edits of built-in clients.
	ErrSystemClient = errors.New("built-in clients cannot be changed")
)

// Types of client.
const (
	TypeM2M        = "m2m"
	TypeSPA        = "spa"
	TypeRegularWeb = "regular_web"
	TypeNative     = "native"
)

// minSecretLen is the shortest secret accepted from an operator
// (AUTHGRAPH_ADMIN_CLIENT_SECRET): 32 characters.
const minSecretLen = 32

// Params describe a client to create.
type Params struct {
	Name         string
	Type         string
	RedirectURIs []string
	LogoutURLs   []string
	WebOrigins   []string
	// Scopes are the management scopes the client may be granted.
	Scopes []string
	// AllScopes grants every management scope, present and future.
	AllScopes bool
	System    bool
	// ClientID and Secret are generated when empty.
	ClientID string
	Secret   string
	// Lifetimes, in seconds; 0 keeps the server default.
	Lifetimes Lifetimes
	// Metadata is client_metadata (rules see it as event.client.metadata).
	Metadata map[string]string
}

// validateMetadata applies Auth0's client_metadata limits.
func validateMetadata(m map[string]string) error {
	if len(m) > 10 {
		return fmt.Errorf("%w: clientMetadata holds at most 10 keys", ErrInvalid)
	}
	for k, v := range m {
		if k == "" || len(k) > 255 || len(v) > 255 {
			return fmt.Errorf("%w: clientMetadata keys must be 1-255 characters and values at most 255", ErrInvalid)
		}
	}
	return nil
}

// Lifetimes are a client's token lifetime overrides, in seconds (0: default).
type Lifetimes struct {
	IDToken, RefreshIdle, Refresh *int
}

// maxLifetime bounds every override (one year).
const maxLifetime = 365 * 86400

func (l Lifetimes) validate() error {
	for name, v := range map[string]*int{"idTokenLifetime": l.IDToken, "refreshTokenIdleLifetime": l.RefreshIdle, "refreshTokenLifetime": l.Refresh} {
		if v != nil && (*v < 0 || *v > maxLifetime) {
			return fmt.Errorf("%w: %s must be 0 (default) to %d seconds", ErrInvalid, name, maxLifetime)
		}
	}
	if l.RefreshIdle != nil && l.Refresh != nil && *l.Refresh > 0 && *l.RefreshIdle > *l.Refresh {
		return fmt.Errorf("%w: refreshTokenIdleLifetime cannot exceed refreshTokenLifetime", ErrInvalid)
	}
	return nil
}

// Created is a new client and its secret, which is never shown again.
type Created struct {
	Client *ent.Application
	Secret string // empty for public clients (spa, native)
}

// IsConfidential reports whether clients of type t hold a secret.
func IsConfidential(t string) bool { return t == TypeM2M || t == TypeRegularWeb }

// DefaultGrantTypes returns the grant types a new client of type t gets.
func DefaultGrantTypes(t string) []string {
	switch t {
	case TypeM2M:
		return []string{"client_credentials"}
	case TypeRegularWeb:
		return []string{"authorization_code", "refresh_token", "client_credentials"}
	default:
		return []string{"authorization_code", "refresh_token"}
	}
}

// Validate checks p and fills its defaults.
func (p *Params) Validate() error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 128 {
		return fmt.Errorf("%w: name must be 1 to 128 characters", ErrInvalid)
	}
	switch p.Type {
	case TypeM2M, TypeSPA, TypeRegularWeb, TypeNative:
	default:
		return fmt.Errorf("%w: type must be one of m2m, spa, regular_web, native", ErrInvalid)
	}
	if err := validateURIs(p.RedirectURIs, p.LogoutURLs, p.WebOrigins); err != nil { // redirecturi.go
		return err
	}
	for _, s := range p.Scopes {
		if !authz.IsManagementScope(s) {
			return fmt.Errorf("%w: unknown scope %q", ErrInvalid, s)
		}
	}
	if err := p.Lifetimes.validate(); err != nil {
		return err
	}
	if err := validateMetadata(p.Metadata); err != nil {
		return err
	}
	if p.Secret != "" && len(p.Secret) < minSecretLen {
		return fmt.Errorf("%w: a client secret must be at least %d characters", ErrInvalid, minSecretLen)
	}
	return nil
}

// Create registers a client with the caller's authority (ctx's viewer),
// which must hold every management scope the new client may be granted.
func Create(ctx context.Context, db *ent.Client, p Params) (*Created, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	granted := p.Scopes
	if p.AllScopes || p.System {
		granted = authz.ManagementScopes()
	}
	if err := authz.RequireHeld(ctx, granted, ""); err != nil {
		return nil, err
	}
	if p.ClientID == "" {
		p.ClientID = randomToken(16)
	}
	secret := ""
	var hash []byte
	if IsConfidential(p.Type) {
		secret = p.Secret
		if secret == "" {
			secret = randomToken(32)
		}
		hash = HashSecret(secret)
	}
	create := db.Application.Create()
	if hash != nil {
		create.SetSecretHash(hash)
	}
	app, err := create.
		SetClientID(p.ClientID).
		SetName(p.Name).
		SetType(application.Type(p.Type)).
		SetRedirectUris(nonNil(p.RedirectURIs)).
		SetLogoutUrls(nonNil(p.LogoutURLs)).
		SetWebOrigins(nonNil(p.WebOrigins)).
		SetGrantTypes(DefaultGrantTypes(p.Type)).
		SetManagementScopes(nonNil(p.Scopes)).
		SetAllManagementScopes(p.AllScopes).
		SetSystem(p.System).
		SetNillableIDTokenLifetime(p.Lifetimes.IDToken).
		SetNillableRefreshTokenIdleLifetime(p.Lifetimes.RefreshIdle).
		SetNillableRefreshTokenLifetime(p.Lifetimes.Refresh).
		SetMetadata(nonNilMap(p.Metadata)).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if p.Type != TypeM2M && !p.System {
		if err := enableOnAllConnections(ctx, db, app.ClientID); err != nil {
			return nil, err
		}
	}
	return &Created{Client: app, Secret: secret}, nil
}

// enableOnAllConnections lets a new interactive client use every existing
// connection, as Auth0 does for new applications; administrators narrow it
// with updateConnection(enabledClients). Part of the create:clients write.
func enableOnAllConnections(ctx context.Context, db *ent.Client, clientID string) error {
	sys := authz.SystemContext(ctx)
	conns, err := db.Connection.Query().All(sys)
	if err != nil {
		return err
	}
	for _, c := range conns {
		if slices.Contains(c.EnabledClients, clientID) {
			continue
		}
		if err := db.Connection.UpdateOne(c).AppendEnabledClients([]string{clientID}).Exec(sys); err != nil {
			return err
		}
	}
	return nil
}

// Power returns the management scopes whoever controls app can obtain: its
// grantable scopes, or every scope for built-in and all-scopes clients (the
// bootstrap admin client, the dashboard administrators sign in through).
func Power(app *ent.Application) []string {
	if app.System || app.AllManagementScopes {
		return authz.ManagementScopes()
	}
	return slices.Clone(app.ManagementScopes)
}

// RequireControl refuses (*authz.EscalationError) unless the caller holds
// every scope of Power(app): rotating the secret of, editing or deleting a
// client is taking or changing its power, so only a caller at least as
// powerful may do it.
func RequireControl(ctx context.Context, app *ent.Application) error {
	return authz.RequireHeld(ctx, Power(app), "client "+app.ClientID)
}

// RotateSecret gives a confidential client a new secret; the old one stops
// working at once, and so do the access tokens issued with it (the OpenID
// Provider binds each client_credentials token to the secret it was issued
// with). The caller must control the client (RequireControl).
func RotateSecret(ctx context.Context, db *ent.Client, app *ent.Application) (string, error) {
	if err := RequireControl(ctx, app); err != nil {
		return "", err
	}
	if !IsConfidential(string(app.Type)) {
		return "", fmt.Errorf("%w: %s clients have no secret", ErrInvalid, app.Type)
	}
	secret := randomToken(32)
	if err := db.Application.UpdateOne(app).SetSecretHash(HashSecret(secret)).Exec(ctx); err != nil {
		return "", err
	}
	return secret, nil
}

// dummyHash is compared against when the client is unknown, so both paths do
// the same work.
var dummyHash = HashSecret("authgraph-no-such-client")

// Authenticate returns the confidential client with this id and secret, or
// ErrInvalidClient. It runs as the system: the caller has no token yet.
func Authenticate(ctx context.Context, db *ent.Client, clientID, secret string) (*ent.Application, error) {
	app, err := db.Application.Query().Where(application.ClientID(clientID)).Only(authz.SystemContext(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	return checkSecret(app, secret)
}

// GrantableScopes returns the management scopes the client may be granted.
func GrantableScopes(app *ent.Application) []string {
	if app.AllManagementScopes {
		return authz.ManagementScopes()
	}
	return slices.Clone(app.ManagementScopes)
}

// HashSecret returns SHA-256 of a client secret.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Changes to a client; nil fields are left alone.
type Changes struct {
	Name                                         *string
	RedirectURIs, LogoutURLs, WebOrigins, Scopes []string
	Lifetimes                                    Lifetimes
	// Metadata, when non-nil, replaces client_metadata.
	Metadata map[string]string
}

// Update applies u to app. Built-in clients refuse every change; the caller
// must control app (RequireControl) and hold every scope u gives it.
func Update(ctx context.Context, db *ent.Client, app *ent.Application, u Changes) (*ent.Application, error) {
	if app.System {
		return nil, ErrSystemClient
	}
	if err := RequireControl(ctx, app); err != nil {
		return nil, err
	}
	p := Params{Name: app.Name, Type: string(app.Type), RedirectURIs: u.RedirectURIs, LogoutURLs: u.LogoutURLs,
		WebOrigins: u.WebOrigins, Scopes: u.Scopes, Lifetimes: u.Lifetimes, Metadata: u.Metadata}
	if u.Name != nil {
		p.Name = *u.Name
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := authz.RequireHeld(ctx, u.Scopes, ""); err != nil {
		return nil, err
	}
	upd := db.Application.UpdateOne(app).SetName(p.Name)
	if u.RedirectURIs != nil {
		upd.SetRedirectUris(u.RedirectURIs)
	}
	if u.LogoutURLs != nil {
		upd.SetLogoutUrls(u.LogoutURLs)
	}
	if u.WebOrigins != nil {
		upd.SetWebOrigins(u.WebOrigins)
	}
	if u.Scopes != nil {
		upd.SetManagementScopes(u.Scopes)
	}
	if u.Metadata != nil {
		upd.SetMetadata(u.Metadata)
	}
	upd.SetNillableIDTokenLifetime(u.Lifetimes.IDToken).
		SetNillableRefreshTokenIdleLifetime(u.Lifetimes.RefreshIdle).
		SetNillableRefreshTokenLifetime(u.Lifetimes.Refresh)
	return upd.Save(ctx)
}

// Delete removes a client; built-in clients refuse, and the caller must
// control app (RequireControl). Its access tokens stop working at once.
func Delete(ctx context.Context, db *ent.Client, app *ent.Application) error {
	if app.System {
		return ErrSystemClient
	}
	if err := RequireControl(ctx, app); err != nil {
		return err
	}
	return db.Application.DeleteOne(app).Exec(ctx)
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
