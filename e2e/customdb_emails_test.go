package e2e

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// TestCustomDBLookAlikeProfileEmailIsNotStored: a legacy database whose
// login script returns a look-alike address ("alice@example.com" followed by
// U+200B) still logs its user in, but Authgraph does not store the address
// (neither as the user's email nor as the identity's login email) and the
// ID token carries none.
func TestCustomDBLookAlikeProfileEmailIsNotStored(t *testing.T) {
	legacy := customdbtest.Postgres(t)
	module := base64.StdEncoding.EncodeToString(customdbtest.ASTemplates(t)["postgres"])
	scripts := map[string]string{}
	for _, op := range customdb.Ops {
		scripts[op] = module
	}
	l := newLifecycle(t, testenv.Postgres(t), legacy, map[string]any{}, scripts)
	lookAlike := "alice@example.com\u200b"
	h, _ := bcrypt.GenerateFromPassword([]byte("Alice-legacy-pass-1"), 10)
	if _, err := legacy.Admin.Exec(fmt.Sprintf("INSERT INTO users (email, password, nickname) VALUES (%s, %s, %s)", l.ph(1), l.ph(2), l.ph(3)),
		lookAlike, string(h), "alice"); err != nil {
		t.Fatal(err)
	}
	claims := l.login(lookAlike, "Alice-legacy-pass-1")
	if claims == nil {
		t.Fatal("the login was refused")
	}
	if e, ok := claims["email"]; ok {
		t.Fatalf("ID token email %q", e)
	}
	sub, _ := claims["sub"].(string)
	u := l.localUser(sub)
	if u == nil || u.Email != nil || u.EmailVerified {
		t.Fatalf("local user %+v", u)
	}
	for _, idn := range u.Edges.Identities {
		if idn.EmailLower != nil && strings.Contains(*idn.EmailLower, "alice") {
			t.Fatalf("identity keeps the look-alike %q", *idn.EmailLower)
		}
	}
}
