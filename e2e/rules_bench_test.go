package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// BenchmarkLoginWithRules measures what rules add to a login: one
// authorization request answered from the SSO session (authorize → login
// handoff → claims hook → code at the redirect URI; no password hashing),
// with 0 rules and with the 5 AssemblyScript templates enabled.
//
//	go test -run '^$' -bench LoginWithRules ./e2e/
func BenchmarkLoginWithRules(b *testing.B) {
	templates := []string{"tpl-as-roles-claim", "tpl-as-first-login", "tpl-as-strategy-claim", "tpl-as-domain-allowlist", "tpl-as-deny-unverified"}
	for _, n := range []int{0, 5} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			s := apitest.Start(b, testenv.SQLite(b))
			admin := s.AdminToken(b)
			s.MustGraphQL(b, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
				email: "ada@example.com", emailVerified: true, password: "Analytical-Engine-1843", appMetadata: {roles: ["admin"]}}) { id } }`, nil, nil)
			for _, name := range templates[:n] {
				raw, err := os.ReadFile(filepath.Join("..", "rules", "testdata", "build", name+".wasm"))
				if err != nil {
					b.Skipf("fixture %s missing: run `make rules-fixtures`", name)
				}
				s.MustGraphQL(b, admin, `mutation($n: String!, $m: String!) { createRule(input: {name: $n, module: $m}) { id } }`,
					map[string]any{"n": name, "m": base64.StdEncoding.EncodeToString(raw)}, nil)
			}
			created, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
				Name: "Bench", Type: clients.TypeRegularWeb, RedirectURIs: []string{redirectURI},
			})
			if err != nil {
				b.Fatal(err)
			}
			p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), s.HTTP), s.Issuer)
			if err != nil {
				b.Fatal(err)
			}
			conf := oauth2.Config{ClientID: created.Client.ClientID, ClientSecret: created.Secret, Endpoint: p.Endpoint(),
				RedirectURL: redirectURI, Scopes: []string{oidc.ScopeOpenID}}
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
				if strings.HasPrefix(req.URL.String(), redirectURI) {
					return http.ErrUseLastResponse
				}
				return nil
			}}
			authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			code := func(resp *http.Response) string {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if loc == nil {
					return ""
				}
				return loc.Query().Get("code")
			}
			// First login through the form, to get the SSO session.
			resp, err := hc.Get(authURL)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			csrf, act, req := csrfRE.FindStringSubmatch(string(body)), actionRE.FindStringSubmatch(string(body)), reqRE.FindStringSubmatch(string(body))
			if csrf == nil || act == nil || req == nil {
				b.Fatalf("no login form: %.300s", body)
			}
			action, _ := resp.Request.URL.Parse(html.UnescapeString(act[1]))
			resp, err = hc.PostForm(action.String(), url.Values{"csrf_token": {html.UnescapeString(csrf[1])},
				"req": {html.UnescapeString(req[1])}, "username": {"ada@example.com"}, "password": {"Analytical-Engine-1843"}})
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if code(resp) == "" {
				b.Fatalf("first login failed: %s", resp.Header.Get("Location"))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := hc.Get(authURL)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if code(resp) == "" {
					b.Fatalf("SSO login failed: %s", resp.Header.Get("Location"))
				}
			}
		})
	}
}
