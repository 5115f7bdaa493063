package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestClientsCreateJSON(t *testing.T) {
	dsn := testenv.SQLite(t)
	t.Setenv("AUTHGRAPH_ADMIN_CLIENT_SECRET", "") // generated: printed to stderr, not stdout
	var stdout, stderr bytes.Buffer
	// A database no server has run on: the issuer the server will run with
	// is given (TestClientsCreateAudience covers the other cases).
	err := run(context.Background(), []string{"clients", "create", "--database", dsn, "--issuer", "https://id.example.com/",
		"--name", "Billing service", "--type", "m2m", "--scopes", "read:users update:users", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var out struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Audience     string `json:"audience"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("stdout is not the JSON object: %q", stdout.String())
	}
	if !strings.HasPrefix(out.ID, "cli_") || out.ClientID == "" || len(out.ClientSecret) < 43 || out.Audience != "https://id.example.com/api/v2/" {
		t.Fatalf("unexpected output %+v", out)
	}
	// The printed secret authenticates against the same database.
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app, err := clients.Authenticate(context.Background(), db.Ent, out.ClientID, out.ClientSecret)
	if err != nil || strings.Join(app.ManagementScopes, " ") != "read:users update:users" {
		t.Fatalf("authenticate: %v %+v", err, app)
	}
	if _, err := clients.Authenticate(context.Background(), db.Ent, out.ClientID, out.ClientSecret+"x"); err == nil {
		t.Fatal("wrong secret accepted")
	}
}

func TestClientsCreateRejectsBadInput(t *testing.T) {
	dsn := testenv.SQLite(t)
	for _, args := range [][]string{
		{"--name", "x"},
		{"--name", "x", "--type", "robot"},
		{"--name", "x", "--type", "m2m", "--scopes", "read:everything"},
		{"--name", "x", "--type", "spa", "--redirect-uri", "not a url"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"clients", "create", "--database", dsn, "--json"}, args...), &stdout, &stderr)
		if err == nil || stdout.Len() != 0 {
			t.Errorf("%v: err = %v, stdout %q", args, err, stdout.String())
		}
	}
}

func TestMigrateCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--database", testenv.SQLite(t)}, &stdout, &stderr); err != nil {
		t.Fatal(err, stderr.String())
	}
	if !strings.Contains(stdout.String(), fmt.Sprintf("version %d", store.LatestVersion())) {
		t.Fatalf("migrate said %q", stdout.String())
	}
}
