package apiv2_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

// Auth0's customScripts as JavaScript and its free-form configuration over
// the Management API (go-auth0): sorted into customScripts, scripts, dsn
// and configuration, sealed, and a syntax error refused with its position.
func TestConnectionsJavaScriptScripts(t *testing.T) {
	s := apitest.Start(t, testenv.SQLite(t))
	ctx := context.Background()
	m, _ := connSDK(t, s, s.AdminID, s.AdminSecret)
	login := "function login(email, password, callback) {\n  callback(null, { user_id: '1', email: email, plan: configuration.PLAN });\n}"

	err := m.Connection.Create(ctx, &management.Connection{Name: auth0.String("js-bad"), Strategy: auth0.String("auth0"),
		Options: &management.ConnectionOptions{EnabledDatabaseCustomization: auth0.Bool(true),
			CustomScripts: &map[string]string{"login": "function login(email, password, callback) {\n  return callback(null, {;\n}"}}})
	expectStatus(t, err, http.StatusBadRequest, "")
	if !strings.Contains(err.Error(), "customScripts.login") || !strings.Contains(err.Error(), "line 2, column") {
		t.Fatalf("syntax error: %v", err)
	}
	if countConnections(t, s, "js-bad") != 0 {
		t.Fatal("a refused connection was stored")
	}

	c := &management.Connection{Name: auth0.String("js-ok"), Strategy: auth0.String("auth0"),
		Options: &management.ConnectionOptions{EnabledDatabaseCustomization: auth0.Bool(true),
			CustomScripts: &map[string]string{"login": login},
			Configuration: &map[string]string{"PLAN": "gold", "dsn": "postgres://legacy.example/db"}}}
	if err := m.Connection.Create(ctx, c); err != nil {
		t.Fatalf("create: %v", err)
	}
	// A WebAssembly module (valid, but without the script's exports) is
	// routed to scripts and checked as a module.
	err = m.Connection.Update(ctx, c.GetID(), &management.Connection{Options: &management.ConnectionOptions{
		CustomScripts: &map[string]string{"get_user": "AGFzbQEAAAA="}}})
	expectStatus(t, err, http.StatusBadRequest, "")
	if !strings.Contains(err.Error(), "customScripts.get_user") || !strings.Contains(err.Error(), "not a valid script") {
		t.Fatalf("module: %v", err)
	}
	_, secrets := stored(t, s, "js-ok")
	js, _ := secrets["customScripts"].(map[string]any)
	conf, _ := secrets["configuration"].(map[string]any)
	if js["login"] != login || conf["PLAN"] != "gold" || conf["dsn"] != nil || secrets["dsn"] != "postgres://legacy.example/db" || secrets["scripts"] != nil {
		t.Fatalf("stored secrets: %v", secrets)
	}
	got, err := m.Connection.Read(ctx, c.GetID())
	if err != nil {
		t.Fatal(err)
	}
	opts := got.Options.(*management.ConnectionOptions)
	if opts.CustomScripts != nil || opts.Configuration != nil {
		t.Fatalf("secrets returned: %+v %+v", opts.CustomScripts, opts.Configuration)
	}
}
