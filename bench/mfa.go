package main

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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/webauthntest"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/secretbox"
)

// The MFA scenario (-scenario mfa) measures, over real HTTP through the
// hosted pages:
//
//   - a password login against a password + TOTP login of users with the
//     same password hash, in alternating windows; the difference of their
//     CPU per login is what the second factor costs;
//   - a passkey login (first factor, no password hash).
//
// A TOTP code is accepted once per 30 s step per user (replay
// protection), and the server's clock is the real one. So each TOTP user
// takes part in at most one login per step: the users wait in a queue,
// oldest first, and a login takes the front user only when its last code
// was of an earlier step (else it waits for the next step, counted as a
// stall). -mfa-users should exceed 30 s × the login rate.

const mfaPassword = "Bench-Password-2026!"

// totpUser is a user with a confirmed TOTP authenticator.
type totpUser struct {
	email, secret string
	last          int64 // the step of the last code sent
}

// totpPool hands out users whose last code is of an earlier step.
type totpPool struct {
	mu     sync.Mutex
	queue  []*totpUser
	stalls atomic.Int64
}

func totpStep(t time.Time) int64 { return t.Unix() / 30 }

func (p *totpPool) take() *totpUser {
	for {
		p.mu.Lock()
		if len(p.queue) > 0 && p.queue[0].last < totpStep(time.Now()) {
			u := p.queue[0]
			p.queue = p.queue[1:]
			p.mu.Unlock()
			return u
		}
		p.mu.Unlock()
		p.stalls.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *totpPool) put(u *totpUser) {
	p.mu.Lock()
	p.queue = append(p.queue, u)
	p.mu.Unlock()
}

// fatalTB lets webauthntest (written for tests) run in this program: its
// only use of testing.TB is Fatal, on a broken option document.
type fatalTB struct{ testing.TB }

func (fatalTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (fatalTB) Helper()           {}

func runMFA(d time.Duration, conc int, dsn string, users, cost, rounds int, explain bool) error {
	ctx := context.Background()
	if dsn == "" {
		var cleanup func()
		var err error
		dsn, cleanup, err = freshPostgres(ctx)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	deps, c, stop, err := startServer(ctx, dsn, conc, base64.StdEncoding.EncodeToString(secretbox.NewKey()))
	if err != nil {
		return err
	}
	defer stop()
	if deps.Passkeys == nil {
		return fmt.Errorf("passkeys unavailable (issuer %s)", c.base)
	}
	sys := authz.SystemContext(ctx)
	lb, err := newLoginBench(ctx, deps, c.base, c.http.Transport)
	if err != nil {
		return err
	}
	// opt_in: users without a factor log in with their password alone.
	if _, err := deps.MFA.UpdateSettings(ctx, mfa.Settings{Policy: mfa.PolicyOptIn,
		Factors: []mfa.Factor{mfa.FactorTOTP, mfa.FactorWebAuthn, mfa.FactorRecoveryCode}}); err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "creating 16 password users, %d TOTP users and 64 passkey users…\n", users)
	create := func(email string) (pulid.ID, error) {
		var out struct {
			CreateUser struct{ ID string } `json:"createUser"`
		}
		err := c.gql(createUser, map[string]any{"in": map[string]any{
			"connection": "Username-Password-Authentication", "email": email}}, &out)
		return pulid.ID(out.CreateUser.ID), err
	}
	var pwUsers []string
	pool := &totpPool{}
	var keys = make(chan *webauthntest.Key, users)
	origin := strings.TrimSuffix(c.base, "/")
	for i := range users {
		if i < 16 {
			e := fmt.Sprintf("pw%d@mfa.bench", i)
			if _, err := create(e); err != nil {
				return err
			}
			pwUsers = append(pwUsers, e)
		}

		e := fmt.Sprintf("totp%d@mfa.bench", i)
		id, err := create(e)
		if err != nil {
			return err
		}
		en, err := deps.MFA.StartTOTP(ctx, id, e)
		if err != nil {
			return err
		}
		// Confirmed with the previous step's code (within the accepted
		// skew), so the user may log in during the current step; again
		// if a step boundary passed in between.
		var prev time.Time
		for try := 0; ; try++ {
			prev = time.Now().Add(-30 * time.Second)
			code, _ := totp.GenerateCode(en.Secret, prev)
			_, err := deps.MFA.ConfirmTOTP(ctx, id, en.AuthenticatorID, code, mfa.LoginContext{})
			if err == nil {
				break
			}
			if try == 2 {
				return fmt.Errorf("confirming TOTP: %w", err)
			}
		}
		pool.put(&totpUser{email: e, secret: en.Secret, last: totpStep(prev)})

		if i >= 64 {
			continue
		}
		id, err = create(fmt.Sprintf("passkey%d@mfa.bench", i))
		if err != nil {
			return err
		}
		k := webauthntest.New(fatalTB{}, origin, "localhost")
		k.UV, k.BE = true, true
		binding := fmt.Sprintf("bench-register-%d", i)
		cer, err := deps.Passkeys.BeginRegistration(ctx, id, binding, true)
		if err != nil {
			return err
		}
		if _, err := deps.Passkeys.FinishRegistration(ctx, id, binding, cer.State, k.Create(cer.Options), mfa.LoginContext{}); err != nil {
			return fmt.Errorf("registering a passkey: %w", err)
		}
		keys <- k
	}
	// Every password is the same bcrypt hash of -mfa-bcrypt-cost, kept as
	// it is at login (newLoginBench turns off hash upgrades).
	h, err := bcrypt.GenerateFromPassword([]byte(mfaPassword), cost)
	if err != nil {
		return err
	}
	if err := deps.DB.Ent.Identity.Update().Where(identity.HasUserWith(user.EmailHasSuffix("@mfa.bench"))).
		SetPasswordHash(string(h)).Exec(sys); err != nil {
		return err
	}

	password := func(i int) error { _, err := lb.login(pwUsers[i%len(pwUsers)], mfaPassword); return err }
	withTOTP := func(int) error {
		u := pool.take()
		defer pool.put(u)
		_, err := lb.loginTOTP(u)
		return err
	}
	passkey := func(int) error {
		k := <-keys
		defer func() { keys <- k }()
		_, err := lb.loginPasskey(k)
		return err
	}
	for name, fn := range map[string]func(int) error{"password": password, "totp": withTOTP, "passkey": passkey} {
		if err := fn(0); err != nil {
			return fmt.Errorf("first %s login: %w", name, err)
		}
	}
	if explain {
		// One password login, then one password + TOTP login (each after
		// the warm-up login above), statement by statement.
		fmt.Println("=== password login")
		if err := explained(deps, lb, func() error { return password(0) }); err != nil {
			return err
		}
		fmt.Println("\n=== password + TOTP login")
		return explained(deps, lb, func() error { return withTOTP(0) })
	}
	// Warm-up: prepared statements, caches, connections.
	load(time.Second, conc, password)
	load(time.Second, conc, withTOTP)
	load(time.Second, conc, passkey)

	m := &meter{db: deps.DB}
	fmt.Printf("\nMFA logins (bcrypt-%d passwords), %d rounds, %d concurrent clients, load average %s at start\n\n", cost, rounds, conc, loadAvg())
	fmt.Printf("| login | logins/s | p50 | p99 | errors | CPU/login (server+generator) | Postgres CPU/login | statements/login | transactions/login |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, s *series) {
		p50, p99 := s.latencies()
		self, pg, st, tx := s.perOp()
		fmt.Printf("| %s | %.1f | %s | %s | %d | %s | %s | %.1f | %.1f |\n", name, s.rate(), p50, p99, s.errors(),
			ms(self), ms(pg), st, tx)
	}
	pw, tp := &series{}, &series{}
	var diffs []string
	w := d / time.Duration(rounds)
	loadStart := loadAvg()
	stallsBefore := pool.stalls.Load()
	for i := range rounds {
		var a, b window
		if i%2 == 0 {
			a = m.measured(ctx, w, conc, password)
			b = m.measured(ctx, w, conc, withTOTP)
		} else {
			b = m.measured(ctx, w, conc, withTOTP)
			a = m.measured(ctx, w, conc, password)
		}
		pw.add(a)
		tp.add(b)
		one := func(x window) time.Duration { return (x.c.self + x.c.pg) / time.Duration(max(x.r.n, 1)) }
		diffs = append(diffs, ms(one(b)-one(a)))
	}
	loadMid := loadAvg()
	pk := &series{}
	pk.add(m.measured(ctx, d, conc, passkey))
	row(fmt.Sprintf("password, bcrypt-%d (authorize → form → code → token)", cost), pw)
	row(fmt.Sprintf("password + TOTP, bcrypt-%d (authorize → form → MFA page → code → token)", cost), tp)
	row("passkey (authorize → options → sign → passkey POST → code → token)", pk)
	pSelf, pPG, _, _ := pw.perOp()
	tSelf, tPG, _, _ := tp.perOp()
	fmt.Printf("\nTOTP adds %s of CPU per login (%s vs %s; per round %s; load %s → %s; %d waits for a fresh TOTP step)\n",
		ms(tSelf+tPG-pSelf-pPG), ms(tSelf+tPG), ms(pSelf+pPG), strings.Join(diffs, ", "), loadStart, loadMid,
		pool.stalls.Load()-stallsBefore)
	kSelf, kPG, _, _ := pk.perOp()
	fmt.Printf("passkey logins: %.1f/s, CPU per login %s (load at end %s)\n", pk.rate(), ms(kSelf+kPG), loadAvg())
	fmt.Printf("\n%d users per kind, GOMAXPROCS=%d\n", users, runtime.GOMAXPROCS(0))
	return nil
}

// newJar returns a client with a fresh cookie jar (no SSO session) that
// stops at the application's redirect URI.
func (lb *loginBench) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: lb.transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), benchRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// formPage is a page's body and the URL it was served at.
type formPage struct {
	body string
	url  *url.URL
}

func get(hc *http.Client, u string) (*formPage, error) {
	resp, err := hc.Get(u)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return &formPage{body: string(b), url: resp.Request.URL}, nil
}

// post posts form to the path on p and returns the final response's body
// and the code at the redirect URI, if it got there.
func post(hc *http.Client, p *formPage, action string, form url.Values) (*formPage, string, error) {
	u, err := p.url.Parse(html.UnescapeString(action))
	if err != nil {
		return nil, "", err
	}
	resp, err := hc.PostForm(u.String(), form)
	if err != nil {
		return nil, "", err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
		return nil, "", errBusy
	}
	code := ""
	if loc, err := url.Parse(resp.Header.Get("Location")); err == nil {
		code = loc.Query().Get("code")
	}
	return &formPage{body: string(b), url: resp.Request.URL}, code, nil
}

// hidden returns the page's csrf_token and req fields.
func hidden(p *formPage) url.Values {
	return url.Values{"csrf_token": {html.UnescapeString(attr(p.body, `name="csrf_token" value="`))},
		"req": {html.UnescapeString(attr(p.body, `name="req" value="`))}}
}

func (lb *loginBench) exchange(code, verifier string) (*tokens, error) {
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

// loginTOTP runs one password + TOTP login: /authorize → login form →
// second-factor page with a code of the current step → code → token
// exchange. It records the step of the code sent in u.
func (lb *loginBench) loginTOTP(u *totpUser) (*tokens, error) {
	hc := lb.newBrowser()
	verifier := oauth2.GenerateVerifier()
	lb.step("GET /authorize (redirected to GET /login)")
	p, err := get(hc, lb.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	form := hidden(p)
	form.Set("username", u.email)
	form.Set("password", mfaPassword)
	lb.step("POST /login (password; redirected to GET /login/mfa, the second-factor page)")
	p, _, err = post(hc, p, attr(p.body, `<form method="post" action="`), form)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(p.body, `name="code"`) {
		return nil, fmt.Errorf("no second-factor page at %s", p.url)
	}
	now := time.Now()
	code, err := totp.GenerateCode(u.secret, now)
	if err != nil {
		return nil, err
	}
	u.last = totpStep(now)
	form = hidden(p)
	form.Set("action", "verify")
	form.Set("code", code)
	lb.step("POST /login/mfa (action=verify, TOTP code; redirected with the code)")
	_, c, err := post(hc, p, attr(p.body, `<form method="post" action="`), form)
	if err != nil {
		return nil, err
	}
	if c == "" {
		return nil, fmt.Errorf("TOTP code refused")
	}
	lb.step("POST /oauth/token (code exchange)")
	return lb.exchange(c, verifier)
}

// loginPasskey runs one passkey login: /authorize → options (ceremony
// login) → the authenticator signs → POST login/passkey → code → token
// exchange.
func (lb *loginBench) loginPasskey(k *webauthntest.Key) (*tokens, error) {
	hc := lb.newBrowser()
	verifier := oauth2.GenerateVerifier()
	p, err := get(hc, lb.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	opts := html.UnescapeString(attr(p.body, `data-options="`))
	if opts == "" {
		return nil, fmt.Errorf("no passkey offer on the login page")
	}
	form := hidden(p)
	form.Set("ceremony", "login")
	u, _ := p.url.Parse(opts)
	resp, err := hc.PostForm(u.String(), form)
	if err != nil {
		return nil, err
	}
	options, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("options: %d %s", resp.StatusCode, options)
	}
	form = hidden(p)
	form.Set("credential", string(k.Get(options)))
	_, c, err := post(hc, p, strings.TrimSuffix(opts, "/webauthn/options")+"/passkey", form)
	if err != nil {
		return nil, err
	}
	if c == "" {
		return nil, fmt.Errorf("passkey refused")
	}
	return lb.exchange(c, verifier)
}
