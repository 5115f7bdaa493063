// Package apis registers resource servers: the APIs access tokens are issued
// for (the `audience` of a token request). The management API is a built-in
// one whose identifier follows the issuer.
package apis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/resourceserver"
)

// Limits.
const (
	DefaultTokenLifetime = 86400
	MinTokenLifetime     = 60
	MaxTokenLifetime     = 30 * 86400
	maxScopes            = 500
	// MaxIntrospectionClients bounds an API's introspection clients.
	MaxIntrospectionClients = 20
)

// Errors.
var (
	ErrInvalid = errors.New("invalid resource server")
	ErrSystem  = errors.New("the built-in management API cannot be changed or deleted")
	ErrTaken   = errors.New("a resource server with this identifier already exists")
)

// ManagementAPIName names the built-in management API.
const ManagementAPIName = "Authgraph Management API"

// Scope is one permission an API defines.
type Scope = map[string]string

var scopeValue = regexp.MustCompile(`^[A-Za-z0-9:_.\-/]{1,280}$`)

// Params describe an API; nil pointers are left alone on update.
type Params struct {
	Identifier         string
	Name               *string
	Scopes             []Scope
	AllowOfflineAccess *bool
	TokenLifetime      *int
	// EnforcePolicies turns RBAC on (package rbac decides the scopes).
	EnforcePolicies *bool
	// TokenDialect is one of TokenDialects.
	TokenDialect *string
	// IntrospectionClients are client_ids allowed to introspect this API's
	// access tokens besides each token's own client.
	IntrospectionClients []string
	// SigningAlg is one of SigningAlgorithms.
	SigningAlg *string
}

// SigningAlgorithms are the JWS algorithms an API's access tokens can be
// signed with (ID tokens are RS256 whatever the API).
var SigningAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// TokenDialects are Auth0's access-token dialects; the _authz ones add a
// permissions claim and need EnforcePolicies.
var TokenDialects = []string{"access_token", "access_token_authz", "rfc9068_profile", "rfc9068_profile_authz"}

func validate(p *Params, creating bool) error {
	if creating {
		u, err := url.Parse(p.Identifier)
		if err != nil || u.Scheme == "" || len(p.Identifier) > 600 || strings.ContainsAny(p.Identifier, " \t\n") {
			return fmt.Errorf("%w: identifier must be an absolute URI (https://api.example.com/ or urn:…) of at most 600 characters", ErrInvalid)
		}
	}
	if p.Name != nil && (strings.TrimSpace(*p.Name) == "" || len(*p.Name) > 200) {
		return fmt.Errorf("%w: name must be 1 to 200 characters", ErrInvalid)
	}
	if len(p.Scopes) > maxScopes {
		return fmt.Errorf("%w: at most %d scopes", ErrInvalid, maxScopes)
	}
	seen := map[string]bool{}
	for _, s := range p.Scopes {
		v := s["value"]
		if !scopeValue.MatchString(v) || v == "openid" || v == "offline_access" {
			return fmt.Errorf("%w: scope %q must be 1-280 characters of letters, digits and :_.-/ (and not an OIDC scope)", ErrInvalid, v)
		}
		if seen[v] {
			return fmt.Errorf("%w: scope %q is listed twice", ErrInvalid, v)
		}
		seen[v] = true
	}
	if p.TokenLifetime != nil && (*p.TokenLifetime < MinTokenLifetime || *p.TokenLifetime > MaxTokenLifetime) {
		return fmt.Errorf("%w: tokenLifetime must be %d to %d seconds", ErrInvalid, MinTokenLifetime, MaxTokenLifetime)
	}
	if p.TokenDialect != nil && !slices.Contains(TokenDialects, *p.TokenDialect) {
		return fmt.Errorf("%w: tokenDialect must be one of %s", ErrInvalid, strings.Join(TokenDialects, ", "))
	}
	if p.SigningAlg != nil && !slices.Contains(SigningAlgorithms, *p.SigningAlg) {
		return fmt.Errorf("%w: signingAlg must be one of %s", ErrInvalid, strings.Join(SigningAlgorithms, ", "))
	}
	if len(p.IntrospectionClients) > MaxIntrospectionClients {
		return fmt.Errorf("%w: at most %d introspection clients", ErrInvalid, MaxIntrospectionClients)
	}
	for i, c := range p.IntrospectionClients {
		if slices.Contains(p.IntrospectionClients[:i], c) {
			return fmt.Errorf("%w: introspection client %q is listed twice", ErrInvalid, c)
		}
	}
	return nil
}

// checkState checks what an API becomes: an _authz dialect puts the user's
// permissions in the token, which only means something when RBAC decides
// them (Auth0 refuses it otherwise too).
func checkState(enforce bool, dialect string) error {
	if strings.HasSuffix(dialect, "_authz") && !enforce {
		return fmt.Errorf("%w: tokenDialect %s needs enforcePolicies: the permissions claim lists RBAC permissions", ErrInvalid, dialect)
	}
	return nil
}

// checkClients refuses introspection clients that do not exist.
func checkClients(ctx context.Context, db *ent.Client, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	found, err := db.Application.Query().Where(application.ClientIDIn(ids...)).
		Select(application.FieldClientID).Strings(authz.SystemContext(ctx))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !slices.Contains(found, id) {
			return fmt.Errorf("%w: introspection client %q does not exist", ErrInvalid, id)
		}
	}
	return nil
}

// Create registers an API.
func Create(ctx context.Context, db *ent.Client, issuer string, p Params) (*ent.ResourceServer, error) {
	if err := validate(&p, true); err != nil {
		return nil, err
	}
	if p.Identifier == authz.ManagementAudience(issuer) {
		return nil, ErrTaken
	}
	if p.Name == nil {
		return nil, fmt.Errorf("%w: name is required", ErrInvalid)
	}
	enforce, dialect := p.EnforcePolicies != nil && *p.EnforcePolicies, string(resourceserver.DefaultTokenDialect)
	if p.TokenDialect != nil {
		dialect = *p.TokenDialect
	}
	if err := checkState(enforce, dialect); err != nil {
		return nil, err
	}
	if err := checkClients(ctx, db, p.IntrospectionClients); err != nil {
		return nil, err
	}
	c := db.ResourceServer.Create().SetIdentifier(p.Identifier).SetName(*p.Name).
		SetScopes(nonNil(p.Scopes)).SetTokenLifetime(DefaultTokenLifetime).
		SetEnforcePolicies(enforce).SetTokenDialect(resourceserver.TokenDialect(dialect)).
		SetIntrospectionClients(nonNilStrings(p.IntrospectionClients))
	if p.AllowOfflineAccess != nil {
		c.SetAllowOfflineAccess(*p.AllowOfflineAccess)
	}
	if p.TokenLifetime != nil {
		c.SetTokenLifetime(*p.TokenLifetime)
	}
	if p.SigningAlg != nil {
		c.SetSigningAlg(*p.SigningAlg)
	}
	rs, err := c.Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, ErrTaken
	}
	return rs, err
}

// Update changes an API; the built-in one refuses. Scopes it no longer
// declares are taken from every role and user holding them
// (PrunePermissions), in db's transaction when db is one.
func Update(ctx context.Context, db *ent.Client, rs *ent.ResourceServer, p Params) (*ent.ResourceServer, error) {
	if rs.System {
		return nil, ErrSystem
	}
	if err := validate(&p, false); err != nil {
		return nil, err
	}
	enforce, dialect := rs.EnforcePolicies, string(rs.TokenDialect)
	if p.EnforcePolicies != nil {
		enforce = *p.EnforcePolicies
	}
	if p.TokenDialect != nil {
		dialect = *p.TokenDialect
	}
	if err := checkState(enforce, dialect); err != nil {
		return nil, err
	}
	if err := checkClients(ctx, db, p.IntrospectionClients); err != nil {
		return nil, err
	}
	u := db.ResourceServer.UpdateOne(rs).SetEnforcePolicies(enforce).SetTokenDialect(resourceserver.TokenDialect(dialect))
	if p.IntrospectionClients != nil {
		u.SetIntrospectionClients(p.IntrospectionClients)
	}
	if p.Name != nil {
		u.SetName(*p.Name)
	}
	if p.Scopes != nil {
		u.SetScopes(p.Scopes)
		keep := make([]string, len(p.Scopes))
		for i, s := range p.Scopes {
			keep[i] = s["value"]
		}
		if err := PrunePermissions(ctx, db, rs, keep); err != nil {
			return nil, err
		}
	}
	if p.AllowOfflineAccess != nil {
		u.SetAllowOfflineAccess(*p.AllowOfflineAccess)
	}
	if p.TokenLifetime != nil {
		u.SetTokenLifetime(*p.TokenLifetime)
	}
	if p.SigningAlg != nil {
		u.SetSigningAlg(*p.SigningAlg)
	}
	return u.Save(ctx)
}

// Delete removes an API; the built-in one refuses.
func Delete(ctx context.Context, db *ent.Client, rs *ent.ResourceServer) error {
	if rs.System {
		return ErrSystem
	}
	return db.ResourceServer.DeleteOne(rs).Exec(ctx)
}

// EnsureManagementAPI makes the built-in management API match the issuer:
// the identifier is {issuer}api/v2/ and its scopes are the management and
// self-service scopes. Run at start-up, as the system.
func EnsureManagementAPI(ctx context.Context, db *ent.Client, issuer string) error {
	sys := authz.SystemContext(ctx)
	identifier := authz.ManagementAudience(issuer)
	var scopes []Scope
	for _, s := range authz.ManagementScopes() {
		scopes = append(scopes, Scope{"value": s, "description": ""})
	}
	for _, s := range authz.SelfServiceScopes {
		scopes = append(scopes, Scope{"value": s, "description": "self-service"})
	}
	// An issuer change leaves a stale built-in API behind: replace it.
	if _, err := db.ResourceServer.Delete().
		Where(resourceserver.System(true), resourceserver.IdentifierNEQ(identifier)).Exec(sys); err != nil {
		return err
	}
	existing, err := db.ResourceServer.Query().Where(resourceserver.Identifier(identifier)).Only(sys)
	switch {
	case ent.IsNotFound(err):
		return db.ResourceServer.Create().SetIdentifier(identifier).SetName(ManagementAPIName).
			SetScopes(scopes).SetSystem(true).SetTokenLifetime(DefaultTokenLifetime).Exec(sys)
	case err != nil:
		return err
	}
	return db.ResourceServer.UpdateOne(existing).SetScopes(scopes).SetSystem(true).Exec(sys)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNil(s []Scope) []Scope {
	if s == nil {
		return []Scope{}
	}
	return s
}
