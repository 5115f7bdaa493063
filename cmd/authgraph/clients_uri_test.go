package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/testenv"
)

// TestClientsCreateRefusesUnsafeURIs: `authgraph clients create` applies
// the registration rules of createClient: the error names the field and
// nothing is printed (no client, no secret).
// The database has never been served, so each call names the issuer (the
// audience it would print follows it); the URIs are what is checked.
func TestClientsCreateRefusesUnsafeURIs(t *testing.T) {
	dsn := testenv.SQLite(t)
	t.Setenv("AUTHGRAPH_ADMIN_CLIENT_SECRET", "")
	for _, c := range []struct {
		args  []string
		field string
	}{
		{[]string{"--redirect-uri", "javascript:alert(1)"}, "redirectUris"},
		{[]string{"--redirect-uri", "data:text/html,x"}, "redirectUris"},
		{[]string{"--redirect-uri", "http://app.example.com/cb"}, "redirectUris"},
		{[]string{"--redirect-uri", "https://app.example.com/cb#x"}, "redirectUris"},
		{[]string{"--logout-url", "javascript:alert(1)"}, "logoutUrls"},
		{[]string{"--web-origin", "http://app.example.com"}, "webOrigins"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"clients", "create", "--database", dsn, "--issuer", "http://127.0.0.1:8080/", "--json", "--name", "x", "--type", "spa"}, c.args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.field) || stdout.Len() != 0 {
			t.Errorf("%v: err = %v, stdout %q", c.args, err, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"clients", "create", "--database", dsn, "--issuer", "http://127.0.0.1:8080/", "--json", "--name", "app", "--type", "native",
		"--redirect-uri", "com.example.app:/cb", "--redirect-uri", "http://127.0.0.1:7777/cb"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
}
