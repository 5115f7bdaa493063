// Package mapping is the one normalization engine of upstream profiles
// (docs/PROFILE.md): a default table per strategy, mapping each normalized field to
// the upstream attributes that may hold it (first non-empty wins, up to 4
// fallbacks), per-connection overrides on top (SAML fieldsMap, LDAP
// attribute names), Auth0-style OIDC attribute_map templates, and the
// domain_aliases rule for trusting SAML and LDAP emails.
package mapping

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/authgraph/authgraph/connectors"
)

// Normalized fields a table can fill.
const (
	FieldUserID        = "user_id"
	FieldEmail         = "email"
	FieldEmailVerified = "email_verified"
	FieldName          = "name"
	FieldGivenName     = "given_name"
	FieldFamilyName    = "family_name"
	FieldNickname      = "nickname"
	FieldPicture       = "picture"
	FieldUsername      = "username"
	FieldGroups        = "groups"
)

// Fields lists every normalized field.
var Fields = []string{FieldUserID, FieldEmail, FieldEmailVerified, FieldName, FieldGivenName,
	FieldFamilyName, FieldNickname, FieldPicture, FieldUsername, FieldGroups}

// MaxFallbacks bounds the attributes one field may list (Auth0: 4).
const MaxFallbacks = 4

// Table maps a normalized field to upstream attribute names, tried in order.
type Table map[string][]string

// Clone copies t.
func (t Table) Clone() Table {
	out := make(Table, len(t))
	for k, v := range t {
		out[k] = slices.Clone(v)
	}
	return out
}

// Claim URIs of the common SAML attribute namespaces.
const (
	claims2005 = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
	claims2008 = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"
	oidMail    = "urn:oid:0.9.2342.19200300.100.1.3"
	oidGiven   = "urn:oid:2.5.4.42"
	oidSN      = "urn:oid:2.5.4.4"
	oidDisplay = "urn:oid:2.16.840.1.113730.3.1.241"
	oidCN      = "urn:oid:2.5.4.3"
	oidUID     = "urn:oid:0.9.2342.19200300.100.1.1"
	oidEPPN    = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
	oidMember  = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"
)

// Default tables per strategy (and per OAuth2 preset).
var (
	// LDAP follows Auth0's AD/LDAP connector mapper: objectGUID (AD) or
	// entryUUID (OpenLDAP) as the stable id, sAMAccountName/uid as nickname.
	LDAP = Table{
		FieldUserID:     {"objectGUID", "entryUUID", "uid", "cn"},
		FieldEmail:      {"mail", "userPrincipalName"},
		FieldName:       {"displayName", "cn"},
		FieldGivenName:  {"givenName"},
		FieldFamilyName: {"sn"},
		FieldNickname:   {"sAMAccountName", "uid", "cn"},
		FieldUsername:   {"sAMAccountName", "uid"},
		FieldGroups:     {"groups"},
	}
	// SAML covers the WS-Federation claim URIs, the eduPerson/X.500 OIDs and
	// plain attribute names.
	SAML = Table{
		FieldEmail:      {claims2005 + "emailaddress", oidMail, "email", "mail"},
		FieldName:       {claims2005 + "name", oidDisplay, "displayName", "name"},
		FieldGivenName:  {claims2005 + "givenname", oidGiven, "givenName", "given_name"},
		FieldFamilyName: {claims2005 + "surname", oidSN, "sn", "family_name"},
		FieldNickname:   {oidUID, "uid", "nickname", oidCN},
		FieldUsername:   {claims2005 + "upn", oidEPPN, "upn", "username"},
		FieldGroups:     {claims2008 + "role", claims2005 + "groups", oidMember, "groups"},
	}
	// OIDC is the standard claim set.
	OIDC = Table{
		FieldUserID:        {"sub"},
		FieldEmail:         {"email"},
		FieldEmailVerified: {"email_verified"},
		FieldName:          {"name"},
		FieldGivenName:     {"given_name"},
		FieldFamilyName:    {"family_name"},
		FieldNickname:      {"nickname", "preferred_username"},
		FieldPicture:       {"picture"},
		FieldUsername:      {"preferred_username"},
		FieldGroups:        {"groups"},
	}
	// GitHub is its /user API object (plus the verified primary email).
	GitHub = Table{
		FieldUserID:        {"id"},
		FieldEmail:         {"email"},
		FieldEmailVerified: {"email_verified"},
		FieldName:          {"name", "login"},
		FieldNickname:      {"login"},
		FieldPicture:       {"avatar_url"},
		FieldUsername:      {"login"},
	}
)

// Override returns defaults with per-connection overrides on top: each value
// is an attribute name or a list of up to MaxFallbacks names (SAML
// fieldsMap, LDAP). Unknown fields are kept as extra root attributes by the
// caller, so only known ones are checked.
func Override(defaults Table, overrides map[string]any) (Table, error) {
	t := defaults.Clone()
	for _, field := range sortedKeys(overrides) {
		var names []string
		switch v := overrides[field].(type) {
		case string:
			names = []string{v}
		case []any:
			for _, x := range v {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("%w: mapping of %q must list attribute names", connectors.ErrConfig, field)
				}
				names = append(names, s)
			}
		case []string:
			names = v
		default:
			return nil, fmt.Errorf("%w: mapping of %q must be an attribute name or a list of them", connectors.ErrConfig, field)
		}
		if len(names) == 0 || len(names) > MaxFallbacks+1 {
			return nil, fmt.Errorf("%w: mapping of %q takes 1 to %d attribute names", connectors.ErrConfig, field, MaxFallbacks+1)
		}
		t[field] = names
	}
	return t, nil
}

// Apply fills id's normalized fields from raw through t. It never sets
// Provider, and sets UserID only when empty (connectors build the final
// "<connection>|<id>" themselves). EmailVerified is set from the table only
// when the caller trusts it (see TrustEmailVerified).
func Apply(id *connectors.Identity, t Table, raw map[string]any) {
	str := func(field string) string {
		for _, attr := range t[field] {
			if s := stringOf(raw[attr]); s != "" {
				return s
			}
		}
		return ""
	}
	if id.UserID == "" {
		id.UserID = str(FieldUserID)
	}
	id.Email = str(FieldEmail)
	id.Name = str(FieldName)
	id.GivenName = str(FieldGivenName)
	id.FamilyName = str(FieldFamilyName)
	id.Nickname = str(FieldNickname)
	id.Picture = str(FieldPicture)
	id.Username = str(FieldUsername)
	for _, attr := range t[FieldGroups] {
		if g := stringsOf(raw[attr]); len(g) > 0 {
			id.Groups = g
			break
		}
	}
	for _, attr := range t[FieldEmailVerified] {
		if b, ok := boolOf(raw[attr]); ok {
			id.EmailVerified = b
			break
		}
	}
	if id.Nickname == "" && id.Email != "" {
		// Auth0's default nickname is the email's local part.
		id.Nickname = id.Email[:max(0, strings.LastIndexByte(id.Email, '@'))]
	}
}

// VerifiedByDomain reports whether email's domain is one of aliases (case
// insensitive): SAML and LDAP emails count as verified only there.
func VerifiedByDomain(email string, aliases []string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || at == len(email)-1 {
		return false
	}
	domain := strings.ToLower(email[at+1:])
	for _, a := range aliases {
		if strings.ToLower(strings.TrimSpace(a)) == domain {
			return true
		}
	}
	return false
}

// Strings reads a list-of-strings option ([]any from JSON or []string).
func Strings(v any) []string {
	return stringsOf(v)
}

var placeholder = regexp.MustCompile(`\$\{context\.(tokenset|userinfo)\.([A-Za-z0-9_:.\-/]+)\}`)

// restricted claims are never mapped (Auth0: rename them, e.g. federated_amr).
var restricted = map[string]bool{"amr": true, "acr": true, "aud": true, "azp": true, "exp": true,
	"iat": true, "iss": true, "nbf": true, "nonce": true, "sid": true, "auth_time": true, "at_hash": true, "c_hash": true}

// AttributeMap evaluates an OIDC connection's attribute_map over the ID
// token claims (tokenset) and the userinfo claims: mode "bind_all" copies
// every claim (userinfo over the token's) and then applies attributes;
// "use_map" (default) starts from the ID token's standard claims and applies
// attributes, each a template such as "${context.tokenset.preferred_username}"
// or a literal. A value that is one placeholder keeps its JSON type.
// Restricted claims (amr, aud…) are never mapped.
func AttributeMap(attrMap map[string]any, tokenset, userinfo map[string]any) map[string]any {
	out := map[string]any{}
	mode, _ := attrMap["mapping_mode"].(string)
	if mode == "bind_all" {
		for k, v := range tokenset {
			out[k] = v
		}
		for k, v := range userinfo {
			out[k] = v
		}
	} else {
		for _, attrs := range OIDC {
			for _, a := range attrs {
				if v, ok := userinfo[a]; ok {
					out[a] = v
				} else if v, ok := tokenset[a]; ok {
					out[a] = v
				}
			}
		}
		out["sub"] = tokenset["sub"]
	}
	for k := range out {
		if restricted[k] {
			delete(out, k)
		}
	}
	attrs, _ := attrMap["attributes"].(map[string]any)
	ctx := map[string]map[string]any{"tokenset": tokenset, "userinfo": userinfo}
	for _, field := range sortedKeys(attrs) {
		if restricted[field] || field == "sub" {
			continue
		}
		tmpl, ok := attrs[field].(string)
		if !ok {
			out[field] = attrs[field]
			continue
		}
		if v, ok := Template(tmpl, ctx); ok {
			out[field] = v
		} else {
			delete(out, field)
		}
	}
	return out
}

// Template evaluates one attribute_map value. ok is false when it refers
// only to absent claims.
func Template(tmpl string, ctx map[string]map[string]any) (any, bool) {
	if m := placeholder.FindStringSubmatchIndex(tmpl); m != nil && m[0] == 0 && m[1] == len(tmpl) {
		v, ok := ctx[tmpl[m[2]:m[3]]][tmpl[m[4]:m[5]]]
		return v, ok && v != nil
	}
	found := false
	out := placeholder.ReplaceAllStringFunc(tmpl, func(p string) string {
		sm := placeholder.FindStringSubmatch(p)
		v, ok := ctx[sm[1]][sm[2]]
		if !ok || v == nil {
			return ""
		}
		found = true
		return stringOf(v)
	})
	if !found && placeholder.MatchString(tmpl) {
		return nil, false
	}
	return out, true
}

// MaxProfileData bounds an identity's profile_data (64 KB of JSON).
const MaxProfileData = 64 << 10

// Sanitize returns raw without the denied attributes (non_persistent_attrs)
// and, when its JSON is over MaxProfileData, without its largest attributes
// until it fits.
func Sanitize(raw map[string]any, denied []string) map[string]any {
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		if !slices.Contains(denied, k) {
			out[k] = v
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		// Not JSON-representable: keep what is.
		for k, v := range out {
			if _, err := json.Marshal(v); err != nil {
				delete(out, k)
			}
		}
		b, _ = json.Marshal(out)
	}
	if len(b) <= MaxProfileData {
		return out
	}
	type kv struct {
		k string
		n int
	}
	var sizes []kv
	for k, v := range out {
		vb, _ := json.Marshal(v)
		sizes = append(sizes, kv{k, len(vb) + len(k) + 4})
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i].n > sizes[j].n })
	total := len(b)
	for _, s := range sizes {
		if total <= MaxProfileData {
			break
		}
		delete(out, s.k)
		total -= s.n
	}
	return out
}

func stringOf(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case []any:
		if len(x) > 0 {
			return stringOf(x[0])
		}
	case []string:
		if len(x) > 0 {
			return strings.TrimSpace(x[0])
		}
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprint(x)
	case int, int64, json.Number:
		return fmt.Sprint(x)
	}
	return ""
}

func stringsOf(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		if s := strings.TrimSpace(x); s != "" {
			out = append(out, s)
		}
	case []string:
		for _, s := range x {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []any:
		for _, e := range x {
			if s := stringOf(e); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func boolOf(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string: // some IdPs send "true"
		switch strings.ToLower(x) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
