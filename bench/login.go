package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
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

// errBusy: the login page answered 503 with Retry-After (the server's
// password limiter was full).
var errBusy = errors.New("login page busy (503)")

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

// tokens is the part of a token response the bench uses.
type tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// login runs one full password login: /authorize → hosted form → code →
// token exchange, in a fresh cookie jar (no SSO session), and returns the
// token response. It does what a browser and a web app must and no more
// (the generator shares the server's cores): the form is found by plain
// string search and the token response decoded once.
func (lb *loginBench) login(email, pw string) (*tokens, error) {
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
	page := string(body)
	csrf, req, act := attr(page, `name="csrf_token" value="`), attr(page, `name="req" value="`), attr(page, `<form method="post" action="`)
	if csrf == "" || req == "" || act == "" {
		return nil, fmt.Errorf("no login form (status %d)", resp.StatusCode)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(act))
	if err != nil {
		return nil, err
	}
	form := url.Values{"csrf_token": {html.UnescapeString(csrf)}, "req": {html.UnescapeString(req)},
		"username": {email}, "password": {pw}}
	lb.step("POST /login (password)")
	resp, err = hc.PostForm(action.String(), form)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
		return nil, errBusy
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	code := ""
	if err == nil {
		code = loc.Query().Get("code")
	}
	if code == "" {
		return nil, fmt.Errorf("no code (status %d)", resp.StatusCode)
	}
	lb.step("POST /oauth/token (code exchange)")
	tok, err := lb.token(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {benchRedirect}, "code_verifier": {verifier}})
	if err != nil {
		return nil, err
	}
	if tok.AccessToken == "" || tok.IDToken == "" {
		return nil, fmt.Errorf("code exchange: no access or ID token")
	}
	return tok, nil
}

// attr returns the text after prefix up to the next double quote, "" when
// prefix is absent.
func attr(page, prefix string) string {
	_, rest, ok := strings.Cut(page, prefix)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// token posts a token request with the client's Basic credentials.
func (lb *loginBench) token(form url.Values) (*tokens, error) {
	req, _ := http.NewRequest(http.MethodPost, lb.conf.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(lb.conf.ClientID), url.QueryEscape(lb.conf.ClientSecret))
	resp, err := lb.transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var tok tokens
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token request: %d %s %v", resp.StatusCode, tok.Error, err)
	}
	return &tok, nil
}

// refresh exchanges a refresh token (rotated on every use).
func (lb *loginBench) refresh(rt string) (string, error) {
	tok, err := lb.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if err != nil {
		return "", err
	}
	if tok.RefreshToken == "" {
		return "", fmt.Errorf("refresh: no refresh token")
	}
	return tok.RefreshToken, nil
}

// hashRate is the raw verification rate of one hash at conc goroutines on
// this machine: the ceiling a password login can approach.
func hashRate(d time.Duration, conc int, hash, pw string) float64 {
	r := load(d, conc, func(int) error { return passwords.Verify(hash, pw) })
	return r.rate
}
