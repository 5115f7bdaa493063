package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestAdminsAddRemoveList(t *testing.T) {
	dsn := testenv.SQLite(t)
	s := apitest.Start(t, dsn)
	t.Setenv("AUTHGRAPH_MASTER_KEY", s.Deps.Config.MasterKey)
	t.Setenv("AUTHGRAPH_ADMIN_CLIENT_SECRET", "")
	for _, u := range []struct {
		email    string
		verified bool
	}{{"ada@example.com", true}, {"eve@example.com", false}} {
		s.MustGraphQL(t, s.AdminToken(t), `mutation($e: String!, $v: Boolean) { createUser(input: {connection: "Username-Password-Authentication",
			email: $e, password: "Correct-Horse-Battery-9", emailVerified: $v}) { id } }`, map[string]any{"e": u.email, "v": u.verified}, nil)
	}
	cli := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(append([]string{"admins"}, args...), "--database", dsn, "--issuer", s.Issuer), &stdout, &stderr)
		return stdout.String(), err
	}
	for _, email := range []string{"nobody@example.com", "eve@example.com"} {
		if out, err := cli("add", email); err == nil || !strings.Contains(err.Error(), "verified email") {
			t.Fatalf("add %s: %q %v", email, out, err)
		}
	}
	if out, err := cli("add", "ada@example.com", "--scopes", "read:users read:logs"); err != nil || !strings.Contains(out, "2 scopes") {
		t.Fatalf("add: %q %v", out, err)
	}
	if out, err := cli("list"); err != nil || !strings.Contains(out, "ada@example.com") || !strings.Contains(out, "read:logs read:users") {
		t.Fatalf("list: %q %v", out, err)
	}
	if out, err := cli("remove", "ada@example.com"); err != nil || !strings.Contains(out, "no longer") {
		t.Fatalf("remove: %q %v", out, err)
	}
	if _, err := cli("remove", "ada@example.com"); err == nil {
		t.Fatal("removing a non-admin succeeded")
	}
	if out, err := cli("list"); err != nil || out != "" {
		t.Fatalf("list after remove: %q %v", out, err)
	}
	if _, err := cli("promote", "ada@example.com"); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
}
