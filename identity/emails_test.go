package identity

import (
	"errors"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/emailaddr"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
)

// TestUpstreamLookAlikeEmailIsNotStored: an IdP (OIDC, SAML, LDAP, a custom
// database's script) asserting a look-alike address does not get it stored:
// the login goes on, the user has no email and so none verified, and
// SyncResult.RefusedEmail says why (the caller logs it). A valid
// internationalized address is stored in its normalized form.
func TestUpstreamLookAlikeEmailIsNotStored(t *testing.T) {
	forBackends(t, func(t *testing.T, db *ent.Client) {
		conn := mkConn(t, db, "idp", connection.StrategyOidc, map[string]any{})
		in := upstream("idp", "s1", "alice@example.com\u200b", "Alice")
		r, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: conn, Identity: in})
		if err != nil {
			t.Fatal(err)
		}
		if r.User.Email != nil || r.User.EmailVerified || !refusedFor(r.RefusedEmail, emailaddr.ErrInvisible) {
			t.Fatalf("look-alike stored: email %v verified %v refused %v", r.User.Email, r.User.EmailVerified, r.RefusedEmail)
		}

		// The next login brings a real internationalized address: stored
		// normalized (NFC, ASCII domain).
		in.Email = "Jose\u0301@Bücher.de"
		r, err = SyncUpstream(sysCtx, db, UpstreamLogin{Connection: conn, Identity: in})
		if err != nil || r.RefusedEmail != nil {
			t.Fatal(err, r.RefusedEmail)
		}
		if r.User.Email == nil || *r.User.Email != "José@xn--bcher-kva.de" || !r.User.EmailVerified {
			t.Fatalf("stored %v (verified %v)", r.User.Email, r.User.EmailVerified)
		}

		// Then a Cyrillic "а" in the domain: the address and its
		// verification are dropped, the login still succeeds.
		in.Email = "alice@ex\u0430mple.com"
		r, err = SyncUpstream(sysCtx, db, UpstreamLogin{Connection: conn, Identity: in})
		if err != nil {
			t.Fatal(err)
		}
		if r.User.Email != nil || r.User.EmailVerified || !refusedFor(r.RefusedEmail, emailaddr.ErrMixedScripts) {
			t.Fatalf("look-alike stored: email %v verified %v refused %v", r.User.Email, r.User.EmailVerified, r.RefusedEmail)
		}
		if r.User.LoginsCount != 3 {
			t.Fatalf("logins_count %d", r.User.LoginsCount)
		}
	})
}

// refusedFor reports whether err is the email's *ValidationError for reason.
func refusedFor(err, reason error) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Field == "email" && strings.HasPrefix(ve.Message, reason.Error())
}
