package apitest

import (
	"context"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
)

// ScopedClient creates a machine-to-machine client holding exactly scopes
// and returns its credentials, for SDKs that fetch their own tokens
// (go-auth0's WithClientCredentials).
func (s *Server) ScopedClient(t testing.TB, scopes ...string) (id, secret string) {
	t.Helper()
	created, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
		Name: "apitest scoped client", Type: clients.TypeM2M, Scopes: scopes,
	})
	if err != nil {
		t.Fatalf("creating client: %v", err)
	}
	return created.Client.ClientID, created.Secret
}
