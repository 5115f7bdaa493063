package jstemplates

import (
	"strings"
	"testing"

	"github.com/authgraph/authgraph/rules"
)

func TestAllTemplates(t *testing.T) {
	all := All()
	if len(all) < 10 {
		t.Fatalf("%d templates, want the gallery (at least 10)", len(all))
	}
	seen := map[string]bool{}
	kinds := map[string]int{}
	for _, tp := range all {
		if seen[tp.ID] {
			t.Fatalf("duplicate id %s", tp.ID)
		}
		seen[tp.ID] = true
		kinds[tp.Kind]++
		if tp.Description == "" {
			t.Errorf("%s: no description", tp.ID)
		}
		if got := rules.DetectKind(tp.Source); got != tp.Kind {
			t.Errorf("%s: header says kind %s, the source is a %s", tp.ID, tp.Kind, got)
		}
		if strings.Contains(tp.Source, "// id: ") || strings.HasPrefix(tp.Source, "\n") {
			t.Errorf("%s: the header leaked into the source", tp.ID)
		}
		if tp.Kind == rules.KindAction && !strings.Contains(tp.Source, "exports.onExecutePostLogin") {
			t.Errorf("%s: an Action without exports.onExecutePostLogin", tp.ID)
		}
		got, ok := Get(tp.ID)
		if !ok || got != tp {
			t.Errorf("Get(%s) = %+v, %v", tp.ID, got, ok)
		}
	}
	if kinds[rules.KindAction] < 5 || kinds[rules.KindRule] < 5 {
		t.Fatalf("kinds = %v, want Actions and Rules", kinds)
	}
	if _, ok := Get("no-such-template"); ok {
		t.Fatal("Get of an unknown id succeeded")
	}
}

func TestParseRefusesBadHeaders(t *testing.T) {
	for _, src := range []string{
		"// id: x\n// name: X\n// kind: plugin\nfunction (u, c, cb) {}\n",
		"// id: x\n// kind: rule\nfunction (u, c, cb) {}\n",
		"// id: x\n// name: X\n// kind: rule\n// colour: red\nfunction (u, c, cb) {}\n",
		"// id: x\n// name: X\n// kind: rule\n",
	} {
		if _, err := parse(src); err == nil {
			t.Errorf("parse(%q) succeeded", src)
		}
	}
}
