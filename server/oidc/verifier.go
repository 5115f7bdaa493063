package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authgraph/authgraph/authz"
)

// Errors of Verify. Every rejection wraps ErrInvalidToken (answer 401
// UNAUTHENTICATED); the more specific sentinels say why, for logs and tests.
// None of them ever contains the token.
var (
	ErrInvalidToken     = errors.New("invalid access token")
	ErrMalformedToken   = fmt.Errorf("%w: malformed", ErrInvalidToken)
	ErrTokenAlgorithm   = fmt.Errorf("%w: signature algorithm not accepted (RS256 only)", ErrInvalidToken)
	ErrTokenKey         = fmt.Errorf("%w: unknown signing key", ErrInvalidToken)
	ErrTokenSignature   = fmt.Errorf("%w: bad signature", ErrInvalidToken)
	ErrTokenIssuer      = fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	ErrTokenAudience    = fmt.Errorf("%w: audience is not the management API", ErrInvalidToken)
	ErrTokenExpired     = fmt.Errorf("%w: expired", ErrInvalidToken)
	ErrTokenNotYetValid = fmt.Errorf("%w: not valid yet", ErrInvalidToken)
	ErrTokenRevoked     = fmt.Errorf("%w: revoked", ErrInvalidToken)
	// ErrKeysUnavailable is a server fault (the signing keys could not be
	// loaded), not a bad token: answer 503, not 401.
	ErrKeysUnavailable = errors.New("signing keys unavailable")
	// ErrGrantsUnavailable is a server fault too: a user token's grant
	// could not be checked.
	ErrGrantsUnavailable = errors.New("token grants unavailable")
)

// MaxLeeway bounds Verifier.Leeway: clock skew tolerated on exp, nbf, iat.
const MaxLeeway = 30 * time.Second

// maxTokenBytes bounds the tokens Verify parses (ours are under 1 KiB).
const maxTokenBytes = 8 << 10

// Verifier checks management API access tokens (JWT, RS256) on every
// /graphql request (machine tokens and users' self-service tokens): the signature by a key of the KeySet (found by kid, in
// memory), `iss` equal to the issuer, `aud` containing the management API
// identifier, `exp`/`nbf`/`iat` within Leeway. op.VerifyAccessToken does not
// check `aud`; this does. It needs no database access while the kid is
// cached. Safe for concurrent use.
type Verifier struct {
	verified verifiedCache
	// Leeway is the clock skew tolerated (default and maximum MaxLeeway).
	Leeway time.Duration

	issuer   string
	audience string
	keys     *KeySet
	now      func() time.Time
	// grants, when set (Provider.Verifier), refuses user tokens whose
	// grant was revoked.
	grants *grantChecker
	// opaque, when set (Provider.Verifier), recognises the provider's
	// opaque /userinfo tokens, to refuse them as ErrTokenAudience.
	opaque *opaqueSealer
	// machines, when set (Provider.Verifier), refuses tokens of deleted
	// clients and machine tokens issued before their client's last secret
	// rotation (machine.go).
	machines *machineTokens
}

// NewVerifier returns a verifier of management tokens from issuer, signed
// by keys.
func NewVerifier(issuer string, keys *KeySet) *Verifier {
	return &Verifier{
		Leeway:   MaxLeeway,
		issuer:   issuer,
		audience: authz.ManagementAudience(issuer),
		keys:     keys,
		now:      time.Now,
	}
}

// Audience returns the audience the verifier requires.
func (v *Verifier) Audience() string { return v.audience }

// accessClaims are the claims Verify reads.
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	Expiry   *numDate `json:"exp"`
	NotBef   *numDate `json:"nbf"`
	IssuedAt *numDate `json:"iat"`
	Scope    string   `json:"scope"`
	ClientID string   `json:"client_id"`
	AZP      string   `json:"azp"`
	JTI      string   `json:"jti"`
	GTY      string   `json:"gty"`
}

// audience is `aud`: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}

// numDate is a NumericDate (seconds, possibly fractional).
type numDate float64

func (d numDate) time() time.Time {
	sec, frac := math.Modf(float64(d))
	return time.Unix(int64(sec), int64(frac*1e9))
}

// Verify checks a management access token and returns its viewer. Errors
// wrap ErrInvalidToken, except ErrKeysUnavailable.
func (v *Verifier) Verify(ctx context.Context, raw string) (*authz.Viewer, error) {
	if raw == "" || len(raw) > maxTokenBytes {
		return nil, ErrMalformedToken
	}
	if c, ok := v.verified.get(raw); ok {
		return v.admit(ctx, c)
	}
	jws, err := jose.ParseSigned(raw, ourAlgorithms)
	if err != nil {
		if _, oerr := v.opaque.open(raw); oerr == nil {
			// One of our access tokens, good only at /userinfo.
			return nil, ErrTokenAudience
		}
		return nil, classifyParseError(raw)
	}
	if len(jws.Signatures) != 1 {
		return nil, ErrMalformedToken
	}
	sig := jws.Signatures[0]
	if !slices.Contains(ourAlgorithms, jose.SignatureAlgorithm(sig.Protected.Algorithm)) {
		return nil, ErrTokenAlgorithm
	}
	kid := sig.Protected.KeyID
	if kid == "" {
		return nil, ErrTokenKey
	}
	key, alg, err := v.keys.PublicKey(ctx, kid)
	if errors.Is(err, ErrUnknownKey) {
		return nil, ErrTokenKey
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	if sig.Protected.Algorithm != string(alg) {
		// A key verifies only its own algorithm's signatures.
		return nil, ErrTokenAlgorithm
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, ErrTokenSignature
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrMalformedToken
	}
	if c.Issuer != v.issuer {
		return nil, ErrTokenIssuer
	}
	if !slices.Contains(c.Audience, v.audience) {
		return nil, ErrTokenAudience
	}
	leeway := min(max(v.Leeway, 0), MaxLeeway)
	now := v.now()
	if c.Expiry == nil {
		return nil, ErrMalformedToken
	}
	if !now.Before(c.Expiry.time().Add(leeway)) {
		return nil, ErrTokenExpired
	}
	if c.NotBef != nil && now.Add(leeway).Before(c.NotBef.time()) {
		return nil, ErrTokenNotYetValid
	}
	if c.IssuedAt != nil && now.Add(leeway).Before(c.IssuedAt.time()) {
		return nil, ErrTokenNotYetValid
	}
	if c.Subject == "" {
		return nil, ErrMalformedToken
	}
	v.verified.put(raw, &c)
	return v.admit(ctx, &c)
}

// admit finishes verifying claims whose signature, issuer and audience are
// known good: the time checks (again, for cached tokens) and the grant.
func (v *Verifier) admit(ctx context.Context, c *accessClaims) (*authz.Viewer, error) {
	leeway := min(max(v.Leeway, 0), MaxLeeway)
	if !v.now().Before(c.Expiry.time().Add(leeway)) {
		return nil, ErrTokenExpired
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = c.AZP
	}
	scopes := strings.Fields(c.Scope)
	if gid, ok := grantFromJTI(c.JTI); ok && v.grants != nil {
		live, err := v.grants.live(ctx, gid, clientID)
		if err == nil && live && v.machines != nil {
			// A user token dies with the client it was issued to.
			live, err = v.machines.exists(ctx, clientID)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrGrantsUnavailable, err)
		}
		if !live {
			return nil, ErrTokenRevoked
		}
	}
	if c.GTY == GrantTypeClientCredentialsClaim && v.machines != nil {
		var iat int64
		if c.IssuedAt != nil {
			iat = c.IssuedAt.time().Unix()
		}
		app, err := v.machines.client(ctx, clientID, c.JTI, iat)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrGrantsUnavailable, err)
		}
		if app == nil {
			return nil, ErrTokenRevoked
		}
		scopes = narrow(app, scopes)
	}
	return &authz.Viewer{
		Subject:  c.Subject,
		ClientID: clientID,
		Scopes:   scopes,
	}, nil
}

// verifiedCache remembers tokens whose signature and static claims were
// checked, so a client reusing its token (the common case) costs a map
// lookup instead of an RSA verification on every request. Expiry and grant
// revocation are still checked on every use. Bounded: when full it starts
// over, which costs one verification per token.
type verifiedCache struct {
	mu sync.Mutex
	m  map[string]*accessClaims
}

const verifiedCacheSize = 4096

func (c *verifiedCache) get(raw string) (*accessClaims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	claims, ok := c.m[raw]
	return claims, ok
}

func (c *verifiedCache) put(raw string, claims *accessClaims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= verifiedCacheSize {
		c.m = make(map[string]*accessClaims, 64)
	}
	c.m[raw] = claims
}

// classifyParseError tells a refused algorithm (none, HS256…) from
// malformed input, reading only the header.
func classifyParseError(raw string) error {
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return ErrMalformedToken
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ErrMalformedToken
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ErrMalformedToken
	}
	if h.Alg != string(jose.RS256) {
		return ErrTokenAlgorithm
	}
	return ErrMalformedToken
}
