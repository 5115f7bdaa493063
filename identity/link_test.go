package identity

import (
	"errors"
	"testing"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	entidentity "github.com/authgraph/authgraph/ent/identity"
)

func TestLinkAndUnlink(t *testing.T) {
	forBackends(t, func(t *testing.T, db *ent.Client) {
		a := mkConn(t, db, "a", connection.StrategyOidc, nil)
		b := mkConn(t, db, "b", connection.StrategyOidc, nil)
		ra, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: a, Identity: upstream("a", "1", "pat@x.test", "Pat A")})
		if err != nil {
			t.Fatal(err)
		}
		rb, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: b, Identity: upstream("b", "9", "pat@x.test", "Pat B")})
		if err != nil {
			t.Fatal(err)
		}
		if ra.User.ID == rb.User.ID {
			t.Fatal("same email merged")
		}
		if err := db.User.UpdateOne(ra.User).SetAppMetadata(map[string]any{"plan": "gold"}).Exec(sysCtx); err != nil {
			t.Fatal(err)
		}
		if err := db.User.UpdateOne(rb.User).SetUserMetadata(map[string]any{"theme": "dark"}).Exec(sysCtx); err != nil {
			t.Fatal(err)
		}
		if _, err := Link(sysCtx, db, string(ra.User.ID), rb.User.UserID); err != nil {
			t.Fatal(err)
		}
		if _, err := Link(sysCtx, db, string(ra.User.ID), string(ra.User.ID)); err == nil {
			t.Fatal("self link accepted")
		}
		primary, _ := Resolve(sysCtx, db, ra.User.UserID)
		if primary.AppMetadata["plan"] != "gold" || len(primary.UserMetadata) != 0 || *primary.Name != "Pat A" {
			t.Fatalf("primary after link: %+v", primary)
		}
		if _, err := Resolve(sysCtx, db, rb.User.UserID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("secondary still listed: %v", err)
		}
		moved := db.Identity.Query().Where(entidentity.UpstreamID("b|9")).OnlyX(sysCtx)
		if moved.OwnerID != primary.ID || moved.ProfileData["name"] != "Pat B" || moved.ProfileData["email"] != "pat@x.test" {
			t.Fatalf("moved identity: %+v", moved)
		}

		// A login through the linked identity resolves to the primary and
		// leaves its root profile alone.
		r, err := SyncUpstream(sysCtx, db, UpstreamLogin{Connection: b, Identity: upstream("b", "9", "pat@x.test", "Pat B2")})
		if err != nil {
			t.Fatal(err)
		}
		if r.User.ID != primary.ID || *r.User.Name != "Pat A" {
			t.Fatalf("linked login: %+v", r.User)
		}

		// The primary identity cannot be unlinked; the other can.
		var ve *ValidationError
		if _, err := Unlink(sysCtx, db, primary.UserID, "a", "a|1"); !errors.As(err, &ve) {
			t.Fatalf("unlinking the primary identity: %v", err)
		}
		if _, err := Unlink(sysCtx, db, primary.UserID, "b", "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown identity: %v", err)
		}
		after, err := Unlink(sysCtx, db, string(primary.ID), "b", "b|9")
		if err != nil {
			t.Fatal(err)
		}
		if after.ID != primary.ID || after.AppMetadata["plan"] != "gold" {
			t.Fatalf("primary after unlink: %+v", after)
		}
		standalone, err := Resolve(sysCtx, db, "oidc|b|9")
		if err != nil {
			t.Fatal(err)
		}
		if standalone.ID == rb.User.ID || len(standalone.UserMetadata) != 0 || *standalone.Name != "Pat B2" || *standalone.Email != "pat@x.test" {
			t.Fatalf("standalone: %+v", standalone)
		}
		r, err = SyncUpstream(sysCtx, db, UpstreamLogin{Connection: b, Identity: upstream("b", "9", "pat@x.test", "Pat B3")})
		if err != nil || r.User.ID != standalone.ID {
			t.Fatalf("login after unlink: %v %v", r, err)
		}
	})
}
