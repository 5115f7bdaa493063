package apiv2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
)

// crM2M creates a machine client holding exactly scopes and returns its
// credentials.
func crM2M(t testing.TB, s *apitest.Server, name string, scopes ...string) (id, secret string) {
	t.Helper()
	c, err := clients.Create(authz.SystemContext(context.Background()), s.Deps.DB.Ent, clients.Params{
		Name: name, Type: clients.TypeM2M, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return c.Client.ClientID, c.Secret
}

// crRaw sends a request with the admin's token and returns status and body.
func crRaw(t testing.TB, s *apitest.Server, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.URL+"/api/v2"+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.AdminToken(t))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// crState is what a refused call must leave alone: the clients and the
// audit trail.
type crState struct {
	clients []string
	sapi    int
}

func crSnapshot(t testing.TB, s *apitest.Server) crState {
	t.Helper()
	sys := authz.SystemContext(context.Background())
	apps, err := s.Deps.DB.Ent.Application.Query().Order(application.ByID()).All(sys)
	if err != nil {
		t.Fatal(err)
	}
	var out crState
	for _, a := range apps {
		j, _ := json.Marshal(a) // secret_hash is Sensitive: compare it apart
		h := ""
		if a.SecretHash != nil {
			h = string(*a.SecretHash)
		}
		out.clients = append(out.clients, string(j)+h)
	}
	if out.sapi, err = s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("sapi")).Count(sys); err != nil {
		t.Fatal(err)
	}
	return out
}

func (c crState) unchanged(t testing.TB, s *apitest.Server, what string) {
	t.Helper()
	now := crSnapshot(t, s)
	if !slices.Equal(now.clients, c.clients) {
		t.Errorf("%s changed the clients", what)
	}
	if now.sapi != c.sapi {
		t.Errorf("%s wrote %d audit entries", what, now.sapi-c.sapi)
	}
}

// crAudits returns the operations of the sapi entries, oldest first.
func crAudits(t testing.TB, s *apitest.Server) []string {
	t.Helper()
	evs, err := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("sapi")).Order(logevent.ByDate(), logevent.ByID()).
		All(authz.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		op, _ := e.Details["operation"].(string)
		out = append(out, op)
	}
	return out
}

// crGrant lets the client be granted scopes of the management API.
func crGrant(t testing.TB, s *apitest.Server, clientID string, scopes ...string) {
	t.Helper()
	s.MustGraphQL(t, s.AdminToken(t), `mutation($id: ID!, $s: [String!]) { updateClient(id: $id, input: {managementScopes: $s}) { id } }`,
		map[string]any{"id": clientID, "s": scopes}, nil)
}

// crTokenStatus is the token endpoint's status for client_credentials.
func crTokenStatus(t testing.TB, s *apitest.Server, id, secret string) int {
	t.Helper()
	res := s.ClientPost(t, "/oauth/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
	res.Body.Close()
	return res.StatusCode
}

func TestClientsLifecycle(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, s.AdminID, s.AdminSecret)

		// A machine client: confidential, secret shown on create.
		svc := &management.Client{Name: auth0.String("svc"), AppType: auth0.String("non_interactive"),
			ClientMetadata: &map[string]any{"team": "billing"}}
		if err := m.Client.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
		if svc.GetClientID() == "" || len(svc.GetClientSecret()) < 32 {
			t.Fatalf("create answered client_id %q, client_secret %q", svc.GetClientID(), svc.GetClientSecret())
		}
		if got := svc.GetGrantTypes(); !slices.Equal(got, []string{"client_credentials"}) {
			t.Errorf("grant_types %v", got)
		}
		if svc.GetTokenEndpointAuthMethod() != "client_secret_basic" || !svc.GetIsFirstParty() || !svc.GetOIDCConformant() {
			t.Errorf("fixed properties: %+v", svc)
		}
		// Management scopes are granted through GraphQL (Auth0's client
		// grants are not served).
		crGrant(t, s, svc.GetClientID(), "read:users")
		if st := crTokenStatus(t, s, svc.GetClientID(), svc.GetClientSecret()); st != http.StatusOK {
			t.Fatalf("the secret create returned does not work: %d", st)
		}

		// A single-page app: public, no secret.
		spa := &management.Client{Name: auth0.String("web"), AppType: auth0.String("spa"),
			Callbacks:         &[]string{"https://app.example.com/cb"},
			AllowedLogoutURLs: &[]string{"https://app.example.com/"},
			WebOrigins:        &[]string{"https://app.example.com"},
			JWTConfiguration:  &management.ClientJWTConfiguration{LifetimeInSeconds: auth0.Int(600)}}
		if err := m.Client.Create(ctx, spa); err != nil {
			t.Fatal(err)
		}
		if spa.ClientSecret != nil || spa.GetTokenEndpointAuthMethod() != "none" {
			t.Errorf("a spa got a secret or auth method: %v %q", spa.ClientSecret, spa.GetTokenEndpointAuthMethod())
		}
		if spa.GetJWTConfiguration().GetLifetimeInSeconds() != 600 || spa.GetJWTConfiguration().GetAlgorithm() != "RS256" {
			t.Errorf("jwt_configuration %+v", spa.GetJWTConfiguration())
		}
		if got := spa.GetAllowedOrigins(); !slices.Equal(got, []string{"https://app.example.com"}) {
			t.Errorf("allowed_origins %v", got)
		}

		// Read: the same client, never its secret.
		got, err := m.Client.Read(ctx, svc.GetClientID())
		if err != nil {
			t.Fatal(err)
		}
		if got.GetName() != "svc" || got.GetAppType() != "non_interactive" || got.ClientSecret != nil ||
			got.GetClientMetadata()["team"] != "billing" {
			t.Errorf("read %+v", got)
		}
		for _, path := range []string{"/clients/" + svc.GetClientID(), "/clients", "/clients?include_totals=true"} {
			st, body := crRaw(t, s, http.MethodGet, path, "")
			if st != http.StatusOK || bytes.Contains(body, []byte(`"client_secret":`)) {
				t.Errorf("GET %s: %d, a client_secret in %s", path, st, body)
			}
		}

		// List: the envelope, paging and the app_type filter.
		l, err := m.Client.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total := l.Total
		if total < 3 || len(l.Clients) != total || l.Start != 0 || l.Limit != 50 {
			t.Fatalf("list: start %d limit %d total %d, %d clients", l.Start, l.Limit, l.Total, len(l.Clients))
		}
		var seen []string
		for page := 0; ; page++ {
			l, err := m.Client.List(ctx, management.Page(page), management.PerPage(1))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range l.Clients {
				seen = append(seen, c.GetClientID())
			}
			if !l.HasNext() {
				break
			}
		}
		if len(seen) != total || !slices.Contains(seen, spa.GetClientID()) || !slices.Contains(seen, svc.GetClientID()) {
			t.Errorf("paging one by one saw %d of %d clients", len(seen), total)
		}
		var checkpoint []string
		for from := ""; ; {
			opts := []management.RequestOption{management.Take(2)}
			if from != "" {
				opts = append(opts, management.From(from))
			}
			l, err := m.Client.ListWithCheckpointPagination(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range l.Clients {
				checkpoint = append(checkpoint, c.GetClientID())
			}
			if !l.HasNext() {
				break
			}
			from = l.Next
		}
		if !slices.Equal(checkpoint, seen) {
			t.Errorf("checkpoint paging saw %v, offset paging %v", checkpoint, seen)
		}
		l, err = m.Client.List(ctx, management.Parameter("is_first_party", "false"))
		if err != nil || l.Total != 0 || len(l.Clients) != 0 {
			t.Errorf("is_first_party=false: %+v %v", l, err)
		}
		l, err = m.Client.List(ctx, management.Parameter("app_type", "spa,native"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Clients {
			if c.GetAppType() != "spa" {
				t.Errorf("app_type filter returned %s", c.GetAppType())
			}
		}
		if l.Total < 1 {
			t.Error("app_type filter lost the spa")
		}
		st, body := crRaw(t, s, http.MethodGet, "/clients/"+spa.GetClientID()+"?fields=client_id,name", "")
		var proj map[string]any
		_ = json.Unmarshal(body, &proj)
		if st != http.StatusOK || len(proj) != 2 || proj["name"] != "web" {
			t.Errorf("fields: %d %s", st, body)
		}

		// Update, then a read-modify-update round trip of everything read.
		err = m.Client.Update(ctx, spa.GetClientID(), &management.Client{Name: auth0.String("web app"),
			Callbacks:    &[]string{"https://app.example.com/cb", "https://app.example.com/cb2"},
			RefreshToken: &management.ClientRefreshToken{IdleTokenLifetime: auth0.Int(3600), TokenLifetime: auth0.Int(7200)}})
		if err != nil {
			t.Fatal(err)
		}
		got, err = m.Client.Read(ctx, spa.GetClientID())
		if err != nil {
			t.Fatal(err)
		}
		if got.GetName() != "web app" || len(got.GetCallbacks()) != 2 ||
			got.GetRefreshToken().GetIdleTokenLifetime() != 3600 || got.GetRefreshToken().GetTokenLifetime() != 7200 ||
			!slices.Equal(got.GetAllowedLogoutURLs(), []string{"https://app.example.com/"}) {
			t.Errorf("after update: %+v", got)
		}
		got.Name = auth0.String("web app 2")
		if err := m.Client.Update(ctx, spa.GetClientID(), got); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if got.GetName() != "web app 2" || got.ClientSecret != nil {
			t.Errorf("round trip answered %+v", got)
		}

		// Delete: 204, then 404; the machine client's token stops working.
		if err := m.Client.Delete(ctx, svc.GetClientID()); err != nil {
			t.Fatal(err)
		}
		_, err = m.Client.Read(ctx, svc.GetClientID())
		expectStatus(t, err, http.StatusNotFound, "read after delete")
		if st := crTokenStatus(t, s, svc.GetClientID(), svc.GetClientSecret()); st == http.StatusOK {
			t.Error("a deleted client still gets tokens")
		}
		want := []string{"createClient", "updateClient", "createClient", "updateClient", "updateClient", "deleteClient"}
		if a := crAudits(t, s); !slices.Equal(a[len(a)-len(want):], want) {
			t.Errorf("audit operations %v, want them to end with %v", a, want)
		}
	})
}

func TestClientRotateSecret(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, s.AdminID, s.AdminSecret)
		c := &management.Client{Name: auth0.String("rotating"), AppType: auth0.String("regular_web"),
			Callbacks: &[]string{"https://web.example.com/cb"}}
		if err := m.Client.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		old := c.GetClientSecret()
		crGrant(t, s, c.GetClientID(), "read:users")
		if st := crTokenStatus(t, s, c.GetClientID(), old); st != http.StatusOK {
			t.Fatalf("the secret create returned does not work: %d", st)
		}
		rotated, err := m.Client.RotateSecret(ctx, c.GetClientID())
		if err != nil {
			t.Fatal(err)
		}
		if rotated.GetClientID() != c.GetClientID() || rotated.GetName() != "rotating" ||
			rotated.GetClientSecret() == "" || rotated.GetClientSecret() == old {
			t.Fatalf("rotate answered %+v", rotated)
		}
		if st := crTokenStatus(t, s, c.GetClientID(), old); st == http.StatusOK {
			t.Error("the old secret still works")
		}
		if st := crTokenStatus(t, s, c.GetClientID(), rotated.GetClientSecret()); st != http.StatusOK {
			t.Errorf("the new secret is refused: %d", st)
		}
		if a := crAudits(t, s); a[len(a)-1] != "rotateClientSecret" {
			t.Errorf("audit operations %v", a)
		}
		// The entry is GraphQL's: same description, the caller's client_id.
		last, err := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("sapi")).Order(logevent.ByDate(), logevent.ByID()).
			All(authz.SystemContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if e := last[len(last)-1]; e.Description != "Rotate the secret of client "+c.GetClientID() || e.ClientID != s.AdminID {
			t.Errorf("audit entry: %q by %q", e.Description, e.ClientID)
		}

		// A public client has no secret to rotate: 400, nothing written.
		spa := &management.Client{Name: auth0.String("public"), AppType: auth0.String("spa")}
		if err := m.Client.Create(ctx, spa); err != nil {
			t.Fatal(err)
		}
		before := crSnapshot(t, s)
		_, err = m.Client.RotateSecret(ctx, spa.GetClientID())
		expectStatus(t, err, http.StatusBadRequest, "rotate a spa")
		_, err = m.Client.RotateSecret(ctx, "no-such-client")
		expectStatus(t, err, http.StatusNotFound, "rotate an unknown client")
		before.unchanged(t, s, "refused rotations")
	})
}

// The escalations GraphQL refuses (graph/escalation_test.go) are refused
// over REST too: 403 and nothing changed.
func TestClientEscalationIsForbidden(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		// Only update:clients: not the bootstrap admin client.
		weak := scopedSDK(t, s, "update:clients")
		before := crSnapshot(t, s)
		_, err := weak.Client.RotateSecret(ctx, s.AdminID)
		expectStatus(t, err, http.StatusForbidden, "rotate the admin client")
		err = weak.Client.Update(ctx, s.AdminID, &management.Client{Name: auth0.String("mine")})
		expectStatus(t, err, http.StatusForbidden, "rename the admin client")
		err = weak.Client.Update(ctx, s.AdminID, &management.Client{Callbacks: &[]string{"https://evil.example/cb"}})
		expectStatus(t, err, http.StatusForbidden, "redirect the admin client")
		before.unchanged(t, s, "refused changes of the admin client")
		if st := crTokenStatus(t, s, s.AdminID, s.AdminSecret); st != http.StatusOK {
			t.Fatalf("the admin client's secret changed: %d", st)
		}

		// A client holding a scope the caller lacks.
		sys := authz.SystemContext(ctx)
		powerful, err := clients.Create(sys, s.Deps.DB.Ent, clients.Params{Name: "powerful", Type: clients.TypeRegularWeb,
			RedirectURIs: []string{"https://app.example.com/cb"}, Scopes: []string{"read:users", "update:admins"}})
		if err != nil {
			t.Fatal(err)
		}
		id := powerful.Client.ClientID
		caller := scopedSDK(t, s, "update:clients", "delete:clients", "read:users")
		before = crSnapshot(t, s)
		for name, call := range map[string]func() error{
			"rename": func() error { return caller.Client.Update(ctx, id, &management.Client{Name: auth0.String("mine")}) },
			"redirect URIs": func() error {
				return caller.Client.Update(ctx, id, &management.Client{Callbacks: &[]string{"https://evil.example/cb"}})
			},
			"delete": func() error { return caller.Client.Delete(ctx, id) },
			"rotate": func() error { _, err := caller.Client.RotateSecret(ctx, id); return err },
		} {
			err := call()
			expectStatus(t, err, http.StatusForbidden, name)
			if !strings.Contains(err.Error(), "update:admins") {
				t.Errorf("%s: the refusal does not name the missing scope: %v", name, err)
			}
		}
		before.unchanged(t, s, "refused changes of a more powerful client")
		if st := crTokenStatus(t, s, id, powerful.Secret); st != http.StatusOK {
			t.Fatalf("the powerful client's secret changed: %d", st)
		}

		// Within the caller's scopes: allowed.
		lesser, err := clients.Create(sys, s.Deps.DB.Ent, clients.Params{Name: "lesser", Type: clients.TypeM2M, Scopes: []string{"read:users"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := caller.Client.Update(ctx, lesser.Client.ClientID, &management.Client{Name: auth0.String("renamed")}); err != nil {
			t.Fatal(err)
		}
		if _, err := caller.Client.RotateSecret(ctx, lesser.Client.ClientID); err != nil {
			t.Fatal(err)
		}
		if err := caller.Client.Delete(ctx, lesser.Client.ClientID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClientErrors(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdkAs(t, s, s.AdminID, s.AdminSecret)
		spa := &management.Client{Name: auth0.String("spa"), AppType: auth0.String("spa")}
		if err := m.Client.Create(ctx, spa); err != nil {
			t.Fatal(err)
		}
		id := spa.GetClientID()
		before := crSnapshot(t, s)

		// 400 through the SDK.
		for name, c := range map[string]*management.Client{
			"no name":          {AppType: auth0.String("spa")},
			"unknown app_type": {Name: auth0.String("x"), AppType: auth0.String("sso_integration")},
			"bad callback":     {Name: auth0.String("x"), AppType: auth0.String("spa"), Callbacks: &[]string{"not a url"}},
			"description":      {Name: auth0.String("x"), Description: auth0.String("a description")},
			"grant types":      {Name: auth0.String("x"), AppType: auth0.String("spa"), GrantTypes: &[]string{"client_credentials"}},
			"HS256":            {Name: auth0.String("x"), JWTConfiguration: &management.ClientJWTConfiguration{Algorithm: auth0.String("HS256")}},
			"third party":      {Name: auth0.String("x"), IsFirstParty: auth0.Bool(false)},
			"short secret":     {Name: auth0.String("x"), AppType: auth0.String("non_interactive"), ClientSecret: auth0.String("short")},
			"client_id":        {Name: auth0.String("x"), ClientID: auth0.String("chosen")},
			"metadata":         {Name: auth0.String("x"), ClientMetadata: &map[string]any{"n": 1}},
			"unknown property": {Name: auth0.String("x"), LogoURI: auth0.String("https://example.com/logo.png")},
		} {
			err := m.Client.Create(ctx, c)
			expectStatus(t, err, http.StatusBadRequest, "create: "+name)
		}
		for name, c := range map[string]*management.Client{
			"empty name":      {Name: auth0.String("")},
			"change app_type": {AppType: auth0.String("native")},
			"set secret":      {ClientSecret: auth0.String(strings.Repeat("s", 40))},
			"other client_id": {ClientID: auth0.String("other")},
			"lifetime":        {JWTConfiguration: &management.ClientJWTConfiguration{LifetimeInSeconds: auth0.Int(-1)}},
			"auth method":     {TokenEndpointAuthMethod: auth0.String("client_secret_post")},
		} {
			err := m.Client.Update(ctx, id, c)
			expectStatus(t, err, http.StatusBadRequest, "update: "+name)
		}
		// 400 for bodies the SDK cannot send.
		for _, body := range []string{`{"name":`, `{"name": 5}`, `{"name": "x"} {}`, `[]`} {
			if st, b := crRaw(t, s, http.MethodPost, "/clients", body); st != http.StatusBadRequest || !bytes.Contains(b, []byte(`"invalid_body"`)) {
				t.Errorf("POST %s: %d %s", body, st, b)
			}
		}
		before.unchanged(t, s, "refused bodies")

		// 404.
		_, err := m.Client.Read(ctx, "no-such-client")
		expectStatus(t, err, http.StatusNotFound, "read unknown")
		expectStatus(t, m.Client.Update(ctx, "no-such-client", &management.Client{Name: auth0.String("x")}), http.StatusNotFound, "update unknown")
		expectStatus(t, m.Client.Delete(ctx, "no-such-client"), http.StatusNotFound, "delete unknown")
		if st, b := crRaw(t, s, http.MethodGet, "/clients/no-such-client", ""); st != http.StatusNotFound || !bytes.Contains(b, []byte(`"inexistent_client"`)) {
			t.Errorf("404 body: %d %s", st, b)
		}

		// 403: built-in clients and missing scopes.
		expectStatus(t, m.Client.Delete(ctx, s.AdminID), http.StatusForbidden, "delete the admin client")
		reader := scopedSDK(t, s, "read:clients")
		before = crSnapshot(t, s)
		expectStatus(t, reader.Client.Create(ctx, &management.Client{Name: auth0.String("x")}), http.StatusForbidden, "create without create:clients")
		expectStatus(t, reader.Client.Update(ctx, id, &management.Client{Name: auth0.String("x")}), http.StatusForbidden, "update without update:clients")
		expectStatus(t, reader.Client.Delete(ctx, id), http.StatusForbidden, "delete without delete:clients")
		_, err = reader.Client.RotateSecret(ctx, id)
		expectStatus(t, err, http.StatusForbidden, "rotate without update:clients")
		before.unchanged(t, s, "calls without the scope")
		_, err = scopedSDK(t, s, "read:users").Client.List(ctx)
		expectStatus(t, err, http.StatusForbidden, "list without read:clients")
	})
}
