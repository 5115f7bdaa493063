package upstream

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/saml"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/upstreamstate"
	"github.com/authgraph/authgraph/logs"
)

// SPKeyFunc returns the key and certificate the SAML service provider signs
// AuthnRequests with (signSAMLRequest).
type SPKeyFunc func(ctx context.Context) (crypto.Signer, *x509.Certificate, error)

// samlConnector builds conn's SAML connector: SP URLs under the issuer, the
// database replay cache, the SP key when requests are signed.
func (s *Service) samlConnector(conn *ent.Connection) (*saml.Connector, error) {
	if s.Issuer == "" {
		return nil, fmt.Errorf("%w: saml: the server's issuer is not configured", connectors.ErrConfig)
	}
	cfg := saml.FromOptions(conn.Name, conn.Options)
	cfg.MetadataURL = s.Issuer + "saml/" + conn.Name + "/metadata"
	cfg.ACSURL = s.Issuer + "saml/" + conn.Name + "/acs"
	cfg.ReplayCache = &replayCache{s: s, conn: conn.Name}
	cfg.Failures = &s.failures
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if s.SPKey != nil {
		key, cert, err := s.SPKey(ctx)
		if err != nil {
			return nil, err
		}
		cfg.Key, cfg.Certificate = key, cert
	}
	return saml.New(ctx, cfg)
}

// replayCache keeps accepted assertion IDs in the database until their
// NotOnOrAfter: one unique row per (connection, assertion ID), so a replay
// fails even on another node.
type replayCache struct {
	s    *Service
	conn string
}

// Consume implements crewjam's AssertionReplayCache.
func (c *replayCache) Consume(id string, expiresAt time.Time) error {
	sys := authz.SystemContext(context.Background())
	if expiresAt.IsZero() || expiresAt.Before(c.s.now()) {
		expiresAt = c.s.now().Add(StateTTL)
	}
	err := c.s.DB.UpstreamState.Create().SetKind(upstreamstate.KindSamlAssertion).
		SetKey(truncate(c.conn+"|"+id, 512)).SetConnection(c.conn).SetExpiresAt(expiresAt).Exec(sys)
	if ent.IsConstraintError(err) {
		return crewjam.ErrAssertionReplayed
	}
	return err
}

// StartSAML sends the browser to conn's IdP with a new AuthnRequest whose ID
// is kept server-side under the RelayState (the IdP's cross-site POST back
// carries no Lax cookie). The returned State is that RelayState: the caller
// binds it to the browser (a cookie the POST back does carry), and tells
// ACS whether the browser posting a response holds it.
func (s *Service) StartSAML(ctx context.Context, connName, loginRequest string) (*Redirect, error) {
	sc, conn, err := s.samlFor(ctx, connName)
	if err != nil {
		return nil, err
	}
	relay := randomString()
	u, reqID, err := sc.AuthnRequest(ctx, relay)
	if err != nil {
		return nil, err
	}
	now := s.now()
	sys := authz.SystemContext(ctx)
	err = s.DB.UpstreamState.Create().SetKind(upstreamstate.KindSamlRequest).SetKey(stateKey(relay)).
		SetConnection(conn.Name).SetLoginRequest(loginRequest).SetData([]byte(reqID)).SetExpiresAt(now.Add(StateTTL)).Exec(sys)
	if err != nil {
		return nil, err
	}
	_, _ = s.DB.UpstreamState.Delete().Where(upstreamstate.ExpiresAtLT(now)).Exec(sys)
	return &Redirect{URL: u, State: relay}, nil
}

// SAMLMetadata returns conn's SP metadata.
func (s *Service) SAMLMetadata(ctx context.Context, connName string) ([]byte, error) {
	sc, _, err := s.samlFor(ctx, connName)
	if err != nil {
		return nil, err
	}
	return sc.Metadata()
}

func (s *Service) samlFor(ctx context.Context, connName string) (*saml.Connector, *ent.Connection, error) {
	conn, err := s.Connection(ctx, connName)
	if err != nil {
		return nil, nil, err
	}
	if conn.Strategy != connection.StrategySaml {
		return nil, nil, ErrUnknownConnection
	}
	built, err := s.Connector(conn)
	if err != nil {
		return nil, nil, err
	}
	return built.(*saml.Connector), conn, nil
}

// ErrOtherBrowser: an SP-initiated response was posted from a browser that
// did not start its login (login CSRF: someone else's assertion, to sign
// this browser in as them).
var ErrOtherBrowser = errors.New("the SAML response belongs to a login started in another browser")

// ACS handles a response POSTed to conn's ACS (r.ParseForm done).
//
// A RelayState naming a pending AuthnRequest makes the response
// SP-initiated: the pending request is consumed (single use), and the
// response is accepted only from the browser that started that login —
// browserBound says whether the posting browser holds the binding of its
// RelayState (ErrOtherBrowser otherwise) — and only as the answer to that
// request (its InResponseTo, checked by crewjam against the request ID).
// Without one, the response is IdP-initiated: accepted only when the
// connection enables it and only if it answers no request, and the returned
// login request is "". Nothing is written for a refused response but its
// log event.
func (s *Service) ACS(ctx context.Context, connName string, r *http.Request, browserBound bool) (*Result, string, error) {
	sc, conn, err := s.samlFor(ctx, connName)
	if err != nil {
		return nil, "", err
	}
	sys := authz.SystemContext(ctx)
	var ids []string
	loginRequest := ""
	ev := logs.Event{Connection: conn.Name, ConnectionID: string(conn.ID), Strategy: saml.Provider, StrategyType: "enterprise"}
	if relay := r.PostForm.Get("RelayState"); relay != "" && len(relay) <= 256 {
		st, err := s.DB.UpstreamState.Query().
			Where(upstreamstate.KindEQ(upstreamstate.KindSamlRequest), upstreamstate.Key(stateKey(relay))).Only(sys)
		if err != nil && !ent.IsNotFound(err) {
			return nil, "", err
		}
		if st != nil && st.Connection == conn.Name && s.now().Before(st.ExpiresAt) {
			if !browserBound {
				// Refused before anything is consumed: the browser that did
				// start the login can still complete it.
				ev.Type, ev.Description = logs.TypeFailedLogin, ErrOtherBrowser.Error()
				s.logger().Warn("saml response refused", "connection", conn.Name, "err", ErrOtherBrowser)
				s.writeLog(ctx, ev)
				return nil, "", ErrOtherBrowser // the login request is not this browser's either
			}
			if err := s.DB.UpstreamState.DeleteOne(st).Exec(sys); err == nil {
				ids, loginRequest = []string{string(st.Data)}, st.LoginRequest
			}
		}
	}
	id, _, err := sc.HandleResponse(ctx, r, ids)
	if err != nil {
		ev.Type, ev.Description = logs.TypeFailedLogin, truncate(err.Error(), 500)
		if errors.Is(err, connectors.ErrUnavailable) {
			ev.Description = "connection unavailable"
		}
		s.logger().Warn("saml response refused", "connection", conn.Name, "err", err)
		s.writeLog(ctx, ev)
		return nil, loginRequest, err
	}
	// "fed": the user authenticated at another provider (RFC 8176).
	res, err := s.complete(ctx, conn, id, ev, []string{"fed"})
	return res, loginRequest, err
}
