package oidc

import (
	"net/http"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent/connection"
)

// TestSessionConnectionMustBeEnabled: an SSO session opened through a
// connection the requesting client is not enabled for does not sign the
// user in to that client; the login page for the client's own connections
// does (or login_required for prompt=none). connection= naming a
// connection the client may not use is refused, and naming another
// enabled connection is not answered by a session from this one.
func TestSessionConnectionMustBeEnabled(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, be.dsn(t), "")
			sys := authz.SystemContext(e.ctx)
			appA := e.newRP(t, clients.TypeRegularWeb)
			beta := e.db.Ent.Connection.Create().SetName("beta").SetStrategy(connection.StrategyDatabase).SaveX(sys)
			gamma := e.db.Ent.Connection.Create().SetName("gamma").SetStrategy(connection.StrategyDatabase).SaveX(sys)
			appB := e.newRP(t, clients.TypeRegularWeb)
			// A: the test connection and gamma; B: beta only.
			e.db.Ent.Connection.Update().Where(connection.Name(testConnection)).SetEnabledClients([]string{appA.cfg.ClientID}).ExecX(sys)
			e.db.Ent.Connection.UpdateOne(gamma).SetEnabledClients([]string{appA.cfg.ClientID}).ExecX(sys)
			e.db.Ent.Connection.UpdateOne(beta).SetEnabledClients([]string{appB.cfg.ClientID}).ExecX(sys)

			u := e.newUser(t)
			b := e.newBrowser(nil)
			b.sessionCookie(t, u, 0) // a session from the test connection

			if res, _ := appA.login(t, b, "openid"); res.sawLogin || res.params.Get("code") == "" {
				t.Fatalf("SSO at the client enabled for the session's connection: %+v", res)
			}
			res, _ := appB.login(t, b, "openid")
			if !res.sawLogin || res.params.Get("code") != "" || res.status != http.StatusOK {
				t.Fatalf("a session from a connection not enabled for the client got through: %+v", res)
			}
			if got := e.lastLogin(); got == nil || got.ClientID != appB.cfg.ClientID || len(got.EnabledConnections) != 1 || got.EnabledConnections[0].Name != "beta" {
				t.Fatalf("login page for B: %+v", got)
			}
			res, f := appB.login(t, b, "openid", "prompt", "none")
			if res.sawLogin || res.params.Get("error") != "login_required" || res.params.Get("state") != f.state || res.params.Get("code") != "" {
				t.Fatalf("prompt=none at B: %+v", res)
			}

			// connection= naming a connection not enabled for the client.
			res, f = appA.login(t, b, "openid", "connection", "beta")
			if res.sawLogin || res.params.Get("error") != "invalid_request" || res.params.Get("error_description") != "the connection is not enabled" || res.params.Get("state") != f.state {
				t.Fatalf("connection not enabled for the client: %+v", res)
			}
			res, _ = appA.login(t, b, "openid", "connection", "no-such-connection")
			if res.params.Get("error") != "invalid_request" || res.params.Get("error_description") != "the connection is not enabled" {
				t.Fatalf("unknown connection: %+v", res)
			}
			// connection= naming another enabled connection: that login.
			res, _ = appA.login(t, b, "openid", "connection", "gamma")
			if !res.sawLogin || res.params.Get("code") != "" {
				t.Fatalf("connection=gamma answered by a session from %s: %+v", testConnection, res)
			}
			if res, _ := appA.login(t, b, "openid", "connection", testConnection); res.sawLogin || res.params.Get("code") == "" {
				t.Fatalf("connection= naming the session's connection: %+v", res)
			}
		})
	}
}
