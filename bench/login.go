package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/passwords"
	"github.com/authgraph/authgraph/server"
)

const benchRedirect = "http://127.0.0.1:9/cb"

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	reqRE    = regexp.MustCompile(`name="req" value="([^"]*)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// loginBench holds what the login workloads share.
type loginBench struct {
	base      string
	transport http.RoundTripper
	conf      oauth2.Config
	// trace, when set, is told each step of a login (-explain).
	trace func(step string)
}

func (lb *loginBench) step(s string) {
	if lb.trace != nil {
		lb.trace(s)
	}
}

func newLoginBench(ctx context.Context, deps *server.Deps, base string, transport http.RoundTripper) (*loginBench, error) {
	sys := authz.SystemContext(ctx)
	created, err := clients.Create(sys, deps.DB.Ent, clients.Params{
		Name: "bench web app", Type: clients.TypeRegularWeb, RedirectURIs: []string{benchRedirect},
	})
	if err != nil {
		return nil, err
	}
	// Keep imported bcrypt hashes as they are, so bcrypt users stay bcrypt
	// users across repeated logins (the bench measures bcrypt logins).
	// Everything else is the default, brute-force protection included.
	conn, err := deps.DB.Ent.Connection.Query().Where(connection.Name(connections.DefaultDatabase)).Only(sys)
	if err != nil {
		return nil, err
	}
	opts := conn.Options
	opts["upgrade_password_hashes"] = false
	if err := deps.DB.Ent.Connection.UpdateOne(conn).SetOptions(opts).Exec(sys); err != nil {
		return nil, err
	}
	return &loginBench{base: base, transport: transport, conf: oauth2.Config{
		ClientID: created.Client.ClientID, ClientSecret: created.Secret, RedirectURL: benchRedirect,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "profile", "email", "offline_access"},
	}}, nil
}

// setBcrypt replaces a user's password hash with a bcrypt-10 one, as an
// imported user would have.
func setBcrypt(ctx context.Context, deps *server.Deps, email, pw string) error {
	sys := authz.SystemContext(ctx)
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
	if err != nil {
		return err
	}
	return deps.DB.Ent.Identity.Update().Where(identity.HasUserWith(user.Email(email))).
		SetPasswordHash(string(h)).Exec(sys)
}

// login runs one full password login: /authorize → hosted form → code →
// token exchange, in a fresh cookie jar (no SSO session), and returns the
// token response.
func (lb *loginBench) login(email, pw string) (*oauth2.Token, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: lb.transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), benchRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	verifier := oauth2.GenerateVerifier()
	lb.step("GET /authorize (redirected to GET /login)")
	resp, err := hc.Get(lb.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf, act, req := csrfRE.FindSubmatch(body), actionRE.FindSubmatch(body), reqRE.FindSubmatch(body)
	if csrf == nil || act == nil || req == nil {
		return nil, fmt.Errorf("no login form (status %d)", resp.StatusCode)
	}
	action, _ := resp.Request.URL.Parse(html.UnescapeString(string(act[1])))
	form := url.Values{"csrf_token": {html.UnescapeString(string(csrf[1]))}, "req": {html.UnescapeString(string(req[1]))},
		"username": {email}, "password": {pw}}
	lb.step("POST /login (password)")
	resp, err = hc.PostForm(action.String(), form)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return nil, fmt.Errorf("no code (status %d)", resp.StatusCode)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: lb.transport})
	lb.step("POST /oauth/token (code exchange)")
	return lb.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
}

// refresh exchanges a refresh token (rotated on every use).
func (lb *loginBench) refresh(rt string) (string, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, _ := http.NewRequest(http.MethodPost, lb.conf.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(lb.conf.ClientID), url.QueryEscape(lb.conf.ClientSecret))
	resp, err := lb.transport.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.RefreshToken == "" {
		return "", fmt.Errorf("refresh failed: %d %s %v", resp.StatusCode, body.Error, err)
	}
	return body.RefreshToken, nil
}

// hashRate is the raw verification rate of one hash at conc goroutines on
// this machine: the ceiling a password login can approach.
func hashRate(d time.Duration, conc int, hash, pw string) float64 {
	r := load(d, conc, func(int) error { return passwords.Verify(hash, pw) })
	return r.rate
}
