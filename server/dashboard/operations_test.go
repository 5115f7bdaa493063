package dashboard

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/authgraph/authgraph/graph/generated"
)

// jsTemplate matches a JavaScript template literal (no nested backticks in
// the dashboard's scripts); constName an exported or local constant holding one.
var (
	jsTemplate = regexp.MustCompile("`[^`]*`")
	constName  = regexp.MustCompile("(?m)^(?:export )?const ([A-Z_]+) = `([^`]*)`")
	interp     = regexp.MustCompile(`\$\{\s*([A-Za-z_]+)\s*\}`)
)

// scriptOperations returns the GraphQL operations written in the
// dashboard's scripts whose names start with prefix (template literals
// starting with {, query or mutation), with ${CONST} references to
// constant fragments of any script filled in.
func scriptOperations(t *testing.T, prefix string) map[string][]string {
	t.Helper()
	sources := map[string]string{}
	consts := map[string]string{}
	err := fs.WalkDir(assetsFS, "assets/js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetsFS.ReadFile(p)
		sources[p] = string(b)
		for _, m := range constName.FindAllStringSubmatch(string(b), -1) {
			consts[m[1]] = m[2]
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string][]string{}
	for p, src := range sources {
		if !strings.HasPrefix(p, "assets/js/"+prefix) {
			continue
		}
		for _, lit := range jsTemplate.FindAllString(src, -1) {
			op := strings.TrimSpace(lit[1 : len(lit)-1])
			if !strings.HasPrefix(op, "{") && !strings.HasPrefix(op, "query") && !strings.HasPrefix(op, "mutation") {
				continue
			}
			// Constants may name other constants.
			for i := 0; i < 5 && interp.MatchString(op); i++ {
				op = interp.ReplaceAllStringFunc(op, func(ref string) string {
					name := interp.FindStringSubmatch(ref)[1]
					v, ok := consts[name]
					if !ok {
						t.Errorf("%s: an operation interpolates %s, which is not a constant: pass values as GraphQL variables\n%s", p, ref, op)
					}
					return v
				})
			}
			ops[p] = append(ops[p], op)
		}
	}
	return ops
}

// TestRuleEditorOperationsMatchTheSchema: every GraphQL operation of the
// rules pages' scripts (the rule editor's createRule/updateRule/testRule
// with javascript, ruleTemplates, the rules list's language…) is valid
// against the server's schema, so a renamed field or argument fails here
// rather than in an administrator's browser.
func TestRuleEditorOperationsMatchTheSchema(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	ops := scriptOperations(t, "rule")
	n := 0
	for p, list := range ops {
		for _, op := range list {
			n++
			if _, errs := gqlparser.LoadQuery(schema, op); len(errs) > 0 {
				t.Errorf("%s: %v\n%s", p, errs, op)
			}
		}
	}
	for _, p := range []string{"assets/js/ruleeditor.js", "assets/js/rulegallery.js", "assets/js/rules.js"} {
		if len(ops[p]) == 0 {
			t.Errorf("found no operation in %s", p)
		}
	}
	t.Logf("%d operations checked", n)
}
