package upstream

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/upstreamstate"
	"github.com/authgraph/authgraph/logs"
)

// StateTTL is how long a redirect to an upstream may take to come back.
const StateTTL = 10 * time.Minute

// ErrUnknownState: a callback whose state is unknown, used or expired.
var ErrUnknownState = errors.New("unknown or expired login state")

// Redirect is a started redirect login.
type Redirect struct {
	// URL is where to send the browser.
	URL string
	// State is the value the callback carries back; the caller also binds
	// it to the browser (a cookie) against login CSRF.
	State string
}

// StartRedirect begins a login through a redirect connection (OIDC,
// OAuth2): the pending state (PKCE verifier, nonce) is sealed and kept
// server-side, keyed by a hash of the random `state`, until the callback at
// callbackURL ({issuer}login/callback).
func (s *Service) StartRedirect(ctx context.Context, connName, loginRequest, callbackURL string) (*Redirect, error) {
	conn, err := s.Connection(ctx, connName)
	if err != nil {
		return nil, err
	}
	built, err := s.Connector(conn)
	if err != nil {
		return nil, err
	}
	cc, ok := built.(connectors.CallbackConnector)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no redirect login", ErrUnknownConnection, conn.Name)
	}
	state := randomString()
	u, pending, err := cc.LoginURL(ctx, callbackURL, state)
	if err != nil {
		return nil, err
	}
	key := stateKey(state)
	sys := authz.SystemContext(ctx)
	now := s.now()
	err = s.DB.UpstreamState.Create().SetKind(upstreamstate.KindOidc).SetKey(key).SetConnection(conn.Name).
		SetLoginRequest(loginRequest).SetData(s.seal(pending, key)).SetExpiresAt(now.Add(StateTTL)).Exec(sys)
	if err != nil {
		return nil, err
	}
	// Expired states are purged as new ones come (the index on expires_at
	// keeps this cheap).
	_, _ = s.DB.UpstreamState.Delete().Where(upstreamstate.ExpiresAtLT(now)).Exec(sys)
	return &Redirect{URL: u, State: state}, nil
}

// Callback finishes a redirect login: the state is consumed (single use),
// the connector verifies the upstream's answer, and the identity is synced.
// It returns the pending login request's id with the result; errors:
// ErrUnknownState, connectors.ErrInvalidResponse, connectors.ErrUnavailable.
// (A blocked user is refused when the login is decided, by authn.Finalize.)
func (s *Service) Callback(ctx context.Context, r *http.Request, callbackURL string) (*Result, string, error) {
	state := r.URL.Query().Get("state")
	if state == "" || len(state) > 256 {
		return nil, "", ErrUnknownState
	}
	sys := authz.SystemContext(ctx)
	key := stateKey(state)
	st, err := s.DB.UpstreamState.Query().Where(upstreamstate.KindEQ(upstreamstate.KindOidc), upstreamstate.Key(key)).Only(sys)
	if ent.IsNotFound(err) {
		return nil, "", ErrUnknownState
	}
	if err != nil {
		return nil, "", err
	}
	// Deleting first makes the state single-use even under concurrent
	// callbacks: only one DeleteOne finds the row.
	if err := s.DB.UpstreamState.DeleteOne(st).Exec(sys); err != nil {
		if ent.IsNotFound(err) {
			return nil, "", ErrUnknownState
		}
		return nil, "", err
	}
	if s.now().After(st.ExpiresAt) {
		return nil, st.LoginRequest, ErrUnknownState
	}
	pending, err := s.open(st.Data, key)
	if err != nil {
		return nil, st.LoginRequest, ErrUnknownState
	}
	conn, err := s.Connection(ctx, st.Connection)
	if err != nil {
		return nil, st.LoginRequest, err
	}
	built, err := s.Connector(conn)
	if err != nil {
		return nil, st.LoginRequest, err
	}
	cc, ok := built.(connectors.CallbackConnector)
	if !ok {
		return nil, st.LoginRequest, ErrUnknownConnection
	}
	ev := logs.Event{Connection: conn.Name, ConnectionID: string(conn.ID), Strategy: providerOf(conn), StrategyType: strategyType(conn)}
	id, err := cc.HandleCallback(ctx, callbackURL, pending, r)
	if err != nil {
		ev.Type, ev.Description = logs.TypeFailedLogin, "connection unavailable"
		if errors.Is(err, connectors.ErrInvalidResponse) {
			ev.Type, ev.Description = logs.TypeFailedLogin, truncate(err.Error(), 500)
		}
		s.logger().Warn("upstream callback failed", "connection", conn.Name, "err", err)
		s.writeLog(ctx, ev)
		return nil, st.LoginRequest, err
	}
	// "fed": the user authenticated at another provider (RFC 8176).
	res, err := s.complete(ctx, conn, id, ev, []string{"fed"})
	return res, st.LoginRequest, err
}

func strategyType(conn *ent.Connection) string {
	if p := providerOf(conn); p == "github" || p == "google-oauth2" {
		return "social"
	}
	return "enterprise"
}

func (s *Service) seal(b []byte, key string) []byte {
	if s.Sealer == nil {
		return b
	}
	return s.Sealer.Seal(b, "upstream-state:"+key)
}

func (s *Service) open(b []byte, key string) ([]byte, error) {
	if s.Sealer == nil {
		return b, nil
	}
	return s.Sealer.Open(b, "upstream-state:"+key)
}

// stateKey is what is stored for a state: its hash, so the table alone
// cannot complete anyone's login.
func stateKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

func randomString() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
