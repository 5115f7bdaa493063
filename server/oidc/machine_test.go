package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/internal/testenv"
)

// ccToken asks the token endpoint for a client_credentials token.
func (e *env) ccToken(t *testing.T, clientID, secret string) string {
	t.Helper()
	resp, err := e.srv.Client().Post(e.tokenURL, "application/x-www-form-urlencoded", strings.NewReader(ccForm(clientID, secret).Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token request: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// Tokens outlive neither their client nor, for machine tokens, the secret
// they were issued with: the Verifier (every /graphql request), /userinfo
// and introspection refuse them.
func TestTokensDieWithTheirClient(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": testenv.SQLite, "postgres": testenv.Postgres} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, dsn(t), "")
			sys := authz.SystemContext(e.ctx)
			v := e.provider.Verifier()
			// active introspects tok as asked by the client it was issued to.
			active := func(app *ent.Application, tok string) bool {
				t.Helper()
				resp, err := e.provider.introspect(e.ctx, app, tok)
				if err != nil {
					t.Fatal(err)
				}
				return resp["active"] == true
			}

			t.Run("secret rotation", func(t *testing.T) {
				c := e.client(clients.TypeM2M, "read:users")
				old := e.ccToken(t, c.Client.ClientID, c.Secret)
				if _, err := v.Verify(e.ctx, old); err != nil || !active(c.Client, old) {
					t.Fatalf("fresh token: %v", err)
				}
				secret, err := clients.RotateSecret(sys, e.db.Ent, c.Client)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(e.ctx, old); !errors.Is(err, ErrTokenRevoked) {
					t.Fatalf("token issued before the rotation: %v", err)
				}
				if active(c.Client, old) {
					t.Fatal("introspection: a token issued before the rotation is active")
				}
				fresh := e.ccToken(t, c.Client.ClientID, secret)
				if _, err := v.Verify(e.ctx, fresh); err != nil || !active(c.Client, fresh) {
					t.Fatalf("token issued with the new secret: %v", err)
				}
			})
			t.Run("client deletion", func(t *testing.T) {
				c := e.client(clients.TypeM2M, "read:users")
				old := e.ccToken(t, c.Client.ClientID, c.Secret)
				if err := clients.Delete(sys, e.db.Ent, c.Client); err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(e.ctx, old); !errors.Is(err, ErrTokenRevoked) {
					t.Fatalf("token of a deleted client: %v", err)
				}
				if active(c.Client, old) {
					t.Fatal("introspection: a deleted client's token is active")
				}
			})
			t.Run("narrowed scopes", func(t *testing.T) {
				c := e.client(clients.TypeM2M, "read:users", "read:logs")
				old := e.ccToken(t, c.Client.ClientID, c.Secret)
				if _, err := clients.Update(sys, e.db.Ent, c.Client, clients.Changes{Scopes: []string{"read:logs"}}); err != nil {
					t.Fatal(err)
				}
				viewer, err := v.Verify(e.ctx, old)
				if err != nil || !slices.Equal(viewer.Scopes, []string{"read:logs"}) {
					t.Fatalf("after narrowing: %+v %v", viewer, err)
				}
			})
			t.Run("tokens issued before the binding", func(t *testing.T) {
				// A token minted by an earlier version (jti without the
				// binding) is good while its client is unchanged since its iat.
				c := e.client(clients.TypeM2M, "read:users")
				sk, err := e.keys.Signer(e.ctx)
				if err != nil {
					t.Fatal(err)
				}
				legacy := func(iat int64) string {
					claims := goodClaims(e)
					claims["sub"], claims["client_id"], claims["azp"] = c.Client.ClientID+ClientSubjectSuffix, c.Client.ClientID, c.Client.ClientID
					claims["jti"], claims["iat"], claims["nbf"], claims["scope"] = "pre-binding-jti", iat, iat, "read:users"
					return mint(t, jose.RS256, sk.Key(), sk.ID(), claims)
				}
				changed := c.Client.UpdatedAt.Unix()
				if _, err := v.Verify(e.ctx, legacy(changed+1)); err != nil {
					t.Fatalf("issued after the last change: %v", err)
				}
				if _, err := v.Verify(e.ctx, legacy(changed)); !errors.Is(err, ErrTokenRevoked) {
					t.Fatalf("issued in the second of the last change: %v", err)
				}
				// A later change (a rotation) ends it.
				e.db.Ent.Application.UpdateOne(c.Client).SetUpdatedAt(time.Unix(changed+5, 0)).ExecX(sys)
				if _, err := v.Verify(e.ctx, legacy(changed+1)); !errors.Is(err, ErrTokenRevoked) {
					t.Fatalf("issued before a later change: %v", err)
				}
			})
			t.Run("user tokens", func(t *testing.T) {
				r := e.newRP(t, clients.TypeRegularWeb)
				b := e.newBrowser(e.newUser(t))
				mgmt, _ := r.tokens(t, b, "openid "+authz.ScopeReadCurrentUser, "audience", authz.ManagementAudience(e.issuer))
				ui, _ := r.tokens(t, b, "openid")
				if _, err := v.Verify(e.ctx, mgmt.AccessToken); err != nil {
					t.Fatalf("management token: %v", err)
				}
				if status, _ := e.userinfo(t, ui.AccessToken); status != http.StatusOK {
					t.Fatalf("userinfo: %d", status)
				}
				if err := clients.Delete(sys, e.db.Ent, r.c.Client); err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(e.ctx, mgmt.AccessToken); !errors.Is(err, ErrTokenRevoked) {
					t.Fatalf("management token of a deleted client: %v", err)
				}
				if status, _ := e.userinfo(t, ui.AccessToken); status != http.StatusUnauthorized {
					t.Fatalf("userinfo with a deleted client's token: %d", status)
				}
				if active(r.c.Client, ui.AccessToken) {
					t.Fatal("introspection: a deleted client's user token is active")
				}
			})
		})
	}
}
