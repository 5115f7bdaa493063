package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/apis"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

type createdClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Audience     string `json:"audience"`
}

func clientsCreate(t *testing.T, args ...string) (createdClient, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"clients", "create", "--json"}, args...), &stdout, &stderr)
	var out createdClient
	if err == nil {
		if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil {
			t.Fatalf("stdout is not the JSON object: %q", stdout.String())
		}
	} else if stdout.Len() != 0 {
		t.Fatalf("a refused command printed %q", stdout.String())
	}
	return out, stderr.String(), err
}

// TestClientsCreateAudience: the CLI runs with its own default issuer while
// the server runs with another one; the audience it prints is the server's
// management API identifier, and a client_credentials request with it works
// against the running server.
func TestClientsCreateAudience(t *testing.T) {
	t.Setenv("AUTHGRAPH_ISSUER", "")
	t.Setenv("AUTHGRAPH_ADMIN_CLIENT_SECRET", "")
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		dsn := s.Deps.Config.DatabaseURL
		t.Setenv("AUTHGRAPH_MASTER_KEY", s.Deps.Config.MasterKey)
		registered, err := apis.ManagementAPIIdentifier(context.Background(), s.Deps.DB.Ent)
		if err != nil || registered != s.Issuer+"api/v2/" || registered == authz.ManagementAudience("http://127.0.0.1:8080/") {
			t.Fatalf("the server's management API: %q %v", registered, err)
		}

		out, _, err := clientsCreate(t, "--database", dsn, "--name", "Reporting", "--type", "m2m", "--scopes", "read:users")
		if err != nil {
			t.Fatal(err)
		}
		if out.Audience != registered {
			t.Fatalf("audience %q, the server's management API is %q", out.Audience, registered)
		}
		tok := clientCredentials(t, s, out)
		var users struct {
			Users struct{ TotalCount int }
		}
		s.MustGraphQL(t, tok, `{ users(first: 1) { totalCount } }`, nil, &users)

		// An explicit issuer that is not the server's: the server's value,
		// and a warning.
		out, stderr, err := clientsCreate(t, "--database", dsn, "--issuer", "https://elsewhere.example.com/", "--name", "Other", "--type", "m2m")
		if err != nil || out.Audience != registered || !strings.Contains(stderr, "warning") || !strings.Contains(stderr, registered) {
			t.Fatalf("mismatching --issuer: %+v, stderr %q, %v", out, stderr, err)
		}
	})
}

// clientCredentials gets a management token for c with its printed audience.
func clientCredentials(t *testing.T, s *apitest.Server, c createdClient) string {
	t.Helper()
	return s.ClientCredentials(t, c.ClientID, c.ClientSecret, url.Values{"audience": {c.Audience}})
}

// TestClientsCreateRefusesAnUnknownAudience: on a database no server has
// run on, without --issuer, the CLI cannot know the audience: it says so and
// creates nothing.
func TestClientsCreateRefusesAnUnknownAudience(t *testing.T) {
	t.Setenv("AUTHGRAPH_ISSUER", "")
	t.Setenv("AUTHGRAPH_ADMIN_CLIENT_SECRET", "")
	dsn := testenv.SQLite(t)
	_, _, err := clientsCreate(t, "--database", dsn, "--name", "Reporting", "--type", "m2m")
	if !errors.Is(err, apis.ErrManagementAPINotRegistered) || !strings.Contains(err.Error(), "--issuer") {
		t.Fatalf("err = %v", err)
	}
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sys := authz.SystemContext(context.Background())
	if n := db.Ent.Application.Query().CountX(sys); n != 1 { // the bootstrap admin client only
		t.Fatalf("%d clients after the refusal, want the admin client only", n)
	}
	if n := db.Ent.ResourceServer.Query().CountX(sys); n != 0 {
		t.Fatalf("the CLI registered %d resource servers", n)
	}
	// AUTHGRAPH_ISSUER names the server's issuer as well as --issuer does.
	t.Setenv("AUTHGRAPH_ISSUER", "https://id.example.com/")
	out, _, err := clientsCreate(t, "--database", dsn, "--name", "Reporting", "--type", "m2m")
	if err != nil || out.Audience != "https://id.example.com/api/v2/" {
		t.Fatalf("with AUTHGRAPH_ISSUER: %+v %v", out, err)
	}
}
