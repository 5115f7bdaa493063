package apiv2_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent/connection"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
)

// uMint signs claims (over defaults for the management API) with the
// provider's current key, as the provider itself would.
func uMint(t testing.TB, s *apitest.Server, claims map[string]any) string {
	t.Helper()
	now := time.Now().Unix()
	c := map[string]any{"iss": s.Issuer, "iat": now, "nbf": now, "exp": now + 600, "jti": "minted"}
	for k, v := range claims {
		c[k] = v
	}
	sk, err := s.Deps.Keys.Signer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	priv := sk.Key().(*rsa.PrivateKey)
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": sk.ID()}) + "." + enc(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

const uRedirect = "http://127.0.0.1:9/callback" // never contacted

var (
	uCSRF   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	uReq    = regexp.MustCompile(`name="req" value="([^"]*)"`)
	uAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// uLoginIDToken signs email/password in through the hosted login page of a
// new regular web application (authorization code + PKCE) and returns the
// ID token the code exchange yields, with the application's client id.
func uLoginIDToken(t *testing.T, s *apitest.Server, email, password string) (idToken, clientID string) {
	t.Helper()
	tok, conf := uLogin(t, s, email, password, "openid", "profile", "email")
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no ID token")
	}
	return raw, conf.ClientID
}

// uLogin logs the user in through the login form with a new web
// application, and returns the tokens and the application's config.
func uLogin(t *testing.T, s *apitest.Server, email, password string, scopes ...string) (*oauth2.Token, *oauth2.Config) {
	t.Helper()
	ctx := context.Background()
	created, err := clients.Create(authz.SystemContext(ctx), s.Deps.DB.Ent, clients.Params{
		Name: "linking app", Type: "regular_web", RedirectURIs: []string{uRedirect},
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: created.Client.ClientID, ClientSecret: created.Secret, RedirectURL: uRedirect,
		Scopes:   scopes,
		Endpoint: oauth2.Endpoint{AuthURL: s.Issuer + "authorize", TokenURL: s.Issuer + "oauth/token"}}
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), uRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	verifier := oauth2.GenerateVerifier()
	resp, err := b.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf, act, req := uCSRF.FindSubmatch(page), uAction.FindSubmatch(page), uReq.FindSubmatch(page)
	if csrf == nil || act == nil || req == nil {
		t.Fatalf("not the login form (%d %s): %.400s", resp.StatusCode, resp.Request.URL, page)
	}
	action, _ := resp.Request.URL.Parse(html.UnescapeString(string(act[1])))
	form := url.Values{"csrf_token": {html.UnescapeString(string(csrf[1]))}, "req": {html.UnescapeString(string(req[1]))},
		"username": {email}, "password": {password}}
	resp, err = b.PostForm(action.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("no code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.HTTP), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok, &conf
}

func uIdentityIDs(ids []management.UserIdentity) []string {
	var out []string
	for _, i := range ids {
		out = append(out, i.GetProvider()+"|"+i.GetUserID())
	}
	return out
}

func TestLinkAndUnlink(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		primary := uCreate(t, m, &management.User{Email: auth0.String("primary@example.com"), Password: auth0.String("Primary-Pass-2024"),
			AppMetadata: &map[string]any{"plan": "gold"}})
		second := uCreate(t, m, &management.User{Email: auth0.String("second@example.com"), Name: auth0.String("Second Self"),
			AppMetadata: &map[string]any{"plan": "free"}})
		secondUpstream := strings.TrimPrefix(second.GetID(), "auth0|")

		// Provider + user_id (with its prefix, as Auth0's docs show): 201,
		// the primary's identities, primary first; the secondary is gone.
		ids, err := m.User.Link(ctx, primary.GetID(), &management.UserIdentityLink{Provider: auth0.String("auth0"), UserID: auth0.String(second.GetID())})
		if err != nil || len(ids) != 2 || ids[0].GetProvider()+"|"+ids[0].GetUserID() != primary.GetID() || ids[1].GetUserID() != secondUpstream ||
			ids[1].GetConnection() != uConn || ids[1].ProfileData == nil || (*ids[1].ProfileData)["email"] != "second@example.com" {
			t.Fatalf("link: %v %v", uIdentityIDs(ids), err)
		}
		_, err = m.User.Read(ctx, second.GetID())
		expectStatus(t, err, http.StatusNotFound, "linked secondary")
		got, _ := m.User.Read(ctx, primary.GetID())
		if len(got.Identities) != 2 || (*got.AppMetadata)["plan"] != "gold" {
			t.Fatalf("primary after link: %+v", got)
		}

		// Unlink by provider and the identity's user_id: the remaining
		// identities; the secondary is a user again.
		rest, err := m.User.Unlink(ctx, primary.GetID(), "auth0", secondUpstream)
		if err != nil || len(rest) != 1 || rest[0].GetProvider()+"|"+rest[0].GetUserID() != primary.GetID() {
			t.Fatalf("unlink: %v %v", uIdentityIDs(rest), err)
		}
		back, err := m.User.Read(ctx, second.GetID())
		if err != nil || back.GetEmail() != "second@example.com" || back.GetName() != "Second Self" {
			t.Fatalf("unlinked user: %+v %v", back, err)
		}
		// Bare user_id and connection_id work too.
		connID, err := s.Deps.DB.Ent.Connection.Query().Where(connection.Name(uConn)).OnlyID(authz.SystemContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		ids, err = m.User.Link(ctx, primary.GetID(), &management.UserIdentityLink{Provider: auth0.String("auth0"),
			UserID: auth0.String(secondUpstream), ConnectionID: auth0.String(string(connID))})
		if err != nil || len(ids) != 2 {
			t.Fatalf("link by bare id: %v %v", uIdentityIDs(ids), err)
		}
		if _, err := m.User.Unlink(ctx, primary.GetID(), "auth0", secondUpstream); err != nil {
			t.Fatal(err)
		}

		// Refusals write nothing.
		n := uCount(t, s)
		primaryUpstream := strings.TrimPrefix(primary.GetID(), "auth0|")
		_, err = m.User.Unlink(ctx, primary.GetID(), "auth0", primaryUpstream)
		expectStatus(t, err, http.StatusBadRequest, "unlink the primary identity")
		_, err = m.User.Unlink(ctx, primary.GetID(), "auth0", "nobody")
		expectStatus(t, err, http.StatusNotFound, "unlink an unknown identity")
		_, err = m.User.Unlink(ctx, "auth0|nobody", "auth0", secondUpstream)
		expectStatus(t, err, http.StatusNotFound, "unlink from an unknown user")
		for name, il := range map[string]*management.UserIdentityLink{
			"self":              {Provider: auth0.String("auth0"), UserID: auth0.String(primary.GetID())},
			"nothing":           {},
			"provider only":     {Provider: auth0.String("auth0")},
			"garbled link_with": {LinkWith: auth0.String("not.a.token")},
			"link_with and provider": {LinkWith: auth0.String(uMint(t, s, map[string]any{"sub": second.GetID(), "aud": s.AdminID})),
				Provider: auth0.String("auth0"), UserID: auth0.String(second.GetID())},
			"ID token for no client": {LinkWith: auth0.String(uMint(t, s, map[string]any{"sub": second.GetID(), "aud": "not-a-client"}))},
			"expired ID token": {LinkWith: auth0.String(uMint(t, s, map[string]any{"sub": second.GetID(), "aud": s.AdminID,
				"exp": time.Now().Add(-time.Hour).Unix()}))},
			"access token": {LinkWith: auth0.String(s.AdminToken(t))},
		} {
			_, err := m.User.Link(ctx, primary.GetID(), il)
			expectStatus(t, err, http.StatusBadRequest, name)
		}
		_, err = m.User.Link(ctx, primary.GetID(), &management.UserIdentityLink{Provider: auth0.String("auth0"), UserID: auth0.String("nobody")})
		expectStatus(t, err, http.StatusNotFound, "link an unknown user")
		_, err = m.User.Link(ctx, "auth0|nobody", &management.UserIdentityLink{Provider: auth0.String("auth0"), UserID: auth0.String(second.GetID())})
		expectStatus(t, err, http.StatusNotFound, "link to an unknown primary")
		id, secret := s.ScopedClient(t, "read:users")
		_, err = sdkAs(t, s, id, secret).User.Link(ctx, primary.GetID(), &management.UserIdentityLink{Provider: auth0.String("auth0"), UserID: auth0.String(second.GetID())})
		expectStatus(t, err, http.StatusForbidden, "link without update:users")
		if got := uCount(t, s); got != n {
			t.Fatalf("refused links changed the users: %d → %d", n, got)
		}
		if got, _ := m.User.Read(ctx, primary.GetID()); len(got.Identities) != 1 {
			t.Fatalf("refused links changed the identities: %v", got.Identities)
		}

		// link_with: the secondary's ID token from a real login.
		third := uCreate(t, m, &management.User{Email: auth0.String("third@example.com"), Password: auth0.String("Third-Pass-2024!")})
		idToken, _ := uLoginIDToken(t, s, "third@example.com", "Third-Pass-2024!")
		ids, err = m.User.Link(ctx, primary.GetID(), &management.UserIdentityLink{LinkWith: auth0.String(idToken)})
		if err != nil || len(ids) != 2 || ids[1].GetUserID() != strings.TrimPrefix(third.GetID(), "auth0|") {
			t.Fatalf("link_with: %v %v", uIdentityIDs(ids), err)
		}
		_, err = m.User.Read(ctx, third.GetID())
		expectStatus(t, err, http.StatusNotFound, "secondary linked with link_with")
	})
}

func TestIdentityTokensNeedReadUserIdPTokens(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		u := uCreate(t, m, &management.User{Email: auth0.String("tokens@example.com")})
		upstream := strings.TrimPrefix(u.GetID(), "auth0|")
		// An identity holding upstream tokens, sealed as logins seal them.
		sealed := s.Deps.Connections.Box.Seal([]byte(`{"access_token":"up-access","refresh_token":"up-refresh"}`),
			identity.TokensAD(uConn, upstream))
		if _, err := s.Deps.DB.Ent.Identity.Update().Where(entidentity.UpstreamID(upstream)).SetTokensSealed(sealed).
			Save(authz.SystemContext(ctx)); err != nil {
			t.Fatal(err)
		}
		got, err := m.User.Read(ctx, u.GetID())
		if err != nil || got.Identities[0].GetAccessToken() != "up-access" || got.Identities[0].GetRefreshToken() != "up-refresh" {
			t.Fatalf("with read:user_idp_tokens: %+v %v", got.Identities, err)
		}
		// Listings never carry them, whatever the caller holds: one
		// request must not page out every identity's tokens.
		if l, err := m.User.List(ctx); err != nil || len(l.Users) != 1 || l.Users[0].Identities[0].AccessToken != nil {
			t.Fatalf("list with read:user_idp_tokens: %v", err)
		}
		id, secret := s.ScopedClient(t, "read:users")
		got, err = sdkAs(t, s, id, secret).User.Read(ctx, u.GetID())
		if err != nil || got.Identities[0].AccessToken != nil || got.Identities[0].RefreshToken != nil {
			t.Fatalf("without read:user_idp_tokens: %+v %v", got.Identities, err)
		}
		l, err := sdkAs(t, s, id, secret).User.List(ctx)
		if err != nil || len(l.Users) != 1 || l.Users[0].Identities[0].AccessToken != nil {
			t.Fatalf("list without read:user_idp_tokens: %v", err)
		}
	})
}
