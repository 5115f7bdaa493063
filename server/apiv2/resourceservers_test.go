package apiv2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/resourceserver"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// rsState is what a refused call must leave alone: the APIs and the audit
// trail.
type rsState struct {
	apis []string
	sapi int
}

func rsSnapshot(t testing.TB, s *apitest.Server) rsState {
	t.Helper()
	sys := authz.SystemContext(context.Background())
	all, err := s.Deps.DB.Ent.ResourceServer.Query().Order(resourceserver.ByID()).All(sys)
	if err != nil {
		t.Fatal(err)
	}
	var out rsState
	for _, rs := range all {
		j, _ := json.Marshal(rs)
		out.apis = append(out.apis, string(j))
	}
	if out.sapi, err = s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("sapi")).Count(sys); err != nil {
		t.Fatal(err)
	}
	return out
}

func (c rsState) unchanged(t testing.TB, s *apitest.Server, what string) {
	t.Helper()
	now := rsSnapshot(t, s)
	if !slices.Equal(now.apis, c.apis) {
		t.Errorf("%s changed the resource servers", what)
	}
	if now.sapi != c.sapi {
		t.Errorf("%s wrote %d audit entries", what, now.sapi-c.sapi)
	}
}

func rsScopes(rs *management.ResourceServer) []string {
	var out []string
	for _, s := range rs.GetScopes() {
		out = append(out, s.GetValue()+"="+s.GetDescription())
	}
	return out
}

func TestResourceServersLifecycle(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, s.AdminID, s.AdminSecret)

		rs := &management.ResourceServer{Name: auth0.String("Orders"), Identifier: auth0.String("https://orders.example.com/"),
			Scopes: &[]management.ResourceServerScope{
				{Value: auth0.String("read:orders"), Description: auth0.String("Read orders")},
				{Value: auth0.String("write:orders")},
			},
			TokenLifetime: auth0.Int(3600), AllowOfflineAccess: auth0.Bool(true)}
		if err := m.ResourceServer.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
		if rs.GetID() == "" || rs.GetSigningAlgorithm() != "RS256" || rs.GetIsSystem() || rs.GetTokenLifetime() != 3600 || !rs.GetAllowOfflineAccess() ||
			!slices.Equal(rsScopes(rs), []string{"read:orders=Read orders", "write:orders="}) {
			t.Fatalf("create answered %+v", rs)
		}

		// Read by id and by identifier (the SDK escapes its slashes).
		for _, id := range []string{rs.GetID(), "https://orders.example.com/"} {
			got, err := m.ResourceServer.Read(ctx, id)
			if err != nil {
				t.Fatalf("read %s: %v", id, err)
			}
			if got.GetID() != rs.GetID() || got.GetName() != "Orders" || got.GetIdentifier() != "https://orders.example.com/" {
				t.Errorf("read %s: %+v", id, got)
			}
		}

		// List: the management API is there, as a system API.
		l, err := m.ResourceServer.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l.Total != 2 || len(l.ResourceServers) != 2 || l.Limit != 50 {
			t.Fatalf("list: total %d, %d items", l.Total, len(l.ResourceServers))
		}
		sysAPI := l.ResourceServers[0]
		if l.ResourceServers[1].GetIsSystem() {
			sysAPI = l.ResourceServers[1]
		}
		if !sysAPI.GetIsSystem() || sysAPI.GetIdentifier() != s.Issuer+"api/v2/" {
			t.Errorf("management API: %+v", sysAPI)
		}
		l, err = m.ResourceServer.List(ctx, management.Page(1), management.PerPage(1))
		if err != nil || len(l.ResourceServers) != 1 || l.Start != 1 || l.HasNext() {
			t.Errorf("page 1 of 1: %+v %v", l, err)
		}

		// Update by identifier; scopes are replaced.
		err = m.ResourceServer.Update(ctx, "https://orders.example.com/", &management.ResourceServer{Name: auth0.String("Orders API"),
			Scopes: &[]management.ResourceServerScope{{Value: auth0.String("admin:orders"), Description: auth0.String("All")}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.ResourceServer.Read(ctx, rs.GetID())
		if err != nil {
			t.Fatal(err)
		}
		if got.GetName() != "Orders API" || !slices.Equal(rsScopes(got), []string{"admin:orders=All"}) || got.GetTokenLifetime() != 3600 {
			t.Errorf("after update: %+v", got)
		}
		// A read-modify-update round trip sends back id, identifier and
		// is_system: accepted unchanged.
		got.TokenLifetime = auth0.Int(7200)
		if err := m.ResourceServer.Update(ctx, got.GetID(), got); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if got.GetTokenLifetime() != 7200 {
			t.Errorf("round trip answered %+v", got)
		}

		// Delete: then 404.
		if err := m.ResourceServer.Delete(ctx, rs.GetID()); err != nil {
			t.Fatal(err)
		}
		_, err = m.ResourceServer.Read(ctx, rs.GetID())
		expectStatus(t, err, http.StatusNotFound, "read after delete")
		want := []string{"createResourceServer", "updateResourceServer", "updateResourceServer", "deleteResourceServer"}
		if a := crAudits(t, s); !slices.Equal(a[len(a)-len(want):], want) {
			t.Errorf("audit operations %v, want them to end with %v", a, want)
		}
	})
}

func TestResourceServerErrors(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, s.AdminID, s.AdminSecret)
		rs := &management.ResourceServer{Name: auth0.String("Orders"), Identifier: auth0.String("urn:orders")}
		if err := m.ResourceServer.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
		mgmtAPI := s.Issuer + "api/v2/"
		before := rsSnapshot(t, s)

		// 409: the identifier is taken (the management API's too).
		for _, ident := range []string{"urn:orders", mgmtAPI} {
			err := m.ResourceServer.Create(ctx, &management.ResourceServer{Name: auth0.String("again"), Identifier: auth0.String(ident)})
			expectStatus(t, err, http.StatusConflict, "duplicate "+ident)
		}

		// 400.
		for name, c := range map[string]*management.ResourceServer{
			"no identifier":    {Name: auth0.String("x")},
			"no name":          {Identifier: auth0.String("urn:x")},
			"relative":         {Name: auth0.String("x"), Identifier: auth0.String("orders")},
			"HS256":            {Name: auth0.String("x"), Identifier: auth0.String("urn:x"), SigningAlgorithm: auth0.String("HS256")},
			"short lifetime":   {Name: auth0.String("x"), Identifier: auth0.String("urn:x"), TokenLifetime: auth0.Int(10)},
			"bad scope":        {Name: auth0.String("x"), Identifier: auth0.String("urn:x"), Scopes: &[]management.ResourceServerScope{{Value: auth0.String("has space")}}},
			"OIDC scope":       {Name: auth0.String("x"), Identifier: auth0.String("urn:x"), Scopes: &[]management.ResourceServerScope{{Value: auth0.String("openid")}}},
			"unknown property": {Name: auth0.String("x"), Identifier: auth0.String("urn:x"), SigningSecret: auth0.String("s3cret-s3cret-s3cret")},
			"is_system":        {Name: auth0.String("x"), Identifier: auth0.String("urn:x"), IsSystem: auth0.Bool(true)},
		} {
			expectStatus(t, m.ResourceServer.Create(ctx, c), http.StatusBadRequest, "create: "+name)
		}
		for name, c := range map[string]*management.ResourceServer{
			"identifier":     {Identifier: auth0.String("urn:other")},
			"empty name":     {Name: auth0.String("")},
			"long lifetime":  {TokenLifetime: auth0.Int(31 * 86400)},
			"twice a scope":  {Scopes: &[]management.ResourceServerScope{{Value: auth0.String("a")}, {Value: auth0.String("a")}}},
			"offline online": {AllowOnlineAccess: auth0.Bool(true)},
			"PS256":          {SigningAlgorithm: auth0.String("PS256")},
		} {
			expectStatus(t, m.ResourceServer.Update(ctx, rs.GetID(), c), http.StatusBadRequest, "update: "+name)
		}
		if st, b := crRaw(t, s, http.MethodPost, "/resource-servers", `{"name": "x", "identifier": "urn:x", "token_lifetime": "long"}`); st != http.StatusBadRequest ||
			!bytes.Contains(b, []byte("token_lifetime")) {
			t.Errorf("wrong type: %d %s", st, b)
		}

		// 403: the built-in management API is read-only.
		expectStatus(t, m.ResourceServer.Update(ctx, mgmtAPI, &management.ResourceServer{Name: auth0.String("mine")}), http.StatusForbidden, "rename the management API")
		expectStatus(t, m.ResourceServer.Delete(ctx, mgmtAPI), http.StatusForbidden, "delete the management API")
		sysAPI, err := m.ResourceServer.Read(ctx, mgmtAPI)
		if err != nil || !sysAPI.GetIsSystem() {
			t.Fatalf("management API: %+v %v", sysAPI, err)
		}
		expectStatus(t, m.ResourceServer.Delete(ctx, sysAPI.GetID()), http.StatusForbidden, "delete the management API by id")

		// 403 without the scope, 404 for unknown APIs.
		reader := scopedSDK(t, s, "read:resource_servers")
		expectStatus(t, reader.ResourceServer.Create(ctx, &management.ResourceServer{Name: auth0.String("x"), Identifier: auth0.String("urn:x")}),
			http.StatusForbidden, "create without create:resource_servers")
		expectStatus(t, reader.ResourceServer.Update(ctx, rs.GetID(), &management.ResourceServer{Name: auth0.String("x")}),
			http.StatusForbidden, "update without update:resource_servers")
		expectStatus(t, reader.ResourceServer.Delete(ctx, rs.GetID()), http.StatusForbidden, "delete without delete:resource_servers")
		_, err = scopedSDK(t, s, "read:clients").ResourceServer.List(ctx)
		expectStatus(t, err, http.StatusForbidden, "list without read:resource_servers")
		for _, id := range []string{"api_01HZZZZZZZZZZZZZZZZZZZZZZZ", "urn:nothing"} {
			_, err := m.ResourceServer.Read(ctx, id)
			expectStatus(t, err, http.StatusNotFound, "read "+id)
			expectStatus(t, m.ResourceServer.Update(ctx, id, &management.ResourceServer{Name: auth0.String("x")}), http.StatusNotFound, "update "+id)
			expectStatus(t, m.ResourceServer.Delete(ctx, id), http.StatusNotFound, "delete "+id)
		}
		if st, b := crRaw(t, s, http.MethodGet, "/resource-servers/urn:nothing", ""); st != http.StatusNotFound ||
			!bytes.Contains(b, []byte(`"inexistent_resource_server"`)) {
			t.Errorf("404 body: %d %s", st, b)
		}
		before.unchanged(t, s, "refused calls")
	})
}

// signing_alg chooses the algorithm of an API's access tokens: RS256,
// ES256 or EdDSA; anything else is a 400 that changes nothing.
func TestResourceServerSigningAlg(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	ctx := context.Background()
	m := sdkAs(t, s, s.AdminID, s.AdminSecret)
	rs := &management.ResourceServer{Name: auth0.String("Orders"), Identifier: auth0.String("urn:orders"), SigningAlgorithm: auth0.String("ES256")}
	if err := m.ResourceServer.Create(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if rs.GetSigningAlgorithm() != "ES256" {
		t.Fatalf("created with signing_alg %q", rs.GetSigningAlgorithm())
	}
	if err := m.ResourceServer.Update(ctx, rs.GetID(), &management.ResourceServer{SigningAlgorithm: auth0.String("EdDSA")}); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, m.ResourceServer.Update(ctx, rs.GetID(), &management.ResourceServer{SigningAlgorithm: auth0.String("none"), Name: auth0.String("changed")}),
		http.StatusBadRequest, "signing_alg none")
	got, err := m.ResourceServer.Read(ctx, rs.GetID())
	if err != nil {
		t.Fatal(err)
	}
	if got.GetSigningAlgorithm() != "EdDSA" || got.GetName() != "Orders" {
		t.Errorf("after a refused update: signing_alg %q, name %q", got.GetSigningAlgorithm(), got.GetName())
	}
}
