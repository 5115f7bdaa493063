package oidc

import (
	"encoding/json"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/testenv"
)

// BenchmarkRefresh measures refresh-token exchanges over HTTP on SQLite:
// client authentication, the token lookup, rotation (mark used + insert in
// one transaction), the user re-check and two RS256 signatures (access and
// ID token). Each parallel worker follows its own rotating chain.
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b), "")
	r := e.newRP(b, clients.TypeRegularWeb)
	u := e.newUser(b)
	workers := runtime.GOMAXPROCS(0)
	chains := make(chan string, workers)
	for range workers {
		tok, _ := r.tokens(b, e.newBrowser(u), "openid offline_access")
		chains <- tok.RefreshToken
	}
	hc := e.srv.Client()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-chains
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, e.tokenURL, strings.NewReader(url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {rt},
			}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(r.cfg.ClientID), url.QueryEscape(r.cfg.ClientSecret))
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			var body struct {
				RefreshToken string `json:"refresh_token"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || body.RefreshToken == "" {
				b.Errorf("refresh: %d %v", resp.StatusCode, err)
				return
			}
			rt = body.RefreshToken
		}
	})
}

// BenchmarkCodeFlowSSO measures a whole silent login (browser with an SSO
// session): /authorize → code → token exchange with PKCE, go-oidc ID token
// verification included. No password hashing: that is the login page's.
func BenchmarkCodeFlowSSO(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b), "")
	r := e.newRP(b, clients.TypeSPA)
	u := e.newUser(b)
	br := e.newBrowser(u)
	r.tokens(b, br, "openid") // establishes the session
	br.user = ""
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.tokens(b, br, "openid profile email")
	}
}
