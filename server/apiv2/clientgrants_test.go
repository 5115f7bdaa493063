package apiv2_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/internal/apitest"
)

func grantIDs(l *management.ClientGrantList) []string {
	var out []string
	for _, g := range l.ClientGrants {
		out = append(out, g.GetID())
	}
	return out
}

func TestClientGrantsLifecycle(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		ordersServer(t, m)
		app := &management.Client{Name: auth0.String("Billing worker"), AppType: auth0.String("non_interactive")}
		if err := m.Client.Create(ctx, app); err != nil {
			t.Fatal(err)
		}

		// Create: 201 in Auth0's shape.
		r := call(t, s, http.MethodPost, "/api/v2/client-grants", s.AdminToken(t),
			map[string]any{"client_id": app.GetClientID(), "audience": ordersAPI, "scope": []string{"read:orders"}})
		var created struct {
			ID       string   `json:"id"`
			ClientID string   `json:"client_id"`
			Audience string   `json:"audience"`
			Scope    []string `json:"scope"`
		}
		r.decode(t, &created)
		if r.Status != http.StatusCreated || !strings.HasPrefix(created.ID, "cgr_") || created.ClientID != app.GetClientID() ||
			created.Audience != ordersAPI || !slices.Equal(created.Scope, []string{"read:orders"}) {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		if err := m.ClientGrant.Delete(ctx, created.ID); err != nil {
			t.Fatal(err)
		}

		// The same through go-auth0.
		g := &management.ClientGrant{ClientID: app.ClientID, Audience: auth0.String(ordersAPI), Scope: &[]string{"read:orders"}}
		if err := m.ClientGrant.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		got, err := m.ClientGrant.Read(ctx, g.GetID())
		if err != nil || got.GetClientID() != app.GetClientID() || got.GetAudience() != ordersAPI || !slices.Equal(got.GetScope(), []string{"read:orders"}) {
			t.Fatalf("read: %+v %v", got, err)
		}
		l, err := m.ClientGrant.List(ctx, management.Parameter("client_id", app.GetClientID()))
		if err != nil || l.Total != 1 || !slices.Equal(grantIDs(l), []string{g.GetID()}) {
			t.Fatalf("list by client: %v %v", grantIDs(l), err)
		}
		if l, err = m.ClientGrant.List(ctx, management.Parameter("audience", ordersAPI)); err != nil || !slices.Equal(grantIDs(l), []string{g.GetID()}) {
			t.Errorf("list by audience: %v %v", grantIDs(l), err)
		}

		// Update replaces the scopes; a read-modify-update round trip works.
		if err := m.ClientGrant.Update(ctx, g.GetID(), &management.ClientGrant{Scope: &[]string{"read:orders", "write:orders"}}); err != nil {
			t.Fatal(err)
		}
		got, _ = m.ClientGrant.Read(ctx, g.GetID())
		if sc := got.GetScope(); !slices.Equal(sorted(sc), []string{"read:orders", "write:orders"}) {
			t.Errorf("after update: %v", sc)
		}
		got.Scope = &[]string{"write:orders"}
		if err := m.ClientGrant.Update(ctx, g.GetID(), got); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if got, _ = m.ClientGrant.Read(ctx, g.GetID()); !slices.Equal(got.GetScope(), []string{"write:orders"}) {
			t.Errorf("after round trip: %v", got.GetScope())
		}

		// The management API's grant is a client's management_scopes.
		mid, _ := client(t, s, "read:users", "read:roles")
		l, err = m.ClientGrant.List(ctx, management.Parameter("client_id", mid))
		if err != nil || len(l.ClientGrants) != 1 {
			t.Fatalf("management grant: %+v %v", l, err)
		}
		mg := l.ClientGrants[0]
		if !strings.HasPrefix(mg.GetID(), "cgr_mgmt_") || mg.GetAudience() != s.Issuer+"api/v2/" ||
			!slices.Equal(sorted(mg.GetScope()), []string{"read:roles", "read:users"}) {
			t.Errorf("management grant: %+v", mg)
		}
		if got, err = m.ClientGrant.Read(ctx, mg.GetID()); err != nil || got.GetClientID() != mid {
			t.Errorf("read management grant: %+v %v", got, err)
		}
		if err := m.ClientGrant.Update(ctx, mg.GetID(), &management.ClientGrant{Scope: &[]string{"read:users"}}); err != nil {
			t.Fatal(err)
		}
		if got, _ = m.ClientGrant.Read(ctx, mg.GetID()); !slices.Equal(got.GetScope(), []string{"read:users"}) {
			t.Errorf("management grant after update: %v", got.GetScope())
		}

		// Deleting the management API's grant empties the client's
		// management scopes; creating it again sets them.
		if err := m.ClientGrant.Delete(ctx, mg.GetID()); err != nil {
			t.Fatal(err)
		}
		if l, err = m.ClientGrant.List(ctx, management.Parameter("client_id", mid)); err != nil || len(l.ClientGrants) != 0 {
			t.Errorf("management grant after delete: %v %v", grantIDs(l), err)
		}
		mg2 := &management.ClientGrant{ClientID: auth0.String(mid), Audience: auth0.String(s.Issuer + "api/v2/"), Scope: &[]string{"read:roles"}}
		if err := m.ClientGrant.Create(ctx, mg2); err != nil {
			t.Fatal(err)
		}
		if mg2.GetID() != mg.GetID() || !slices.Equal(mg2.GetScope(), []string{"read:roles"}) {
			t.Errorf("management grant created again: %+v", mg2)
		}

		// Delete: 204, then gone; deleting again is 204 too, as Auth0.
		if err := m.ClientGrant.Delete(ctx, g.GetID()); err != nil {
			t.Fatal(err)
		}
		_, err = m.ClientGrant.Read(ctx, g.GetID())
		expectStatus(t, err, http.StatusNotFound, "read of a deleted grant")
		if err := m.ClientGrant.Delete(ctx, g.GetID()); err != nil {
			t.Errorf("deleting a deleted grant: %v", err)
		}
		if l, _ = m.ClientGrant.List(ctx, management.Parameter("client_id", app.GetClientID())); len(l.ClientGrants) != 0 {
			t.Errorf("grants after delete: %v", grantIDs(l))
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestClientGrantsRefused(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, "", "")
		ordersServer(t, m)
		app := &management.Client{Name: auth0.String("Billing worker"), AppType: auth0.String("non_interactive")}
		if err := m.Client.Create(ctx, app); err != nil {
			t.Fatal(err)
		}
		g := &management.ClientGrant{ClientID: app.ClientID, Audience: auth0.String(ordersAPI), Scope: &[]string{"read:orders"}}
		if err := m.ClientGrant.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		tokens := map[string]string{}
		for _, sc := range []string{"read:client_grants", "create:client_grants", "update:client_grants", "delete:client_grants"} {
			tokens[sc] = token(t, s, everyScopeBut(sc)...)
		}

		before := rbacSnapshot(t, s)
		refuse := func(what string, want int, err error) {
			t.Helper()
			expectStatus(t, err, want, what)
			before.unchanged(t, s, what)
		}
		refuse("duplicate grant", http.StatusConflict, m.ClientGrant.Create(ctx,
			&management.ClientGrant{ClientID: app.ClientID, Audience: auth0.String(ordersAPI), Scope: &[]string{"write:orders"}}))
		refuse("undeclared scope", http.StatusBadRequest, m.ClientGrant.Update(ctx, g.GetID(), &management.ClientGrant{Scope: &[]string{"delete:orders"}}))
		refuse("no scope", http.StatusBadRequest, m.ClientGrant.Create(ctx, &management.ClientGrant{ClientID: app.ClientID, Audience: auth0.String(ordersAPI)}))
		refuse("subject_type user", http.StatusBadRequest, m.ClientGrant.Create(ctx, &management.ClientGrant{ClientID: app.ClientID,
			Audience: auth0.String("urn:other"), Scope: &[]string{}, SubjectType: auth0.String("user")}))
		refuse("changing the audience", http.StatusBadRequest, m.ClientGrant.Update(ctx, g.GetID(),
			&management.ClientGrant{Audience: auth0.String("urn:other"), Scope: &[]string{"read:orders"}}))
		refuse("unknown client", http.StatusNotFound, m.ClientGrant.Create(ctx,
			&management.ClientGrant{ClientID: auth0.String("no-such-client"), Audience: auth0.String(ordersAPI), Scope: &[]string{"read:orders"}}))
		refuse("unknown API", http.StatusNotFound, m.ClientGrant.Create(ctx,
			&management.ClientGrant{ClientID: app.ClientID, Audience: auth0.String("urn:nowhere"), Scope: &[]string{}}))
		mid, _ := client(t, s, "read:users")
		before = rbacSnapshot(t, s)
		refuse("second management API grant", http.StatusConflict, m.ClientGrant.Create(ctx,
			&management.ClientGrant{ClientID: auth0.String(mid), Audience: auth0.String(s.Issuer + "api/v2/"), Scope: &[]string{"read:roles"}}))
		_, err := m.ClientGrant.Read(ctx, "cgr_01JAAAAAAAAAAAAAAAAAAAAAAA")
		refuse("read unknown grant", http.StatusNotFound, err)
		refuse("update unknown grant", http.StatusNotFound, m.ClientGrant.Update(ctx, "cgr_01JAAAAAAAAAAAAAAAAAAAAAAA", &management.ClientGrant{Scope: &[]string{"read:orders"}}))
		_, err = m.ClientGrant.Read(ctx, "cgr_mgmt_cli_01JAAAAAAAAAAAAAAAAAAAAAAA")
		refuse("read unknown management grant", http.StatusNotFound, err)

		for _, c := range []struct {
			scope, method, path string
			body                any
		}{
			{"read:client_grants", http.MethodGet, "/api/v2/client-grants", nil},
			{"read:client_grants", http.MethodGet, "/api/v2/client-grants/" + g.GetID(), nil},
			{"create:client_grants", http.MethodPost, "/api/v2/client-grants", map[string]any{"client_id": app.GetClientID(), "audience": "urn:x", "scope": []string{}}},
			{"update:client_grants", http.MethodPatch, "/api/v2/client-grants/" + g.GetID(), map[string]any{"scope": []string{"write:orders"}}},
			{"delete:client_grants", http.MethodDelete, "/api/v2/client-grants/" + g.GetID(), nil},
		} {
			r := call(t, s, c.method, c.path, tokens[c.scope], c.body)
			e := r.expectError(t, http.StatusForbidden, "insufficient_scope")
			if !strings.Contains(e.Message, c.scope) {
				t.Errorf("%s %s: %q does not name %s", c.method, c.path, e.Message, c.scope)
			}
			before.unchanged(t, s, c.method+" "+c.path+" without "+c.scope)
		}
	})
}
