package graph_test

import (
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

// TestLookAlikeEmails: "alice@example.com" followed by U+200B, or with a
// Cyrillic "а" in its domain, was accepted as a new user. Every address the
// management API takes is normalized (NFC, ASCII domain) and look-alikes
// (invisible characters, mixed scripts) are refused as BAD_USER_INPUT on
// field email, writing nothing; lookups normalize the same way.
func TestLookAlikeEmails(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		alice := createUser(t, s, map[string]any{"email": "alice@example.com"})
		lookAlikes := map[string]string{
			"zero-width space after":     "alice@example.com\u200b",
			"zero-width joiner inside":   "ali\u200dce@example.com",
			"Cyrillic а in the domain":   "alice@ex\u0430mple.com",
			"the same, as punycode":      "alice@xn--exmple-4nf.com",
			"Cyrillic а in the local":    "\u0430lice@example.com",
			"right-to-left override":     "alice@\u202eexample.com",
			"soft hyphen in the domain":  "alice@exam\u00adple.com",
			"Hangul filler":              "alice\u3164@example.com",
			"no-break space":             "alice\u00a0@example.com",
			"trailing dot of the domain": "alice@example.com.",
		}
		for name, email := range lookAlikes {
			t.Run("createUser: "+name, func(t *testing.T) {
				sn := takeSnapshot(t, s, alice.ID)
				r := s.GraphQL(t, admin, createUserMutation, map[string]any{"in": map[string]any{"connection": defaultConn, "email": email, "password": "Look-Alike-Password-1"}})
				expectError(t, r, "BAD_USER_INPUT", "email")
				sn.assertUnchanged(t, s)
			})
			t.Run("updateUser: "+name, func(t *testing.T) {
				sn := takeSnapshot(t, s, alice.ID)
				r := s.GraphQL(t, admin, updateUserMutation, map[string]any{"id": alice.ID, "in": map[string]any{"email": email}})
				expectError(t, r, "BAD_USER_INPUT", "email")
				sn.assertUnchanged(t, s)
			})
			t.Run("usersByEmail: "+name, func(t *testing.T) {
				// As for any string that is no stored address: an empty list
				// (the lookup's contract), never alice.
				var out struct{ UsersByEmail []struct{ ID string } }
				s.MustGraphQL(t, admin, `query($e: String!) { usersByEmail(email: $e) { id } }`, map[string]any{"e": email}, &out)
				if len(out.UsersByEmail) != 0 {
					t.Fatalf("usersByEmail(%q) = %+v", email, out.UsersByEmail)
				}
			})
		}

		t.Run("an account stored before normalization is still found as typed", func(t *testing.T) {
			legacy := "bob@example.com\u200b"
			u, err := s.Deps.DB.Ent.User.Create().SetUserID("oidc|legacy|bob").SetEmail(legacy).Save(systemCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			var out struct{ UsersByEmail []struct{ UserID string } }
			s.MustGraphQL(t, admin, `query($e: String!) { usersByEmail(email: $e) { userId } }`, map[string]any{"e": legacy}, &out)
			if len(out.UsersByEmail) != 1 || out.UsersByEmail[0].UserID != u.UserID {
				t.Fatalf("usersByEmail(%q) = %+v", legacy, out.UsersByEmail)
			}
		})
		t.Run("width variants are the address they imitate", func(t *testing.T) {
			sn := takeSnapshot(t, s)
			r := s.GraphQL(t, admin, createUserMutation, map[string]any{"in": map[string]any{"connection": defaultConn, "email": "alice@ｅｘａｍｐｌｅ.com"}})
			expectError(t, r, "CONFLICT", "email")
			sn.assertUnchanged(t, s)
		})
		t.Run("an internationalized address is stored in one form", func(t *testing.T) {
			jose := createUser(t, s, map[string]any{"email": "Jose\u0301@Bücher.DE"})
			if got := deref(jose.Email); got != "josé@xn--bcher-kva.de" {
				t.Fatalf("stored %q", got)
			}
			for _, typed := range []string{"josé@bücher.de", "jose\u0301@xn--bcher-kva.de", " JOSÉ@BÜCHER.DE "} {
				var out struct{ UsersByEmail []struct{ ID string } }
				s.MustGraphQL(t, admin, `query($e: String!) { usersByEmail(email: $e) { id } }`, map[string]any{"e": typed}, &out)
				if len(out.UsersByEmail) != 1 || out.UsersByEmail[0].ID != jose.ID {
					t.Errorf("usersByEmail(%q) = %+v", typed, out.UsersByEmail)
				}
			}
			if got := searchEmails(t, s, `email.domain:"bücher.de"`); len(got) != 1 || got[0] != "josé@xn--bcher-kva.de" {
				t.Errorf("email.domain search found %q", got)
			}
			r := s.GraphQL(t, admin, createUserMutation, map[string]any{"in": map[string]any{"connection": defaultConn, "email": "josé@BÜCHER.de"}})
			expectError(t, r, "CONFLICT", "email")
			// A single-script non-Latin address is a real one.
			createUser(t, s, map[string]any{"email": "алиса@пример.рф"})
		})
	})
}
