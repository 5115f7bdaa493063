package e2e

// Browser tests of the admin dashboard and the GraphQL playground
// (server/dashboard) in headless Chromium, driven with chromedp. Every
// request the browser makes to anything but the test server is refused
// (and fails the test), so the pages must work offline. Screenshots of the
// main pages land in artifacts/dashboard/ (git-ignored).
//
// Chromium: /usr/bin/chromium (Debian's `chromium` package) or
// $AUTHGRAPH_CHROMIUM. Without it the tests skip, or fail under CI=true.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

const artifactsDir = "../artifacts/dashboard"

func chromiumPath() (string, error) {
	if p := os.Getenv("AUTHGRAPH_CHROMIUM"); p != "" {
		_, err := os.Stat(p)
		return p, err
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", errors.New("chromium not found (apt-get install chromium, or set AUTHGRAPH_CHROMIUM)")
	}
	return p, nil
}

// chrome is one browser (its own profile: cookies are not shared) whose
// network is limited to the test server.
type chrome struct {
	t       *testing.T
	ctx     context.Context
	mu      sync.Mutex
	blocked []string
	console []string
}

func newChrome(t *testing.T, s *apitest.Server) *chrome {
	t.Helper()
	path, err := chromiumPath()
	testenv.Require(t, "chromium", err)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })

	c := &chrome{t: t, ctx: ctx}
	server, _ := url.Parse(s.URL)
	// Start the browser, then watch every request: the server's continue,
	// anything else fails (and is reported by checkClean).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for e, err := range paused {
			if err != nil {
				return
			}
			u, perr := url.Parse(e.Request.URL)
			if perr == nil && u.Host == server.Host {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
				continue
			}
			c.mu.Lock()
			c.blocked = append(c.blocked, e.Request.URL)
			c.mu.Unlock()
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
				c.record(string(m.Type) + ": " + m.Text)
			}
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.checkClean)
	return c
}

func (c *chrome) record(msg string) {
	c.mu.Lock()
	c.console = append(c.console, msg)
	c.mu.Unlock()
}

// checkClean fails on requests to other hosts and on CSP violations.
func (c *chrome) checkClean() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.blocked) > 0 {
		c.t.Errorf("the pages requested other hosts (blocked): %v", c.blocked)
	}
	for _, m := range c.console {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Content-Security-Policy") {
			c.t.Errorf("CSP violation: %s", m)
		}
	}
}

func (c *chrome) run(actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	c.check(chromedp.Do(c.ctx, actions...))
}

// check fails the test on err with the page's location, text and console.
func (c *chrome) check(err error) {
	c.t.Helper()
	if err == nil {
		return
	}
	c.mu.Lock()
	console := strings.Join(c.console, "\n")
	c.mu.Unlock()
	loc, _ := chromedp.Run(c.ctx, chromedp.Location())
	body, _ := chromedp.Run(c.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ""`))
	c.shot("failure-" + strings.ReplaceAll(c.t.Name(), "/", "_"))
	c.t.Fatalf("browser: %v\nat %s\npage text:\n%s\nconsole:\n%s", err, loc, body, console)
}

// browserStepTimeout bounds one step of a browser test (a condition to
// appear, a redirect to arrive). A step takes well under a second alone;
// under make test the browser shares two cores with every other package's
// tests and the race detector, where a step has taken over 20 s.
const browserStepTimeout = time.Minute

// waitJS polls a JavaScript condition.
func (c *chrome) waitJS(cond string) {
	c.t.Helper()
	// Retry across navigations (the sign-in redirects destroy the context
	// a poll runs in).
	deadline := time.Now().Add(browserStepTimeout)
	for {
		ctx, cancel := context.WithTimeout(c.ctx, time.Until(deadline))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil || time.Now().After(deadline) || c.ctx.Err() != nil {
			c.check(err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *chrome) eval(expr string) string {
	c.t.Helper()
	v, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](expr))
	c.check(err)
	return v
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	v, err := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(sel)))
	c.check(err)
	return v
}

// setText replaces a control's value and fires `input`, as typing does.
func (c *chrome) setText(sel, value string) {
	c.t.Helper()
	c.run(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel, value)))
}

func (c *chrome) shot(name string) {
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		c.t.Logf("artifacts: %v", err)
		return
	}
	buf, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(artifactsDir, name+".png"), buf, 0o644)
}

// signIn opens the dashboard, which sends the browser through /authorize
// to the hosted login page; it submits the form with the keyboard.
func (c *chrome) signIn(s *apitest.Server, email, password string) {
	c.t.Helper()
	c.run(
		chromedp.Navigate(s.Issuer+"dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password+kb.Enter),
	)
}

type dashboardFixture struct {
	s                      *apitest.Server
	admin                  string // management token of the bootstrap client
	adaID, carolID, carolU string
	daveU                  string
}

func setupDashboard(t *testing.T) *dashboardFixture {
	s := apitest.Start(t, testenv.SQLite(t))
	f := &dashboardFixture{s: s, admin: s.AdminToken(t)}
	create := func(email, password string, app string) (string, string) {
		var out struct{ CreateUser struct{ ID, UserID string } }
		s.MustGraphQL(t, f.admin, `mutation($e: String!, $p: String!, $app: Map) { createUser(input: {connection: "Username-Password-Authentication",
			email: $e, password: $p, emailVerified: true, appMetadata: $app}) { id userId } }`,
			map[string]any{"e": email, "p": password, "app": jsonMap(app)}, &out)
		return out.CreateUser.ID, out.CreateUser.UserID
	}
	f.adaID, _ = create("ada@example.com", "Analytical-Engine-1843", "")
	create("bob@example.com", "Difference-Engine-1822", "")
	f.carolID, f.carolU = create("carol@example.com", "Compiler-A0-1952!", `{"plan": "gold", "seats": 5}`)
	_, f.daveU = create("dave@example.com", "Bombe-Machine-1939!", "")

	// Ada becomes an administrator through the CLI, as an operator would.
	cmd := exec.Command(authgraphBin, "admins", "add", "ada@example.com", "--database", s.Deps.Config.DatabaseURL, "--issuer", s.Issuer)
	cmd.Env = append(os.Environ(), "AUTHGRAPH_MASTER_KEY="+s.Deps.Config.MasterKey, "AUTHGRAPH_ADMIN_CLIENT_SECRET=")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "is an administrator") {
		t.Fatalf("admins add: %v %s", err, out)
	}
	return f
}

func jsonMap(s string) any {
	if s == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

func TestDashboardAdminInBrowser(t *testing.T) {
	f := setupDashboard(t)
	s := f.s
	c := newChrome(t, s)
	start := time.Now()

	// 1. Sign in through /authorize; the users list appears.
	c.signIn(s, "ada@example.com", "Analytical-Engine-1843")
	c.waitJS(`!!document.querySelector("#result-count")`)
	if got := c.text("#nav"); !strings.Contains(got, "Users") || !strings.Contains(got, "Playground") {
		t.Fatalf("navigation: %q", got)
	}
	// Keyboard: the first Tab reaches the skip link.
	c.run(chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.KeyEvent(kb.Tab))
	c.waitJS(`document.activeElement && document.activeElement.classList.contains("skip")`)
	c.shot("users")

	// 2. Search with the API's query language.
	c.setText(`input[name=q]`, "email:carol@example.com")
	c.run(chromedp.Click(chromedp.CSS(`form.search button[type=submit]`)))
	c.waitJS(`(document.querySelector("#result-count") || {}).textContent === "1 user match"`)
	c.run(chromedp.Click(chromedp.CSS(`table a[href^="#/users/"]`)))
	c.waitJS(`!!document.querySelector('[data-metadata="appMetadata"]')`)

	// 3. Edit app_metadata: the preview shows the merge the API applies.
	const appSel = `[data-metadata="appMetadata"]`
	c.setText(appSel, "")
	c.run(chromedp.SendKeys(chromedp.CSS(appSel), `{"plan": "platinum", "seats": null}`))
	c.waitJS(`document.querySelector("#appMetadata-preview").textContent.includes('"plan": "platinum"') && !document.querySelector("#appMetadata-preview").textContent.includes("seats")`)
	if w := c.text(`form[aria-labelledby="appMetadata-h"] .warn`); !strings.Contains(w, "seats") {
		t.Errorf("the preview does not warn that seats is removed: %q", w)
	}
	c.shot("user")
	c.run(chromedp.Click(chromedp.CSS(`form[aria-labelledby="appMetadata-h"] button[type=submit]`)))
	c.waitJS(`document.querySelector("#toast").textContent.includes("app_metadata saved")`)
	var got struct {
		User struct{ AppMetadata map[string]any }
	}
	s.MustGraphQL(t, f.admin, `query($id: ID!) { user(id: $id) { appMetadata } }`, map[string]any{"id": f.carolID}, &got)
	if len(got.User.AppMetadata) != 1 || got.User.AppMetadata["plan"] != "platinum" {
		t.Fatalf("app_metadata through the API: %v", got.User.AppMetadata)
	}

	// 4. Validation: bad JSON is caught before saving; the API's field error
	// (a key with a dot) is shown on the field.
	c.setText(appSel, `{"plan": `)
	c.waitJS(`document.querySelector('[data-metadata="appMetadata"]').getAttribute("aria-invalid") === "true" &&
		document.querySelector('form[aria-labelledby="appMetadata-h"] button[type=submit]').disabled`)
	c.setText(appSel, `{"a.b": 1}`)
	c.run(chromedp.Click(chromedp.CSS(`form[aria-labelledby="appMetadata-h"] button[type=submit]`)))
	c.waitJS(`(() => { const e = document.querySelector('[data-metadata="appMetadata"]');
		const err = document.getElementById(e.id + "-err");
		return e.getAttribute("aria-invalid") === "true" && err.textContent.includes("must not contain") })()`)
	c.shot("user-validation-error")

	// 4b. Link another user's identities into this one, then unlink them.
	c.run(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))
	c.setText(`section[aria-labelledby="ids-h"] input[type=text]`, f.daveU)
	c.run(chromedp.Click(chromedp.CSS(`section[aria-labelledby="ids-h"] button[type=submit]`)))
	c.waitJS(`document.querySelectorAll('section[aria-labelledby="ids-h"] tbody tr').length === 2`)
	var linked struct {
		User struct{ Identities []struct{ UserID string } }
	}
	s.MustGraphQL(t, f.admin, `query($id: ID!) { user(id: $id) { identities { userId } } }`, map[string]any{"id": f.carolID}, &linked)
	if len(linked.User.Identities) != 2 {
		t.Fatalf("identities after linking: %+v", linked)
	}
	c.run(chromedp.Click(chromedp.CSS(`section[aria-labelledby="ids-h"] tbody tr:nth-child(2) button`)))
	c.waitJS(`document.querySelectorAll('section[aria-labelledby="ids-h"] tbody tr').length === 1`)

	// 5. Block the user; their login is then refused.
	c.run(chromedp.Click(chromedp.CSS(`#block-toggle`)))
	c.waitJS(`!!document.querySelector("h1 .badge.danger") && document.querySelector("#block-toggle").textContent === "Unblock user"`)
	id, _ := registerClient(t, s, "--name", "Blocked check", "--type", "spa", "--redirect-uri", redirectURI, "--web-origin", "http://127.0.0.1:9")
	relying := newRP(t, s, id, "", "openid")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	refused := b.login(b.get(relying.conf.AuthCodeURL("b", oauth2.S256ChallengeOption(verifier))), "carol@example.com", "Compiler-A0-1952!")
	if refused.location == nil || !strings.Contains(refused.location.Query().Get("error_description"), "blocked") {
		t.Fatalf("a user blocked in the dashboard could still log in: %d %v", refused.status, refused.location)
	}

	// 6. The other sections render.
	for _, sec := range []struct{ nav, h1 string }{{"connections", "Connections"}, {"logs", "Logs"}, {"applications", "Applications"}} {
		c.run(chromedp.Click(chromedp.CSS(`#nav a[data-section="` + sec.nav + `"]`)))
		c.waitJS(fmt.Sprintf(`(document.querySelector("main h1") || {}).textContent === %q && !document.querySelector("main .alert")`, sec.h1))
		c.shot(sec.nav)
	}
	// An application's secret is shown once at creation.
	c.setText(`form[aria-labelledby="newapp-h"] input[type=text]`, "Billing service")
	c.run(chromedp.SetValue(chromedp.CSS(`form[aria-labelledby="newapp-h"] select`), "m2m"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="newapp-h"] button[type=submit]`)))
	c.waitJS(`(() => { const i = document.querySelector(".secret input"); return i && i.value.length >= 40 })()`)
	// The default connection's form marks nothing secret as set.
	c.run(chromedp.Click(chromedp.CSS(`#nav a[data-section="connections"]`)))
	c.waitJS(`!!document.querySelector('main a[href^="#/connections/con_"]')`)
	c.run(chromedp.Click(chromedp.CSS(`main a[href^="#/connections/con_"]`)))
	c.waitJS(`!!document.querySelector('select[name="passwordPolicy"]') && document.querySelector('select[name="passwordPolicy"]').value === "good"`)
	c.shot("connection")
	// Logs filtered by user show the dashboard's writes.
	c.run(chromedp.Navigate(s.Issuer + "dashboard/#/logs?type=sapi&user=" + url.QueryEscape(f.carolU)))
	c.waitJS(`document.querySelectorAll("main tbody tr code").length > 0 && [...document.querySelectorAll("main tbody tr code")].every(e => e.textContent === "sapi")`)

	// 7. Rules: upload a module and test-run it (fixtures from make rules-fixtures).
	wasm, _ := filepath.Abs("../rules/testdata/build/as-roles.wasm")
	if _, err := os.Stat(wasm); err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("rule fixture missing (make rules-fixtures): %v", err)
		}
		t.Logf("skipping the rules steps: %v", err)
	} else {
		c.run(chromedp.Click(chromedp.CSS(`#nav a[data-section="rules"]`)))
		c.waitJS(`(document.querySelector("main h1") || {}).textContent === "Rules"`)
		c.setText(`form[aria-labelledby="upload-h"] input[type=text]`, "roles")
		c.run(chromedp.SetUploadFiles(chromedp.CSS(`form[aria-labelledby="upload-h"] input[type=file]`), []string{wasm}),
			chromedp.Click(chromedp.CSS(`form[aria-labelledby="upload-h"] button[type=submit]`)))
		c.waitJS(`[...document.querySelectorAll("main tbody td")].some(td => td.textContent === "roles")`)
		c.setText(`form[aria-labelledby="test-h"] input[type=text]`, f.adaID)
		c.run(chromedp.Click(chromedp.CSS(`form[aria-labelledby="test-h"] button[type=submit]`)))
		c.waitJS(`document.querySelector("#rule-test-result").textContent.includes(" ms") && !!document.querySelector("#rule-test-result pre.rule-commands")`)
		c.shot("rules")
	}

	// 8. Phone width: no horizontal scrolling on the users list.
	c.run(chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.Issuer+"dashboard/#/users"))
	c.waitJS(`!!document.querySelector("#result-count")`)
	c.waitJS(`document.documentElement.scrollWidth <= window.innerWidth + 1`)
	c.shot("users-phone")
	c.run(chromedp.EmulateViewport(1280, 900))

	// 9. The playground: offline assets, token pre-filled, docs browsable.
	c.run(chromedp.Navigate(s.Issuer + "playground"))
	c.waitJS(`!!document.querySelector(".graphiql-execute-button")`)
	c.run(chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)))
	c.waitJS(`(document.querySelector(".graphiql-response") || {textContent: ""}).textContent.includes("totalCount") &&
		document.querySelector(".graphiql-response").textContent.includes("carol@example.com")`)
	c.run(chromedp.Click(chromedp.CSS(`[aria-label="Show Documentation Explorer"]`)))
	c.waitJS(`(document.querySelector(".graphiql-doc-explorer") || {textContent: ""}).textContent.includes("Root Types")`)
	c.shot("playground")

	// 10. Revoking the grant ends the dashboard's token.
	tok := c.eval(`JSON.parse(sessionStorage.getItem("authgraph.session")).accessToken`)
	s.MustGraphQL(t, tok, `{ users(first: 1) { totalCount } }`, nil, nil)
	s.MustGraphQL(t, f.admin, `mutation($id: ID!) { revokeAdmin(userId: $id) }`, map[string]any{"id": f.adaID}, nil)
	deadline := time.Now().Add(15 * time.Second)
	for s.GraphQL(t, tok, `{ users(first: 1) { totalCount } }`, nil).Status != 401 {
		if time.Now().After(deadline) {
			t.Fatal("a revoked administrator's dashboard token still works")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("admin browser journey took %s", time.Since(start).Round(time.Millisecond))
}

func TestDashboardRefusesNonAdmin(t *testing.T) {
	f := setupDashboard(t)
	c := newChrome(t, f.s)
	c.signIn(f.s, "bob@example.com", "Difference-Engine-1822")
	c.waitJS(`(document.querySelector("main h1") || {}).textContent === "No access"`)
	if txt := c.text("main"); !strings.Contains(txt, "bob@example.com") || !strings.Contains(txt, "not an Authgraph administrator") {
		t.Fatalf("no-access page: %q", txt)
	}
	c.waitJS(`getComputedStyle(document.getElementById("nav")).display === "none"`)
	c.shot("no-access")
	// The playground offers nothing either: its token has no admin scopes.
	scopes := c.eval(`JSON.parse(sessionStorage.getItem("authgraph.session")).scopes.join(" ")`)
	if strings.Contains(scopes, "read:users") {
		t.Fatalf("a non-admin's dashboard token has %q", scopes)
	}
}
