package graph_test

import (
	"testing"

	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
)

// upstreamUser signs a user in through an OIDC connection "partner" (as
// connectors/upstream does after the provider vouched for them).
func upstreamUser(t *testing.T, s *apitest.Server, sub string, tokens *connectors.Tokens) *ent.User {
	t.Helper()
	ctx := systemCtx(t)
	conn, err := s.Deps.DB.Ent.Connection.Query().Where().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var partner *ent.Connection
	for _, c := range conn {
		if c.Name == "partner" {
			partner = c
		}
	}
	if partner == nil {
		if partner, err = s.Deps.Connections.Create(ctx, s.Deps.DB.Ent, connections.CreateParams{Name: "partner", Strategy: "oidc",
			Options: map[string]any{"issuer": "https://partner.example/", "client_id": "ag"}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := identity.SyncUpstream(ctx, s.Deps.DB.Ent, identity.UpstreamLogin{Connection: partner, Sealer: s.Deps.Box,
		Identity: connectors.Identity{Provider: "oidc", UserID: "partner|" + sub, Email: "kim@partner.example", Name: "Kim P",
			Raw: map[string]any{"sub": sub}, Tokens: tokens}})
	if err != nil {
		t.Fatal(err)
	}
	return res.User
}

type gqlIdentity struct {
	Provider, UserID          string
	Connection                struct{ Name string }
	ProfileData               map[string]any
	AccessToken, RefreshToken *string
}

func identitiesOf(t *testing.T, s *apitest.Server, token, id string) []gqlIdentity {
	t.Helper()
	var out struct {
		User struct{ Identities []gqlIdentity }
	}
	s.MustGraphQL(t, token, `query($id: ID!) { user(id: $id) { identities { provider userId connection { name } profileData accessToken refreshToken } } }`,
		map[string]any{"id": id}, &out)
	return out.User.Identities
}

func TestLinkUnlinkAndIdPTokens(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		primary := createUser(t, s, map[string]any{"email": "kim@example.com", "password": "Linking-Pass-1", "appMetadata": map[string]any{"plan": "pro"}})
		secondary := upstreamUser(t, s, "77", &connectors.Tokens{AccessToken: "idp-at", RefreshToken: "idp-rt"})

		// Tokens only with read:user_idp_tokens.
		ids := identitiesOf(t, s, scopedToken(t, s, everyScopeBut("read:user_idp_tokens")...), secondary.UserID)
		if len(ids) != 1 || ids[0].AccessToken != nil {
			t.Fatalf("tokens without the scope: %+v", ids)
		}
		ids = identitiesOf(t, s, admin, secondary.UserID)
		if len(ids) != 1 || deref(ids[0].AccessToken) != "idp-at" || deref(ids[0].RefreshToken) != "idp-rt" {
			t.Fatalf("tokens with the scope: %+v", ids)
		}

		// linkUser needs update:users.
		link := `mutation($p: ID!, $s: ID!) { linkUser(primaryId: $p, secondaryId: $s) { userId appMetadata identities { provider userId } } }`
		expectError(t, s.GraphQL(t, scopedToken(t, s, everyScopeBut("update:users")...), link,
			map[string]any{"p": primary.ID, "s": secondary.UserID}), "FORBIDDEN", "")
		var linked struct {
			LinkUser struct {
				UserID      string
				AppMetadata map[string]any
				Identities  []struct{ Provider, UserID string }
			}
		}
		s.MustGraphQL(t, admin, link, map[string]any{"p": primary.ID, "s": secondary.UserID}, &linked)
		if linked.LinkUser.UserID != primary.UserID || linked.LinkUser.AppMetadata["plan"] != "pro" || len(linked.LinkUser.Identities) != 2 {
			t.Fatalf("linked: %+v", linked.LinkUser)
		}
		if userExists(t, s, secondary.UserID) {
			t.Fatal("the secondary is still listed")
		}
		ids = identitiesOf(t, s, admin, primary.ID)
		var moved *gqlIdentity
		for i := range ids {
			if ids[i].Provider == "oidc" {
				moved = &ids[i]
			}
		}
		if moved == nil || moved.ProfileData["email"] != "kim@partner.example" || deref(moved.AccessToken) != "idp-at" {
			t.Fatalf("moved identity: %+v", ids)
		}
		// A login through the linked identity lands on the primary.
		again := upstreamUser(t, s, "77", nil)
		if again.UserID != primary.UserID {
			t.Fatalf("linked login resolved to %s", again.UserID)
		}

		// Unlink: the primary identity is refused; the other becomes a
		// standalone user without metadata.
		unlink := `mutation($u: ID!, $c: String!, $i: String!) { unlinkIdentity(userId: $u, connection: $c, identityUserId: $i) { userId identities { provider } } }`
		expectError(t, s.GraphQL(t, admin, unlink, map[string]any{"u": primary.ID, "c": defaultConn, "i": primary.UserID[len("auth0|"):]}), "BAD_USER_INPUT", "identityUserId")
		var unlinked struct {
			UnlinkIdentity struct {
				UserID     string
				Identities []struct{ Provider string }
			}
		}
		s.MustGraphQL(t, admin, unlink, map[string]any{"u": primary.ID, "c": "partner", "i": "partner|77"}, &unlinked)
		if unlinked.UnlinkIdentity.UserID != primary.UserID || len(unlinked.UnlinkIdentity.Identities) != 1 {
			t.Fatalf("after unlink: %+v", unlinked)
		}
		standalone := getUser(t, s, "oidc|partner|77")
		if standalone.UserID != "oidc|partner|77" || len(standalone.AppMetadata) != 0 || deref(standalone.Email) != "kim@partner.example" {
			t.Fatalf("standalone: %+v", standalone)
		}
	})
}
