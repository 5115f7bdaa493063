// Package jstemplates holds the JavaScript rule templates offered by the
// dashboard's rule editor: Auth0's published post-login Actions and Rules
// examples, runnable here unchanged.
//
// Each template is one file in templates/ that starts with a header of line
// comments:
//
//	// id: add-roles-to-tokens
//	// name: Add user roles to tokens
//	// description: Copies app_metadata.roles into a namespaced claim.
//	// kind: action
//
// followed by the source exactly as it is uploaded.
package jstemplates

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed templates/*.js
var files embed.FS

// Template is one rule template.
type Template struct {
	ID          string
	Name        string
	Description string
	// Kind is "action" (exports.onExecutePostLogin) or "rule" (a legacy
	// function (user, context, callback)).
	Kind string
	// Source is the JavaScript to upload, without the header.
	Source string
}

// All returns every template, sorted by ID.
func All() []Template {
	var out []Template
	names, _ := fs.Glob(files, "templates/*.js")
	for _, n := range names {
		b, _ := files.ReadFile(n)
		t, err := parse(string(b))
		if err != nil {
			panic(fmt.Sprintf("jstemplates: %s: %v", n, err))
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get returns the template with that id.
func Get(id string) (Template, bool) {
	for _, t := range All() {
		if t.ID == id {
			return t, true
		}
	}
	return Template{}, false
}

func parse(s string) (Template, error) {
	var t Template
	for {
		line, rest, _ := strings.Cut(s, "\n")
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "// "), ": ")
		if !strings.HasPrefix(line, "// ") || !ok {
			break
		}
		switch k {
		case "id":
			t.ID = v
		case "name":
			t.Name = v
		case "description":
			t.Description = v
		case "kind":
			t.Kind = v
		default:
			return t, fmt.Errorf("unknown header %q", k)
		}
		s = rest
	}
	t.Source = strings.TrimLeft(s, "\n")
	if t.ID == "" || t.Name == "" || (t.Kind != "action" && t.Kind != "rule") || t.Source == "" {
		return t, fmt.Errorf("header needs id, name and kind (action or rule), and a source")
	}
	return t, nil
}
