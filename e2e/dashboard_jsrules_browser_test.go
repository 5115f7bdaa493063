package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/authgraph/authgraph/rules/jstemplates"
)

// TestDashboardJavaScriptRuleInBrowser writes a JavaScript rule in the
// dashboard's editor: a template from the gallery is saved as a new rule, a
// syntax error is shown at the line and column the API reports (and saves
// nothing), and the test panel runs the edited source on a real user.
func TestDashboardJavaScriptRuleInBrowser(t *testing.T) {
	f := setupDashboard(t)
	s := f.s
	tpl, ok := jstemplates.Get("add-roles-to-tokens")
	if !ok {
		t.Fatal("no add-roles-to-tokens template")
	}
	// Erin holds two roles: the template puts event.authorization.roles in the tokens.
	var erin struct{ CreateUser struct{ ID string } }
	s.MustGraphQL(t, f.admin, `mutation { createUser(input: {connection: "Username-Password-Authentication",
		email: "erin@example.com", password: "Enigma-Rotor-1941!", emailVerified: true}) { id } }`, nil, &erin)
	var roleIDs []string
	for _, name := range []string{"admin", "editor"} {
		var role struct{ CreateRole struct{ ID string } }
		s.MustGraphQL(t, f.admin, `mutation($n: String!) { createRole(input: {name: $n}) { id } }`, map[string]any{"n": name}, &role)
		roleIDs = append(roleIDs, role.CreateRole.ID)
	}
	s.MustGraphQL(t, f.admin, `mutation($u: ID!, $r: [ID!]!) { assignUserRoles(userId: $u, roleIds: $r) { id } }`,
		map[string]any{"u": erin.CreateUser.ID, "r": roleIDs}, nil)

	c := newChrome(t, s)
	c.signIn(s, "ada@example.com", "Analytical-Engine-1843")
	c.waitJS(`!!document.querySelector("#result-count")`)
	c.run(chromedp.Click(chromedp.CSS(`#nav a[data-section="rules"]`)))
	c.waitJS(`(document.querySelector("main h1") || {}).textContent === "Rules"`)
	c.run(chromedp.Click(chromedp.CSS(`#new-js-rule`)))
	c.waitJS(`(document.querySelector("main h1") || {}).textContent === "New JavaScript rule"`)

	// The editor: Tab indents; Esc then Tab leaves (no keyboard trap).
	const ta = `#rule-form textarea.code`
	c.run(chromedp.Focus(chromedp.CSS(ta)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#rule-form textarea.code").setSelectionRange(0, 0)`),
		chromedp.KeyEvent(kb.Tab))
	c.waitJS(`document.querySelector("#rule-form textarea.code").value.startsWith("  exports.") && document.activeElement.matches("textarea.code")`)
	c.run(chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Tab))
	c.waitJS(`!document.activeElement.matches("textarea.code")`)

	// The gallery: the template fills the editor and the name.
	c.run(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), chromedp.Click(chromedp.CSS(`#gallery-toggle`)))
	card := `#rule-gallery [data-template="add-roles-to-tokens"]`
	c.waitJS(fmt.Sprintf(`!!document.querySelector(%q)`, card+" button"))
	if got := c.text(card + " h4"); !strings.Contains(got, "Add user roles to tokens") || !strings.Contains(got, "Action") {
		t.Fatalf("template card: %q", got)
	}
	c.shot("rules-js-gallery")
	c.run(chromedp.Click(chromedp.CSS(card + " button")))
	c.waitJS(fmt.Sprintf(`document.querySelector(%q).value === %q && document.querySelector("#rule-form input[name=name]").value === %q`, ta, tpl.Source, tpl.Name))

	// Save: the rule exists with that source.
	c.run(chromedp.Click(chromedp.CSS(`#rule-form button[type=submit]`)))
	c.waitJS(fmt.Sprintf(`(document.querySelector("main h1") || {}).textContent === %q && document.querySelector("#rule-meta").textContent.includes("version")`, tpl.Name))
	type stored struct {
		Rule struct{ ID, Javascript, Language, Version string }
	}
	var got stored
	s.MustGraphQL(t, f.admin, `query($n: ID!) { rule(id: $n) { id javascript language version } }`, map[string]any{"n": tpl.Name}, &got)
	if got.Rule.Javascript != tpl.Source || got.Rule.Language != "JAVASCRIPT" {
		t.Fatalf("saved rule: %+v", got.Rule)
	}
	c.shot("rules-js-editor")

	// A syntax error: shown at the API's line and column, caret there; nothing saved.
	lines := strings.Split(tpl.Source, "\n")
	bad := -1
	for i, l := range lines {
		if strings.Contains(l, "const namespace =") {
			bad, lines[i] = i+1, strings.TrimSuffix(l, ";")+");"
		}
	}
	if bad < 0 {
		t.Fatal("the template has no namespace line")
	}
	broken := strings.Join(lines, "\n")
	r := s.GraphQL(t, f.admin, `mutation($id: ID!, $js: String!) { updateRule(id: $id, input: {javascript: $js}) { id } }`, map[string]any{"id": got.Rule.ID, "js": broken})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "javascript" {
		t.Fatalf("the API on a syntax error: %+v", r)
	}
	line, _ := r.Errors[0].Extensions["line"].(float64)
	col, _ := r.Errors[0].Extensions["column"].(float64)
	if int(line) != bad || col < 1 {
		t.Fatalf("the API reports %v:%v, the error is on line %d", line, col, bad)
	}
	c.setText(ta, broken)
	c.run(chromedp.Click(chromedp.CSS(`#rule-form button[type=submit]`)))
	c.waitJS(`!!document.querySelector("#rule-form .code-lines .error")`)
	if mark := c.text(`#rule-form .code-lines .error`); mark != fmt.Sprint(bad) {
		t.Errorf("the gutter marks line %q, want %d", mark, bad)
	}
	if pos := c.text(`#rule-form .code-pos`); pos != fmt.Sprintf("Ln %d, Col %d", bad, int(col)) {
		t.Errorf("caret at %q, want line %d column %d", pos, bad, int(col))
	}
	c.waitJS(`document.activeElement.matches("#rule-form textarea.code") && document.querySelector("#rule-form textarea.code").getAttribute("aria-invalid") === "true" &&
		document.getElementById(document.querySelector("#rule-form textarea.code").id + "-err").textContent !== ""`)
	c.shot("rules-js-syntax-error")
	var after stored
	s.MustGraphQL(t, f.admin, `query($n: ID!) { rule(id: $n) { id javascript language version } }`, map[string]any{"n": tpl.Name}, &after)
	if after.Rule != got.Rule {
		t.Fatalf("a source with a syntax error changed the rule: %+v", after.Rule)
	}
	// Typing clears the mark.
	c.run(chromedp.SendKeys(chromedp.CSS(ta), " "))
	c.waitJS(`!document.querySelector("#rule-form .code-lines .error") && !document.querySelector("#rule-form textarea.code").hasAttribute("aria-invalid")`)

	// The test panel runs the edited (unsaved) source on Erin's login.
	edited := strings.Replace(tpl.Source, "=> {\n", "=> {\n  console.log('roles: ' + event.authorization.roles.length);\n", 1)
	if edited == tpl.Source {
		t.Fatal("the template has no arrow function body")
	}
	c.setText(ta, edited)
	c.setText(`#rule-test input[name=userId]`, erin.CreateUser.ID)
	c.run(chromedp.Click(chromedp.CSS(`#rule-test button[type=submit]`)))
	c.waitJS(`document.querySelector("#js-test-result").textContent.includes(" ms") && !!document.querySelector("#js-test-result pre.rule-commands")`)
	res := c.text(`#js-test-result`)
	if !strings.Contains(res, "Allowed") || !strings.Contains(res, `"https://my-app.example.com/roles": [`) || !strings.Contains(res, `"editor"`) || !strings.Contains(res, "roles: 2") {
		t.Fatalf("test result:\n%s", res)
	}
	c.shot("rules-js-test")

	// The list shows the language; the rule's name opens its source.
	c.run(chromedp.Click(chromedp.CSS(`main a[href="#/rules"]`)))
	c.waitJS(`(document.querySelector("main h1") || {}).textContent === "Rules"`)
	link := fmt.Sprintf(`main tbody a[href="#/rules/%s"]`, got.Rule.ID)
	if row := c.text(`main tbody tr`); !strings.Contains(row, tpl.Name) || !strings.Contains(row, "JavaScript") {
		t.Fatalf("rules list row: %q", row)
	}
	c.run(chromedp.Click(chromedp.CSS(link)))
	c.waitJS(fmt.Sprintf(`!!document.querySelector(%q) && document.querySelector(%q).value === %q`, ta, ta, tpl.Source))
}
