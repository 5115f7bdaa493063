package mapping

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/connectors"
)

func TestApplySAMLDefaultsAndOverrides(t *testing.T) {
	raw := map[string]any{
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": []any{"Ann@Corp.example"},
		"urn:oid:2.5.4.42": "Ann",
		"sn":               "Smith",
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/role": []any{"admins", "staff"},
		"dept_name": "Research",
	}
	var id connectors.Identity
	Apply(&id, SAML, raw)
	if id.Email != "Ann@Corp.example" || id.GivenName != "Ann" || id.FamilyName != "Smith" || id.Nickname != "Ann" {
		t.Fatalf("defaults: %+v", id)
	}
	if strings.Join(id.Groups, ",") != "admins,staff" {
		t.Fatalf("groups: %v", id.Groups)
	}
	tbl, err := Override(SAML, map[string]any{"name": []any{"missing", "dept_name"}, "nickname": "sn"})
	if err != nil {
		t.Fatal(err)
	}
	id = connectors.Identity{}
	Apply(&id, tbl, raw)
	if id.Name != "Research" || id.Nickname != "Smith" {
		t.Fatalf("overrides: %+v", id)
	}
	if _, err := Override(SAML, map[string]any{"name": []any{"a", "b", "c", "d", "e", "f"}}); err == nil {
		t.Fatal("6 names accepted (1 + 4 fallbacks max)")
	}
	if _, err := Override(SAML, map[string]any{"name": 3.0}); err == nil {
		t.Fatal("a number accepted as attribute name")
	}
}

func TestAttributeMap(t *testing.T) {
	tok := map[string]any{"sub": "u1", "email": "a@x.test", "email_verified": true, "preferred_username": "ann", "amr": []any{"pwd"}, "aud": "c"}
	ui := map[string]any{"sub": "u1", "name": "Ann A", "locale": "fr", "department": "R&D"}
	out := AttributeMap(map[string]any{"mapping_mode": "use_map", "attributes": map[string]any{
		"nickname": "${context.tokenset.preferred_username}",
		"title":    "Dr ${context.userinfo.name} (${context.userinfo.department})",
		"verified": "${context.tokenset.email_verified}",
		"amr":      "${context.tokenset.amr}",
		"gone":     "${context.userinfo.nope}",
		"plan":     "gold",
	}}, tok, ui)
	want := map[string]any{"sub": "u1", "email": "a@x.test", "email_verified": true, "preferred_username": "ann",
		"name": "Ann A", "nickname": "ann", "title": "Dr Ann A (R&D)", "verified": true, "plan": "gold"}
	a, _ := json.Marshal(out)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Fatalf("use_map:\n got %s\nwant %s", a, b)
	}
	out = AttributeMap(map[string]any{"mapping_mode": "bind_all"}, tok, ui)
	if out["locale"] != "fr" || out["department"] != "R&D" || out["amr"] != nil || out["aud"] != nil {
		t.Fatalf("bind_all: %v", out)
	}
}

func TestVerifiedByDomain(t *testing.T) {
	al := []string{"corp.example", "Example.ORG"}
	for email, want := range map[string]bool{"a@corp.example": true, "a@EXAMPLE.org": true, "a@evil.test": false,
		"a@sub.corp.example": false, "corp.example": false, "a@": false} {
		if got := VerifiedByDomain(email, al); got != want {
			t.Errorf("%q: %v", email, got)
		}
	}
}

func TestSanitize(t *testing.T) {
	raw := map[string]any{"a": "1", "secret": "x", "big": strings.Repeat("z", 70<<10), "mid": strings.Repeat("m", 1000)}
	out := Sanitize(raw, []string{"secret"})
	if _, ok := out["secret"]; ok {
		t.Fatal("denied attribute kept")
	}
	if _, ok := out["big"]; ok {
		t.Fatal("oversized attribute kept")
	}
	if out["a"] != "1" || out["mid"] == nil {
		t.Fatalf("lost small attributes: %v", out)
	}
	b, _ := json.Marshal(out)
	if len(b) > MaxProfileData {
		t.Fatal("over 64 KB")
	}
}
