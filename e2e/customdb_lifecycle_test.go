package e2e

// The lifecycle of custom-database users besides login (docs/CUSTOM_DATABASE.md):
// signup through the hosted page and createUser, forgot-password and reset,
// password and email changes, email verification and deletion through the
// management API — each against a real legacy database with the templates,
// with and without import mode, checking both stores after every step.

import (
	"database/sql"
	"encoding/base64"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/predicate"
	entuser "github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/mail"
)

var (
	hiddenInputRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	signupLinkRE  = regexp.MustCompile(`<a href="([^"]*/signup\?[^"]*)"`)
	forgotLinkRE  = regexp.MustCompile(`<a href="([^"]*/forgot\?[^"]*)"`)
	mailLinkRE    = regexp.MustCompile(`http://127\.0\.0\.1:\d+/login/(?:reset|verify)\?ticket=[A-Za-z0-9_=-]+`)
)

// submitForm posts the first form of p with its hidden fields and fields.
func (b *browser) submitForm(p page, fields url.Values) page {
	b.t.Helper()
	act := actionRE.FindStringSubmatch(p.body)
	if act == nil {
		b.t.Fatalf("no form (status %d, %s): %.600s", p.status, p.url, p.body)
	}
	action, _ := p.url.Parse(html.UnescapeString(act[1]))
	form := url.Values{}
	for _, h := range hiddenInputRE.FindAllStringSubmatch(p.body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	r, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// follow opens the link re finds on p.
func (b *browser) follow(p page, re *regexp.Regexp) page {
	b.t.Helper()
	m := re.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no link %s on %s: %.800s", re, p.url, p.body)
	}
	u, _ := p.url.Parse(html.UnescapeString(m[1]))
	return b.get(u.String())
}

// mailedLink waits for the ticket link (kind reset or verify) mailed to
// address.
func mailedLink(t *testing.T, smtp *testenv.SMTPServer, address, kind string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range smtp.Messages() {
			if len(m.To) == 0 || !strings.EqualFold(m.To[0], address) {
				continue
			}
			link := mailLinkRE.FindString(strings.ReplaceAll(string(m.Data), "=\r\n", ""))
			if strings.Contains(link, "/login/"+kind+"?") {
				return strings.ReplaceAll(link, "=3D", "=")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s link mailed to %s", kind, address)
	return ""
}

// lifecycle is one Authgraph with a customdb connection called "legacy".
type lifecycle struct {
	t       *testing.T
	s       *apitest.Server
	legacy  *customdbtest.Legacy
	smtp    *testenv.SMTPServer
	relying *rp
}

func newLifecycle(t *testing.T, dsn string, legacy *customdbtest.Legacy, options map[string]any, scripts map[string]string) *lifecycle {
	s := apitest.Start(t, dsn)
	smtp := testenv.StartSMTP(t)
	sender, err := mail.New(smtp.URL, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	s.Deps.Auth.Mail = sender
	rpID, rpSecret := registerClient(t, s, "--name", "Shop", "--type", "regular_web", "--redirect-uri", redirectURI)
	options["dsn"] = legacy.DSN
	createConnection(t, s, "legacy", "customdb", options, rpID)
	// The /graphql body takes at most two Go modules (4.6 MB in base64):
	// the scripts go in pairs; options.scripts merges key by key.
	batch := map[string]any{}
	flush := func() {
		if len(batch) == 0 {
			return
		}
		s.MustGraphQL(t, s.AdminToken(t), `mutation($o: Map) { updateConnection(id: "legacy", input: {options: $o}) { id } }`,
			map[string]any{"o": map[string]any{"scripts": batch}}, nil)
		batch = map[string]any{}
	}
	size := 0
	for op, module := range scripts {
		if size+len(module) > 9<<20 {
			flush()
			size = 0
		}
		batch[op] = module
		size += len(module)
	}
	flush()
	return &lifecycle{t: t, s: s, legacy: legacy, smtp: smtp,
		relying: newRP(t, s, rpID, rpSecret, oidc.ScopeOpenID, "profile", "email")}
}

// authorize opens the hosted login page of the legacy connection.
func (l *lifecycle) authorize(b *browser) (page, string) {
	verifier := oauth2.GenerateVerifier()
	p := b.get(l.relying.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("connection", "legacy")))
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		l.t.Fatalf("login page %d: %.600s", p.status, p.body)
	}
	return p, verifier
}

// signup signs email up through the hosted page; the claims of the ID
// token on success, nil (with the page) on a refusal.
func (l *lifecycle) signup(email, password string) (map[string]any, page) {
	l.t.Helper()
	b := newBrowser(l.t)
	login, verifier := l.authorize(b)
	form := b.follow(login, signupLinkRE)
	done := b.submitForm(form, url.Values{"email": {email}, "password": {password}})
	if done.location == nil {
		return nil, done
	}
	return l.relying.exchange(l.t, l.s, done, verifier), done
}

// login logs email in through the hosted page: the ID token's claims, or
// nil when refused.
func (l *lifecycle) login(email, password string) map[string]any {
	l.t.Helper()
	b := newBrowser(l.t)
	form, verifier := l.authorize(b)
	done := b.submitLogin(form, email, password)
	if done.location == nil {
		if done.status != http.StatusUnauthorized {
			l.t.Fatalf("login of %s: %d %.400s", email, done.status, done.body)
		}
		return nil
	}
	return l.relying.exchange(l.t, l.s, done, verifier)
}

// forgot asks for a reset link for email through the hosted pages.
func (l *lifecycle) forgot(email string) {
	l.t.Helper()
	b := newBrowser(l.t)
	login, _ := l.authorize(b)
	form := b.follow(login, forgotLinkRE)
	if p := b.submitForm(form, url.Values{"email": {email}}); p.status != http.StatusOK || !strings.Contains(p.body, "If an account exists") {
		l.t.Fatalf("forgot: %d %.400s", p.status, p.body)
	}
}

// openTicket opens a ticket link and submits its form with fields.
func (l *lifecycle) openTicket(link string, fields url.Values) page {
	l.t.Helper()
	b := newBrowser(l.t)
	p := b.get(link)
	if p.status != http.StatusOK {
		l.t.Fatalf("ticket page %d: %.400s", p.status, p.body)
	}
	return b.submitForm(p, fields)
}

// legacyRow reads the legacy users row of email (ok false when none).
func (l *lifecycle) legacyRow(email string) (hash string, verified bool, ok bool) {
	l.t.Helper()
	err := l.legacy.Admin.QueryRow("SELECT password, email_verified FROM users WHERE lower(email) = lower("+l.ph(1)+")", email).Scan(&hash, &verified)
	if err == sql.ErrNoRows {
		return "", false, false
	}
	if err != nil {
		l.t.Fatal(err)
	}
	return hash, verified, true
}

func (l *lifecycle) ph(i int) string {
	if l.legacy.Flavor == "postgres" {
		return "$" + string(rune('0'+i))
	}
	return "?"
}

// localUser returns Authgraph's user with user_id, nil when none.
func (l *lifecycle) localUser(userID string) *ent.User { return l.findUser(entuser.UserID(userID)) }

// localUserByEmail returns Authgraph's user with email, nil when none.
func (l *lifecycle) localUserByEmail(email string) *ent.User { return l.findUser(entuser.Email(email)) }

func (l *lifecycle) findUser(pred predicate.User) *ent.User {
	l.t.Helper()
	u, err := l.s.Deps.DB.Ent.User.Query().Where(pred).WithIdentities().Only(authz.SystemContext(l.t.Context()))
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		l.t.Fatal(err)
	}
	return u
}

func (l *lifecycle) gql(query string, vars map[string]any) apitest.Response {
	return l.s.GraphQL(l.t, l.s.AdminToken(l.t), query, vars)
}

func (l *lifecycle) logTypes(userID string) []string {
	l.t.Helper()
	var out struct {
		Logs struct {
			Edges []struct{ Node struct{ Type string } }
		}
	}
	l.s.MustGraphQL(l.t, l.s.AdminToken(l.t), `query($u: String) { logs(first: 50, where: {userId: $u}) { edges { node { type } } } }`,
		map[string]any{"u": userID}, &out)
	var types []string
	for _, e := range out.Logs.Edges {
		types = append(types, e.Node.Type)
	}
	return types
}

func hasPassword(u *ent.User) bool {
	for _, idn := range u.Edges.Identities {
		if idn.PasswordHash != nil && *idn.PasswordHash != "" {
			return true
		}
	}
	return false
}

func bcryptMatches(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

func TestCustomDBLifecycleWithoutImportMode(t *testing.T) {
	legacy := customdbtest.Postgres(t)
	// The AssemblyScript template (27 KB): all seven scripts in one call.
	module := base64.StdEncoding.EncodeToString(customdbtest.ASTemplates(t)["postgres"])
	scripts := map[string]string{}
	for _, op := range customdb.Ops {
		scripts[op] = module
	}
	l := newLifecycle(t, testenv.Postgres(t), legacy, map[string]any{"passwordPolicy": "fair"}, scripts)
	ada, alan := customdbtest.Seed[0], customdbtest.Seed[1]
	rows := legacy.Count(t)

	// Signup of an address the legacy database knows: get_user refuses it,
	// nothing is written anywhere, fs is logged; the page answers as to any
	// refused signup (invalid_signup) and the owner is emailed a notice.
	if claims, p := l.signup(ada.Email, "Brand-New-Secret-9"); claims != nil || p.status != http.StatusBadRequest || !strings.Contains(p.body, "invalid_signup") {
		t.Fatalf("signup of a legacy address: %v %d %.300s", claims, p.status, p.body)
	}
	if legacy.Count(t) != rows || l.localUserByEmail(ada.Email) != nil {
		t.Fatal("a refused signup wrote something")
	}
	// The policy applies before any script runs.
	if claims, p := l.signup("weak@legacy.example", "short"); claims != nil || p.status != http.StatusBadRequest || legacy.Count(t) != rows {
		t.Fatalf("weak password: %v %d", claims, p.status)
	}

	// A new address: the create script writes the legacy row, login
	// confirms it, the user is auth0|pg|<new id> with no local hash.
	claims, p := l.signup("grace@legacy.example", "Cobol-Compiler-1959")
	if claims == nil {
		t.Fatalf("signup: %d %.400s", p.status, p.body)
	}
	hash, _, ok := l.legacyRow("grace@legacy.example")
	if !ok || !bcryptMatches(hash, "Cobol-Compiler-1959") || legacy.Count(t) != rows+1 {
		t.Fatalf("legacy row after signup: %v", ok)
	}
	graceID, _ := claims["sub"].(string)
	if !strings.HasPrefix(graceID, "auth0|pg|") {
		t.Fatalf("sub %q", graceID)
	}
	grace := l.localUser(graceID)
	if grace == nil || hasPassword(grace) {
		t.Fatalf("local user after signup: %+v", grace)
	}
	if types := "," + strings.Join(l.logTypes(graceID), ",") + ","; !strings.Contains(types, ",ss,") || !strings.Contains(types, ",s,") {
		t.Fatalf("log events %s", types)
	}
	if again := l.login("grace@legacy.example", "Cobol-Compiler-1959"); again == nil || again["sub"] != graceID {
		t.Fatalf("second login: %v", again)
	}

	// createUser through the management API: the same guard and scripts.
	r := l.gql(`mutation { createUser(input: {connection: "legacy", email: "alan@legacy.example", password: "Another-Pass-123"}) { id } }`, nil)
	if codes := r.Codes(); len(codes) != 1 || codes[0] != "CONFLICT" || legacy.Count(t) != rows+1 {
		t.Fatalf("createUser of a legacy address: %v", r.Errors)
	}
	var created struct{ CreateUser struct{ ID, UserID string } }
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation { createUser(input: {connection: "legacy", email: "Hedy@Legacy.example", password: "Frequency-Hop-1942", name: "Hedy Lamarr"}) { id userId } }`, nil, &created)
	if !strings.HasPrefix(created.CreateUser.UserID, "auth0|pg|") || legacy.Count(t) != rows+2 {
		t.Fatalf("createUser: %+v", created)
	}
	if _, _, ok := l.legacyRow("hedy@legacy.example"); !ok {
		t.Fatal("createUser wrote no legacy row")
	}

	// Forgot password for a user Authgraph has never seen: get_user finds
	// them, the local profile is created, the link is mailed, and the new
	// password goes to the legacy database through change_password.
	if l.localUserByEmail(alan.Email) != nil {
		t.Fatal("alan is not local yet")
	}
	l.forgot(alan.Email)
	done := l.openTicket(mailedLink(t, l.smtp, alan.Email, "reset"), url.Values{"password": {"Turing-Test-1950"}, "password_confirm": {"Turing-Test-1950"}})
	if done.status != http.StatusOK || !strings.Contains(done.body, "Your password has been changed") {
		t.Fatalf("reset: %d %.400s", done.status, done.body)
	}
	hash, _, _ = l.legacyRow(alan.Email)
	if !bcryptMatches(hash, "Turing-Test-1950") {
		t.Fatal("the legacy password did not change")
	}
	alanUser := l.localUserByEmail(alan.Email)
	if alanUser == nil || alanUser.UserID != "auth0|pg|2" || hasPassword(alanUser) {
		t.Fatalf("alan after reset: %+v", alanUser)
	}
	if l.login(alan.Email, alan.Password) != nil {
		t.Fatal("the old password still works")
	}
	if c := l.login(alan.Email, "Turing-Test-1950"); c == nil || c["sub"] != "auth0|pg|2" {
		t.Fatalf("login with the new password: %v", c)
	}
	// An unknown address gets the same answer and no mail.
	l.forgot("nobody@legacy.example")

	// Password change by an administrator: change_password.
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {password: "Admin-Chosen-77"}) { id } }`,
		map[string]any{"id": grace.ID}, nil)
	if hash, _, _ := l.legacyRow("grace@legacy.example"); !bcryptMatches(hash, "Admin-Chosen-77") {
		t.Fatal("updateUser password did not reach the legacy database")
	}
	// A refused password reaches no script.
	r = l.gql(`mutation($id: ID!) { updateUser(id: $id, input: {password: "short"}) { id } }`, map[string]any{"id": grace.ID})
	if codes := r.Codes(); len(codes) != 1 || codes[0] != "BAD_USER_INPUT" {
		t.Fatalf("weak password: %v", r.Errors)
	}

	// Email change: get_user guards the new address; change_email moves it.
	r = l.gql(`mutation($id: ID!) { updateUser(id: $id, input: {email: "ada@legacy.example"}) { id } }`, map[string]any{"id": grace.ID})
	if codes := r.Codes(); len(codes) != 1 || codes[0] != "CONFLICT" {
		t.Fatalf("email change to a legacy address: %v", r.Errors)
	}
	if u := l.localUser(graceID); *u.Email != "grace@legacy.example" {
		t.Fatalf("a refused email change changed the local email to %s", *u.Email)
	}
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {email: "grace.hopper@legacy.example", emailVerified: false}) { id } }`,
		map[string]any{"id": grace.ID}, nil)
	if _, _, ok := l.legacyRow("grace@legacy.example"); ok {
		t.Fatal("the old address is still in the legacy database")
	}
	if _, _, ok := l.legacyRow("grace.hopper@legacy.example"); !ok {
		t.Fatal("change_email did not move the legacy row")
	}
	if c := l.login("grace.hopper@legacy.example", "Admin-Chosen-77"); c == nil || c["sub"] != graceID {
		t.Fatalf("login with the new address: %v", c)
	}

	// Email verification: the verify script marks the legacy row.
	var ticket struct{ CreateEmailVerificationTicket struct{ Ticket string } }
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { createEmailVerificationTicket(input: {userId: $id}) { ticket } }`,
		map[string]any{"id": grace.ID}, &ticket)
	if p := l.openTicket(ticket.CreateEmailVerificationTicket.Ticket, nil); p.status != http.StatusOK {
		t.Fatalf("verify: %d %.300s", p.status, p.body)
	}
	if _, verified, _ := l.legacyRow("grace.hopper@legacy.example"); !verified || !l.localUser(graceID).EmailVerified {
		t.Fatal("verification did not reach both stores")
	}

	// A failing script (the role lost its privileges) changes nothing and
	// says so with a typed error.
	role := strings.SplitN(strings.TrimPrefix(legacy.DSN, "postgres://"), ":", 2)[0]
	if _, err := legacy.Admin.Exec("REVOKE ALL ON users FROM " + role); err != nil {
		t.Fatal(err)
	}
	r = l.gql(`mutation { createUser(input: {connection: "legacy", email: "kay@legacy.example", password: "Smalltalk-80-Xerox"}) { id } }`, nil)
	if codes := r.Codes(); len(codes) != 1 || codes[0] != "SERVICE_UNAVAILABLE" || l.localUserByEmail("kay@legacy.example") != nil {
		t.Fatalf("createUser with a failing get_user: %v", r.Errors)
	}
	r = l.gql(`mutation($id: ID!) { deleteUser(id: $id) }`, map[string]any{"id": grace.ID})
	if codes := r.Codes(); len(codes) != 1 || codes[0] != "SERVICE_UNAVAILABLE" || l.localUser(graceID) == nil {
		t.Fatalf("deleteUser with a failing delete script: %v", r.Errors)
	}
	if _, err := legacy.Admin.Exec("GRANT SELECT, INSERT, UPDATE, DELETE ON users TO " + role); err != nil {
		t.Fatal(err)
	}

	// Deletion: the delete script removes the legacy row, so the user does
	// not come back at the next login.
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { deleteUser(id: $id) }`, map[string]any{"id": grace.ID}, nil)
	if _, _, ok := l.legacyRow("grace.hopper@legacy.example"); ok || l.localUser(graceID) != nil {
		t.Fatal("deleteUser left a row")
	}
	if l.login("grace.hopper@legacy.example", "Admin-Chosen-77") != nil {
		t.Fatal("a deleted user logged in")
	}
}

func TestCustomDBLifecycleInImportMode(t *testing.T) {
	legacy := customdbtest.MariaDB(t)
	module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["mysql"])
	l := newLifecycle(t, testenv.SQLite(t), legacy, map[string]any{"import_mode": true},
		map[string]string{customdb.OpLogin: module, customdb.OpGetUser: module, customdb.OpDelete: module})
	ada, alan := customdbtest.Seed[0], customdbtest.Seed[1]
	rows := legacy.Count(t)

	// Signup: get_user guards the legacy users not migrated yet; a new
	// address becomes a local user with its hash, the legacy table stays.
	if claims, p := l.signup(alan.Email, "Brand-New-Secret-9"); claims != nil || p.status != http.StatusBadRequest {
		t.Fatalf("signup of an unmigrated legacy address: %v %d", claims, p.status)
	}
	claims, p := l.signup("barbara@new.example", "Liskov-Substitution-87")
	if claims == nil {
		t.Fatalf("signup: %d %.400s", p.status, p.body)
	}
	barbara := l.localUser(claims["sub"].(string))
	if barbara == nil || !hasPassword(barbara) || legacy.Count(t) != rows {
		t.Fatalf("import-mode signup: %+v, legacy rows %d", barbara, legacy.Count(t))
	}

	// Reset of an unmigrated user: the new password is kept here, which
	// migrates the user; the legacy hash is untouched.
	before, _, _ := l.legacyRow(ada.Email)
	l.forgot(ada.Email)
	done := l.openTicket(mailedLink(t, l.smtp, ada.Email, "reset"), url.Values{"password": {"Bernoulli-Numbers-1843"}, "password_confirm": {"Bernoulli-Numbers-1843"}})
	if done.status != http.StatusOK {
		t.Fatalf("reset: %d %.400s", done.status, done.body)
	}
	if after, _, _ := l.legacyRow(ada.Email); after != before {
		t.Fatal("import mode changed the legacy hash")
	}
	adaUser := l.localUserByEmail(ada.Email)
	if adaUser == nil || adaUser.UserID != "auth0|mysql|1" || !hasPassword(adaUser) {
		t.Fatalf("ada after reset: %+v", adaUser)
	}
	if c := l.login(ada.Email, "Bernoulli-Numbers-1843"); c == nil || c["sub"] != "auth0|mysql|1" {
		t.Fatalf("login after reset: %v", c)
	}
	if l.login(ada.Email, ada.Password) != nil {
		t.Fatal("the legacy password still works for a migrated user")
	}

	// Email change onto an unmigrated legacy address: get_user refuses it.
	r := l.gql(`mutation($id: ID!) { updateUser(id: $id, input: {email: "alan@legacy.example"}) { id } }`, map[string]any{"id": barbara.ID})
	if codes := r.Codes(); len(codes) != 1 || codes[0] != "CONFLICT" {
		t.Fatalf("email change onto a legacy address: %v", r.Errors)
	}
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { updateUser(id: $id, input: {email: "barbara@mit.example"}) { id } }`,
		map[string]any{"id": barbara.ID}, nil)
	if c := l.login("barbara@mit.example", "Liskov-Substitution-87"); c == nil || c["sub"] != barbara.UserID {
		t.Fatalf("login with the changed address: %v", c)
	}

	// Deleting a migrated user runs the delete script too: otherwise the
	// legacy row would let them migrate again.
	l.s.MustGraphQL(t, l.s.AdminToken(t), `mutation($id: ID!) { deleteUser(id: $id) }`, map[string]any{"id": adaUser.ID}, nil)
	if _, _, ok := l.legacyRow(ada.Email); ok || legacy.Count(t) != rows-1 {
		t.Fatal("the delete script did not run")
	}
	if l.login(ada.Email, ada.Password) != nil || l.localUserByEmail(ada.Email) != nil {
		t.Fatal("a deleted user came back")
	}
}
