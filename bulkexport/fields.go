package bulkexport

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/authgraph/authgraph/identity"
)

// Field is one exported column, as Auth0's users-exports body names it:
// Name is a path into the user ("email", "identities[0].connection",
// "app_metadata.plan"), ExportAs the column (CSV) or key (JSON) to write it
// under (default: Name).
type Field struct {
	Name     string `json:"name"`
	ExportAs string `json:"export_as,omitempty"`
}

// Key is the column or key the field is written under.
func (f Field) Key() string {
	if f.ExportAs != "" {
		return f.ExportAs
	}
	return f.Name
}

// MaxFields bounds a field list (Auth0's limit).
const MaxFields = 30

// Root fields of a user that can be exported. Objects and arrays
// (identities, app_metadata, user_metadata) can be exported whole or by
// path.
var roots = map[string]bool{
	"user_id": true, "email": true, "email_verified": true, "username": true,
	"phone_number": true, "phone_verified": true, "name": true, "given_name": true,
	"family_name": true, "nickname": true, "picture": true, "blocked": true,
	"created_at": true, "updated_at": true, "last_login": true, "last_ip": true,
	"logins_count": true, "last_password_reset": true,
	"identities": true, "app_metadata": true, "user_metadata": true,
	// Only with Options.IncludePasswordHashes.
	"password_hash": true, "custom_password_hash": true,
}

// DefaultFields is the field set of an export that names none.
//
// JSON: exactly the properties of Auth0's bulk-import schema, so that the
// file imports as is (the importer refuses any other property, as Auth0's
// does). user_id is the primary identity's id without its provider
// prefix ("abc" for "auth0|abc"), because an import gives the id it is
// given its own provider prefix: a database user re-imported into a
// database connection keeps its user_id. With IncludePasswordHashes,
// password_hash and custom_password_hash follow.
//
// CSV, which imports do not read, is for people: the profile, its
// timestamps and counters, and the primary identity's connection (objects
// and arrays are exported by path, as Auth0's CSV export does).
func DefaultFields(f Format) []Field {
	if f == CSV {
		return []Field{
			{Name: "user_id"}, {Name: "email"}, {Name: "email_verified"}, {Name: "username"},
			{Name: "phone_number"}, {Name: "name"}, {Name: "given_name"}, {Name: "family_name"},
			{Name: "nickname"}, {Name: "picture"}, {Name: "blocked"}, {Name: "created_at"},
			{Name: "updated_at"}, {Name: "last_login"}, {Name: "logins_count"},
			{Name: "identities[0].connection", ExportAs: "connection"},
		}
	}
	return []Field{
		{Name: "identities[0].user_id", ExportAs: "user_id"}, {Name: "email"}, {Name: "email_verified"},
		{Name: "username"}, {Name: "given_name"}, {Name: "family_name"}, {Name: "name"}, {Name: "nickname"},
		{Name: "picture"}, {Name: "blocked"}, {Name: "app_metadata"}, {Name: "user_metadata"},
	}
}

// step is one element of a parsed path: a key, or an array index.
type step struct {
	key   string
	index int // -1 for a key
}

type column struct {
	key  string
	root string
	rest []step
}

// parsePath parses "identities[0].connection" into its root and steps.
func parsePath(p string) (string, []step, error) {
	if p == "" || len(p) > 512 {
		return "", nil, fmt.Errorf("a field name is empty or too long")
	}
	var steps []step
	i := 0
	readKey := func() (string, error) {
		j := i
		for j < len(p) && p[j] != '.' && p[j] != '[' {
			if p[j] == ']' {
				return "", fmt.Errorf("field %q: unexpected ']'", p)
			}
			j++
		}
		if j == i {
			return "", fmt.Errorf("field %q: empty name segment", p)
		}
		k := p[i:j]
		i = j
		return k, nil
	}
	root, err := readKey()
	if err != nil {
		return "", nil, err
	}
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
			k, err := readKey()
			if err != nil {
				return "", nil, err
			}
			steps = append(steps, step{key: k, index: -1})
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return "", nil, fmt.Errorf("field %q: missing ']'", p)
			}
			n, err := strconv.Atoi(p[i+1 : i+end])
			if err != nil || n < 0 || n > 1000 {
				return "", nil, fmt.Errorf("field %q: an array index is a number from 0 to 1000", p)
			}
			steps = append(steps, step{index: n})
			i += end + 1
		default:
			return "", nil, fmt.Errorf("field %q: unexpected %q", p, p[i])
		}
	}
	return root, steps, nil
}

// columns validates fields and parses their paths.
func columns(fields []Field, o Options) ([]column, error) {
	if len(fields) > MaxFields {
		return nil, &identity.ValidationError{Field: "fields", Message: fmt.Sprintf("at most %d fields can be exported", MaxFields)}
	}
	seen := map[string]bool{}
	out := make([]column, 0, len(fields))
	for _, f := range fields {
		root, rest, err := parsePath(f.Name)
		if err != nil {
			return nil, &identity.ValidationError{Field: "fields", Message: err.Error()}
		}
		if !roots[root] {
			return nil, &identity.ValidationError{Field: "fields", Message: fmt.Sprintf("field %q: %q is not a user field that can be exported", f.Name, root)}
		}
		if (root == "password_hash" || root == "custom_password_hash") && !o.IncludePasswordHashes {
			return nil, &identity.ValidationError{Field: "fields", Message: fmt.Sprintf("field %q: password hashes are exported only by the command line tool, with --include-password-hashes", f.Name)}
		}
		if root == "password_hash" && len(rest) > 0 {
			return nil, &identity.ValidationError{Field: "fields", Message: fmt.Sprintf("field %q: password_hash is a string", f.Name)}
		}
		k := f.Key()
		if len(k) > 512 {
			return nil, &identity.ValidationError{Field: "fields", Message: "export_as is too long"}
		}
		if seen[k] {
			return nil, &identity.ValidationError{Field: "fields", Message: fmt.Sprintf("two fields are exported as %q", k)}
		}
		seen[k] = true
		out = append(out, column{key: k, root: root, rest: rest})
	}
	return out, nil
}

// walk follows steps into a decoded JSON value (maps, slices).
func walk(v any, steps []step) any {
	for _, s := range steps {
		switch x := v.(type) {
		case map[string]any:
			if s.index >= 0 {
				return nil
			}
			v = x[s.key]
		case []any:
			if s.index < 0 || s.index >= len(x) {
				return nil
			}
			v = x[s.index]
		default:
			return nil
		}
	}
	return v
}
