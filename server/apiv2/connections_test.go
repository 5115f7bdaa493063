package apiv2_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/internal/apitest"
)

// recorder keeps every response body the SDK receives, so secrets can be
// looked for in the raw JSON and not only in the decoded structs.
type recorder struct {
	mu     sync.Mutex
	bodies []string
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	rec.mu.Lock()
	rec.bodies = append(rec.bodies, string(b))
	rec.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// mustNotContain fails if any recorded response holds one of secrets.
func (rec *recorder) mustNotContain(t *testing.T, secrets ...string) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.bodies) == 0 {
		t.Fatal("no response recorded")
	}
	for _, b := range rec.bodies {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("a response holds the secret %q: %s", s, b)
			}
		}
	}
}

// connSDK is a go-auth0 client for the server, as client id, recording the
// responses it gets.
func connSDK(t *testing.T, s *apitest.Server, id, secret string) (*management.Management, *recorder) {
	t.Helper()
	rec := &recorder{}
	m, err := management.New(strings.TrimPrefix(s.URL, "http://"),
		management.WithInsecure(),
		management.WithClientCredentials(context.Background(), id, secret),
		management.WithNoRetries(),
		management.WithClient(&http.Client{Transport: rec}))
	if err != nil {
		t.Fatal(err)
	}
	return m, rec
}

func countConnections(t *testing.T, s *apitest.Server, name string) int {
	t.Helper()
	n, err := s.Deps.DB.Ent.Connection.Query().Where(connection.Name(name)).Count(authz.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stored(t *testing.T, s *apitest.Server, name string) (*ent.Connection, map[string]any) {
	t.Helper()
	ctx := authz.SystemContext(context.Background())
	c, err := s.Deps.DB.Ent.Connection.Query().Where(connection.Name(name)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := s.Deps.Connections.Secrets(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, secrets
}

func TestConnections(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m, rec := connSDK(t, s, s.AdminID, s.AdminSecret)
		app, err := clients.Create(authz.SystemContext(ctx), s.Deps.DB.Ent, clients.Params{
			Name: "conn app", Type: clients.TypeRegularWeb, RedirectURIs: []string{"https://app.example.com/cb"},
		})
		if err != nil {
			t.Fatal(err)
		}
		appID := app.Client.ClientID

		t.Run("database CRUD", func(t *testing.T) {
			c := &management.Connection{
				Name:     auth0.String("db-crud"),
				Strategy: auth0.String("auth0"),
				Options: &management.ConnectionOptions{
					PasswordPolicy:       auth0.String("fair"),
					BruteForceProtection: auth0.Bool(true),
					RequiresUsername:     auth0.Bool(true),
					Validation:           map[string]interface{}{"username": map[string]interface{}{"min": 3, "max": 20}},
				},
				EnabledClients: &[]string{appID},
			}
			if err := m.Connection.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(c.GetID(), "con_") || c.GetStrategy() != "auth0" {
				t.Fatalf("created %+v", c)
			}
			got, err := m.Connection.Read(ctx, c.GetID())
			if err != nil {
				t.Fatal(err)
			}
			o, ok := got.Options.(*management.ConnectionOptions)
			if !ok {
				t.Fatalf("options decoded as %T", got.Options)
			}
			if o.GetPasswordPolicy() != "fair" || !o.GetRequiresUsername() || !o.GetBruteForceProtection() || o.Validation["username"] == nil {
				t.Fatalf("options %+v", o)
			}
			if got.GetName() != "db-crud" || len(got.GetEnabledClients()) != 1 || got.GetEnabledClients()[0] != appID ||
				got.GetIsDomainConnection() || len(got.GetRealms()) != 1 || got.GetRealms()[0] != "db-crud" {
				t.Fatalf("read %+v", got)
			}
			byName, err := m.Connection.ReadByName(ctx, "db-crud")
			if err != nil || byName.GetID() != c.GetID() {
				t.Fatalf("ReadByName: %v %+v", err, byName)
			}

			// options replace the stored ones wholesale, as Auth0's do.
			if err := m.Connection.Update(ctx, c.GetID(), &management.Connection{
				Options: &management.ConnectionOptions{PasswordPolicy: auth0.String("good")},
			}); err != nil {
				t.Fatal(err)
			}
			st, _ := stored(t, s, "db-crud")
			if st.Options["passwordPolicy"] != "good" || st.Options["requires_username"] != nil || len(st.Options) != 1 {
				t.Fatalf("stored options after PATCH %v", st.Options)
			}
			// Without options, options stay; enabled_clients replace.
			if err := m.Connection.Update(ctx, c.GetID(), &management.Connection{EnabledClients: &[]string{}}); err != nil {
				t.Fatal(err)
			}
			st, _ = stored(t, s, "db-crud")
			if st.Options["passwordPolicy"] != "good" || len(st.EnabledClients) != 0 {
				t.Fatalf("stored after PATCH enabled_clients: %v %v", st.Options, st.EnabledClients)
			}
			// A read object sent back as it is (id, name, strategy, realms
			// included) is accepted.
			back, err := m.Connection.Read(ctx, c.GetID())
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Connection.Update(ctx, c.GetID(), back); err != nil {
				t.Fatalf("round trip: %v", err)
			}
			if err := m.Connection.Update(ctx, c.GetID(), &management.Connection{Name: auth0.String("renamed")}); err == nil {
				t.Fatal("renaming succeeded")
			} else {
				expectStatus(t, err, http.StatusBadRequest, "")
			}

			if err := m.Connection.Delete(ctx, c.GetID()); err != nil {
				t.Fatal(err)
			}
			_, err = m.Connection.Read(ctx, c.GetID())
			expectStatus(t, err, http.StatusNotFound, "")
			if countConnections(t, s, "db-crud") != 0 {
				t.Fatal("still stored")
			}
			// Each write has its audit entry, under the GraphQL operation names.
			for _, op := range []string{"Create a connection db-crud", "Update a connection db-crud", "Delete a connection db-crud"} {
				n, err := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("sapi"), logevent.Description(op)).Count(authz.SystemContext(ctx))
				if err != nil || n == 0 {
					t.Errorf("no audit entry %q (%v)", op, err)
				}
			}
		})

		t.Run("secrets are never returned", func(t *testing.T) {
			const secret, bindPW, dsnPW = "oidc-client-secret-value", "ldap-bind-password-value", "dsn-password-value"
			oidcConn := &management.Connection{
				Name:     auth0.String("corp-oidc"),
				Strategy: auth0.String("oidc"),
				Options: &management.ConnectionOptionsOIDC{
					ClientID:     auth0.String("authgraph"),
					ClientSecret: auth0.String(secret),
					Issuer:       auth0.String("https://idp.example.com"),
					Scope:        auth0.String("openid email"),
					Type:         auth0.String("back_channel"),
				},
			}
			if err := m.Connection.Create(ctx, oidcConn); err != nil {
				t.Fatal(err)
			}
			if o := oidcConn.Options.(*management.ConnectionOptionsOIDC); o.ClientSecret != nil || o.GetIssuer() != "https://idp.example.com" {
				t.Fatalf("created options %+v", o)
			}
			ldapConn := &management.Connection{
				Name:     auth0.String("corp-ldap"),
				Strategy: auth0.String("ad"),
				Options: map[string]interface{}{
					"url": "ldaps://ldap.example.com:636", "bind_dn": "cn=svc,dc=example,dc=com",
					"bind_password": bindPW, "user_search_base": "ou=people,dc=example,dc=com",
					"domain_aliases": []string{"example.com"},
				},
			}
			if err := m.Connection.Create(ctx, ldapConn); err != nil {
				t.Fatal(err)
			}
			dbConn := &management.Connection{
				Name:     auth0.String("legacy-db"),
				Strategy: auth0.String("auth0"),
				Options: &management.ConnectionOptions{
					EnabledDatabaseCustomization: auth0.Bool(true),
					ImportMode:                   auth0.Bool(true),
					Configuration:                &map[string]string{"dsn": "postgres://legacy:" + dsnPW + "@db.example.com/users"},
				},
			}
			if err := m.Connection.Create(ctx, dbConn); err != nil {
				t.Fatal(err)
			}
			if st, secrets := stored(t, s, "legacy-db"); st.Strategy != connection.StrategyCustomdb || secrets["dsn"] == nil {
				t.Fatalf("custom database stored as %s with secrets %v", st.Strategy, secrets)
			}
			if o := dbConn.Options.(*management.ConnectionOptions); !o.GetEnabledDatabaseCustomization() || !o.GetImportMode() || o.Configuration != nil {
				t.Fatalf("custom database options %+v", o)
			}
			for _, c := range []*management.Connection{oidcConn, ldapConn, dbConn} {
				if _, err := m.Connection.Read(ctx, c.GetID()); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := m.Connection.List(ctx); err != nil {
				t.Fatal(err)
			}

			// A read-modify-write cannot carry the secret: omitted, it stays.
			got, err := m.Connection.Read(ctx, oidcConn.GetID())
			if err != nil {
				t.Fatal(err)
			}
			o := got.Options.(*management.ConnectionOptionsOIDC)
			o.Scope = auth0.String("openid email profile")
			if err := m.Connection.Update(ctx, oidcConn.GetID(), &management.Connection{Options: o}); err != nil {
				t.Fatal(err)
			}
			st, secrets := stored(t, s, "corp-oidc")
			if secrets["client_secret"] != secret || st.Options["scope"] != "openid email profile" {
				t.Fatalf("after PATCH without the secret: options %v, secret kept %v", st.Options, secrets["client_secret"] == secret)
			}
			var raw json.RawMessage
			if err := m.Request(ctx, http.MethodGet, m.URI("connections", oidcConn.GetID()), &raw); err != nil {
				t.Fatal(err)
			}
			// An explicit null removes it.
			if err := m.Request(ctx, http.MethodPatch, m.URI("connections", oidcConn.GetID()), &map[string]any{
				"options": map[string]any{"client_id": "authgraph", "issuer": "https://idp.example.com", "client_secret": nil},
			}); err != nil {
				t.Fatal(err)
			}
			if _, secrets := stored(t, s, "corp-oidc"); secrets["client_secret"] != nil {
				t.Fatal("null did not remove the secret")
			}
			rec.mustNotContain(t, secret, bindPW, dsnPW, "bind_password", "client_secret", `"dsn"`, "configuration", "customScripts")
			if !strings.Contains(string(raw), `"issuer":"https://idp.example.com"`) {
				t.Fatalf("raw read %s", raw)
			}
		})

		t.Run("custom database scripts", func(t *testing.T) {
			module := base64.StdEncoding.EncodeToString(customdbtest.Templates(t)["postgres"])
			c := &management.Connection{
				Name:     auth0.String("scripted-db"),
				Strategy: auth0.String("auth0"),
				Options: &management.ConnectionOptions{
					EnabledDatabaseCustomization: auth0.Bool(true),
					ImportMode:                   auth0.Bool(true),
					CustomScripts:                &map[string]string{"login": module},
				},
			}
			if err := m.Connection.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			// Scripts are secret: one given is added, the others stay, as
			// a Go module each fills most of a request.
			if err := m.Connection.Update(ctx, c.GetID(), &management.Connection{Options: &management.ConnectionOptions{
				EnabledDatabaseCustomization: auth0.Bool(true), ImportMode: auth0.Bool(true),
				CustomScripts: &map[string]string{"get_user": module},
			}}); err != nil {
				t.Fatal(err)
			}
			st, secrets := stored(t, s, "scripted-db")
			scripts, _ := secrets["scripts"].(map[string]any)
			if len(scripts) != 2 || scripts["login"] == nil || scripts["get_user"] == nil || st.Options["import_mode"] != true {
				t.Fatalf("after adding get_user: scripts %d, options %v", len(scripts), st.Options)
			}
			// A null removes one.
			if err := m.Request(ctx, http.MethodPatch, m.URI("connections", c.GetID()), &map[string]any{
				"options": map[string]any{"enabledDatabaseCustomization": true, "customScripts": map[string]any{"login": nil}},
			}); err != nil {
				t.Fatal(err)
			}
			st, secrets = stored(t, s, "scripted-db")
			scripts, _ = secrets["scripts"].(map[string]any)
			if len(scripts) != 1 || scripts["get_user"] == nil || st.Options["import_mode"] != nil {
				t.Fatalf("after removing login: scripts %v, options %v", len(scripts), st.Options)
			}
			rec.mustNotContain(t, module[:64])
		})

		t.Run("google-oauth2 is an oidc preset", func(t *testing.T) {
			c := &management.Connection{
				Name:     auth0.String("google"),
				Strategy: auth0.String("google-oauth2"),
				Options: &management.ConnectionOptionsGoogleOAuth2{
					ClientID: auth0.String("gid"), ClientSecret: auth0.String("gsecret-value"),
					Scope: []interface{}{"email", "profile"},
				},
			}
			if err := m.Connection.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			st, _ := stored(t, s, "google")
			if st.Strategy != connection.StrategyOidc || st.Options["preset"] != "google" || st.Options["scope"] != "email profile" {
				t.Fatalf("stored %s %v", st.Strategy, st.Options)
			}
			got, err := m.Connection.Read(ctx, c.GetID())
			if err != nil {
				t.Fatal(err)
			}
			o, ok := got.Options.(*management.ConnectionOptionsGoogleOAuth2)
			if got.GetStrategy() != "google-oauth2" || !ok || len(o.Scope) != 2 || o.ClientSecret != nil {
				t.Fatalf("read %s %+v", got.GetStrategy(), got.Options)
			}
			rec.mustNotContain(t, "gsecret-value")
		})

		t.Run("enabled clients", func(t *testing.T) {
			c := &management.Connection{Name: auth0.String("clients-db"), Strategy: auth0.String("auth0")}
			if err := m.Connection.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			other, err := clients.Create(authz.SystemContext(ctx), s.Deps.DB.Ent, clients.Params{
				Name: "conn app 2", Type: clients.TypeRegularWeb, RedirectURIs: []string{"https://app2.example.com/cb"},
			})
			if err != nil {
				t.Fatal(err)
			}
			otherID := other.Client.ClientID
			if err := m.Connection.UpdateEnabledClients(ctx, c.GetID(), []management.ConnectionEnabledClient{
				{ClientID: auth0.String(appID), Status: auth0.Bool(true)},
				{ClientID: auth0.String(otherID), Status: auth0.Bool(true)},
			}); err != nil {
				t.Fatal(err)
			}
			first, err := m.Connection.ReadEnabledClients(ctx, c.GetID(), management.Take(1))
			if err != nil {
				t.Fatal(err)
			}
			if len(first.GetClients()) != 1 || !first.HasNext() {
				t.Fatalf("first page %+v", first)
			}
			second, err := m.Connection.ReadEnabledClients(ctx, c.GetID(), management.Take(1), management.From(first.Next))
			if err != nil {
				t.Fatal(err)
			}
			if len(second.GetClients()) != 1 || second.HasNext() {
				t.Fatalf("second page %+v", second)
			}
			// (The second application, created after the connection, was
			// enabled on it already, as in Auth0.)
			got := []string{first.GetClients()[0].GetClientID(), second.GetClients()[0].GetClientID()}
			if !slices.Contains(got, appID) || !slices.Contains(got, otherID) {
				t.Fatalf("pages hold %v, want %s and %s", got, appID, otherID)
			}
			if err := m.Connection.UpdateEnabledClients(ctx, c.GetID(), []management.ConnectionEnabledClient{
				{ClientID: auth0.String(appID), Status: auth0.Bool(false)},
			}); err != nil {
				t.Fatal(err)
			}
			if st, _ := stored(t, s, "clients-db"); len(st.EnabledClients) != 1 || st.EnabledClients[0] != otherID {
				t.Fatalf("enabled after disabling: %v", st.EnabledClients)
			}
			err = m.Connection.UpdateEnabledClients(ctx, c.GetID(), []management.ConnectionEnabledClient{
				{ClientID: auth0.String("no-such-client"), Status: auth0.Bool(true)},
			})
			expectStatus(t, err, http.StatusBadRequest, "")
			if st, _ := stored(t, s, "clients-db"); len(st.EnabledClients) != 1 {
				t.Fatalf("a refused change wrote: %v", st.EnabledClients)
			}
			expectStatus(t, m.Connection.UpdateEnabledClients(ctx, "con_01J0000000000000000000000", []management.ConnectionEnabledClient{
				{ClientID: auth0.String(appID), Status: auth0.Bool(true)},
			}), http.StatusNotFound, "")
		})

		t.Run("filters and paging", func(t *testing.T) {
			for _, n := range []string{"page-a", "page-b", "page-c"} {
				if err := m.Connection.Create(ctx, &management.Connection{Name: auth0.String(n), Strategy: auth0.String("auth0")}); err != nil {
					t.Fatal(err)
				}
			}
			saml := &management.Connection{Name: auth0.String("page-saml"), Strategy: auth0.String("samlp"),
				Options: &management.ConnectionOptionsSAML{SignInEndpoint: auth0.String("https://idp.example.com/sso"), SigningCert: auth0.String("MIIBcert")}}
			if err := m.Connection.Create(ctx, saml); err != nil {
				t.Fatal(err)
			}
			all, err := m.Connection.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			byStrategy, err := m.Connection.List(ctx, management.Parameter("strategy", "auth0"))
			if err != nil {
				t.Fatal(err)
			}
			if byStrategy.Total >= all.Total || byStrategy.Total < 4 { // the default database and page-a..c at least
				t.Fatalf("strategy=auth0: %d of %d", byStrategy.Total, all.Total)
			}
			for _, c := range byStrategy.Connections {
				if c.GetStrategy() != "auth0" {
					t.Fatalf("strategy filter returned %s", c.GetStrategy())
				}
			}
			var two management.ConnectionList
			if err := m.Request(ctx, http.MethodGet, m.URI("connections")+"?strategy=samlp&strategy=ad&include_totals=true", &two); err != nil {
				t.Fatal(err)
			}
			for _, c := range two.Connections {
				if c.GetStrategy() != "samlp" && c.GetStrategy() != "ad" {
					t.Fatalf("repeated strategy returned %s", c.GetStrategy())
				}
			}
			if two.Total == 0 {
				t.Fatal("repeated strategy found nothing")
			}
			byName, err := m.Connection.List(ctx, management.Parameter("name", "page-b"))
			if err != nil || byName.Total != 1 || byName.Connections[0].GetName() != "page-b" {
				t.Fatalf("name filter: %v %+v", err, byName)
			}

			p1, err := m.Connection.List(ctx, management.PerPage(2), management.Page(1))
			if err != nil {
				t.Fatal(err)
			}
			if p1.Start != 2 || p1.Limit != 2 || p1.Length != len(p1.Connections) || p1.Total != all.Total || p1.Length != min(2, all.Total-2) {
				t.Fatalf("page 1: %+v", p1.List)
			}
			if p1.HasNext() != (all.Total > 4) {
				t.Fatalf("HasNext %v with total %d", p1.HasNext(), all.Total)
			}
			if p1.Connections[0].GetName() != all.Connections[2].GetName() {
				t.Fatalf("page 1 starts at %s, want %s", p1.Connections[0].GetName(), all.Connections[2].GetName())
			}
			var bare []map[string]any
			if err := m.Request(ctx, http.MethodGet, m.URI("connections")+"?include_totals=false&per_page=1&fields=name,strategy", &bare); err != nil {
				t.Fatal(err)
			}
			if len(bare) != 1 || len(bare[0]) != 2 || bare[0]["options"] != nil {
				t.Fatalf("bare page with fields: %v", bare)
			}
			var excl map[string]any
			if err := m.Request(ctx, http.MethodGet, m.URI("connections", saml.GetID())+"?fields=options&include_fields=false", &excl); err != nil {
				t.Fatal(err)
			}
			if _, ok := excl["options"]; ok || excl["strategy"] != "samlp" {
				t.Fatalf("excluded fields: %v", excl)
			}
		})

		t.Run("OpenAPI documents the routes", func(t *testing.T) {
			resp, err := http.Get(s.URL + "/api/v2/openapi.json")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var doc struct {
				Paths map[string]map[string]any
			}
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			for path, methods := range map[string][]string{
				"/connections":              {"get", "post"},
				"/connections/{id}":         {"get", "patch", "delete"},
				"/connections/{id}/clients": {"get", "patch"},
			} {
				for _, method := range methods {
					if doc.Paths[path][method] == nil {
						t.Errorf("%s %s not documented (paths: %d)", method, path, len(doc.Paths))
					}
				}
			}
		})

		t.Run("403 without the scope", func(t *testing.T) {
			reader := scopedSDK(t, s, "read:connections")
			err := reader.Connection.Create(ctx, &management.Connection{Name: auth0.String("no-scope"), Strategy: auth0.String("auth0")})
			expectStatus(t, err, http.StatusForbidden, "")
			if countConnections(t, s, "no-scope") != 0 {
				t.Fatal("written without create:connections")
			}
			def, err := reader.Connection.ReadByName(ctx, "Username-Password-Authentication")
			if err != nil {
				t.Fatal(err)
			}
			err = reader.Connection.Update(ctx, def.GetID(), &management.Connection{Options: &management.ConnectionOptions{PasswordPolicy: auth0.String("none")}})
			expectStatus(t, err, http.StatusForbidden, "")
			expectStatus(t, reader.Connection.Delete(ctx, def.GetID()), http.StatusForbidden, "")
			if st, _ := stored(t, s, "Username-Password-Authentication"); st.Options["passwordPolicy"] == "none" {
				t.Fatal("updated without update:connections")
			}
			users := scopedSDK(t, s, "read:users")
			_, err = users.Connection.List(ctx)
			expectStatus(t, err, http.StatusForbidden, "")
		})

		t.Run("403 without control of its administrators", func(t *testing.T) {
			c := &management.Connection{Name: auth0.String("admins-db"), Strategy: auth0.String("auth0"),
				Options: &management.ConnectionOptions{PasswordPolicy: auth0.String("good")}}
			if err := m.Connection.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			admin := s.AdminToken(t)
			var u struct{ CreateUser struct{ ID string } }
			s.MustGraphQL(t, admin, `mutation { createUser(input: {connection: "admins-db", email: "kim@example.com", password: "Correct-Horse-9-Battery"}) { id } }`, nil, &u)
			s.MustGraphQL(t, admin, `mutation($id: ID!) { grantAdmin(userId: $id, scopes: ["read:users", "update:users"]) { id } }`,
				map[string]any{"id": u.CreateUser.ID}, nil)
			dash, err := clients.Dashboard(authz.SystemContext(ctx), s.Deps.DB.Ent)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Connection.UpdateEnabledClients(ctx, c.GetID(), []management.ConnectionEnabledClient{
				{ClientID: auth0.String(dash.ClientID), Status: auth0.Bool(true)},
			}); err != nil {
				t.Fatal(err)
			}
			before, _ := stored(t, s, "admins-db")
			lesser := scopedSDK(t, s, "read:connections", "update:connections", "delete:connections")
			expectStatus(t, lesser.Connection.Update(ctx, c.GetID(), &management.Connection{
				Options: &management.ConnectionOptions{PasswordPolicy: auth0.String("none")}}), http.StatusForbidden, "")
			expectStatus(t, lesser.Connection.UpdateEnabledClients(ctx, c.GetID(), []management.ConnectionEnabledClient{
				{ClientID: auth0.String(dash.ClientID), Status: auth0.Bool(false)}}), http.StatusForbidden, "")
			expectStatus(t, lesser.Connection.Delete(ctx, c.GetID()), http.StatusForbidden, "")
			after, _ := stored(t, s, "admins-db")
			if after.Options["passwordPolicy"] != "good" || !slices.Equal(after.EnabledClients, before.EnabledClients) {
				t.Fatalf("a refused call changed the connection: %v %v", after.Options, after.EnabledClients)
			}
			// Enabling another application needs no control.
			if err := lesser.Connection.UpdateEnabledClients(ctx, c.GetID(), []management.ConnectionEnabledClient{
				{ClientID: auth0.String(appID), Status: auth0.Bool(true)}}); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("400 bad option writes nothing", func(t *testing.T) {
			err := m.Connection.Create(ctx, &management.Connection{Name: auth0.String("bad-opt"), Strategy: auth0.String("auth0"),
				Options: &management.ConnectionOptions{PasswordPolicy: auth0.String("weird")}})
			expectStatus(t, err, http.StatusBadRequest, "")
			if !strings.Contains(err.Error(), "passwordPolicy") {
				t.Fatalf("error does not name the option: %v", err)
			}
			err = m.Connection.Create(ctx, &management.Connection{Name: auth0.String("bad-script"), Strategy: auth0.String("auth0"),
				Options: &management.ConnectionOptions{EnabledDatabaseCustomization: auth0.Bool(true), CustomScripts: &map[string]string{"bogus": "AGFzbQ=="}}})
			expectStatus(t, err, http.StatusBadRequest, "")
			if !strings.Contains(err.Error(), "customScripts.bogus") {
				t.Fatalf("error does not name the script by Auth0's option: %v", err)
			}
			err = m.Connection.Create(ctx, &management.Connection{Name: auth0.String("bad-strategy"), Strategy: auth0.String("facebook")})
			expectStatus(t, err, http.StatusBadRequest, "")
			err = m.Connection.Create(ctx, &management.Connection{Name: auth0.String("bad-display"), Strategy: auth0.String("auth0"), DisplayName: auth0.String("Nice")})
			expectStatus(t, err, http.StatusBadRequest, "")
			for _, n := range []string{"bad-opt", "bad-script", "bad-strategy", "bad-display"} {
				if countConnections(t, s, n) != 0 {
					t.Fatalf("%s was written", n)
				}
			}

			c := &management.Connection{Name: auth0.String("bad-upd"), Strategy: auth0.String("auth0"),
				Options: &management.ConnectionOptions{PasswordPolicy: auth0.String("fair")}}
			if err := m.Connection.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			err = m.Connection.Update(ctx, c.GetID(), &management.Connection{Options: map[string]any{"passwordPolicy": "good", "no_such_option": true}})
			expectStatus(t, err, http.StatusBadRequest, "")
			err = m.Connection.Update(ctx, c.GetID(), &management.Connection{Options: &management.ConnectionOptions{EnabledDatabaseCustomization: auth0.Bool(true)}})
			expectStatus(t, err, http.StatusBadRequest, "")
			if st, _ := stored(t, s, "bad-upd"); st.Options["passwordPolicy"] != "fair" {
				t.Fatalf("options changed by a refused PATCH: %v", st.Options)
			}
		})

		t.Run("404 unknown", func(t *testing.T) {
			const unknown = "con_01J0000000000000000000000"
			_, err := m.Connection.Read(ctx, unknown)
			expectStatus(t, err, http.StatusNotFound, "")
			expectStatus(t, m.Connection.Update(ctx, unknown, &management.Connection{EnabledClients: &[]string{}}), http.StatusNotFound, "")
			expectStatus(t, m.Connection.Delete(ctx, unknown), http.StatusNotFound, "")
			_, err = m.Connection.ReadByName(ctx, "no-such-connection")
			expectStatus(t, err, http.StatusNotFound, "")
		})

		t.Run("409 duplicate name", func(t *testing.T) {
			if err := m.Connection.Create(ctx, &management.Connection{Name: auth0.String("dup"), Strategy: auth0.String("auth0")}); err != nil {
				t.Fatal(err)
			}
			err := m.Connection.Create(ctx, &management.Connection{Name: auth0.String("dup"), Strategy: auth0.String("oidc"),
				Options: &management.ConnectionOptionsOIDC{ClientID: auth0.String("x"), Issuer: auth0.String("https://idp.example.com")}})
			expectStatus(t, err, http.StatusConflict, "")
			st, _ := stored(t, s, "dup")
			if st.Strategy != connection.StrategyDatabase {
				t.Fatalf("the duplicate replaced the original: %s", st.Strategy)
			}
		})
	})
}
