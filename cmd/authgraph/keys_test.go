package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
)

func TestKeysReencrypt(t *testing.T) {
	db := testenv.SQLite(t)
	a := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	b := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	cmd := func(key string, args ...string) (string, error) {
		t.Setenv("AUTHGRAPH_MASTER_KEY", key)
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--database", db), &stdout, &stderr)
		return stdout.String(), err
	}
	if out, err := cmd(a, "migrate"); err != nil {
		t.Fatal(err, out)
	}
	out, err := cmd(b+","+a, "keys", "reencrypt", "--batch-size", "1")
	if err != nil || !strings.Contains(out, "signing keys:") || !strings.Contains(out, "1 re-sealed") || !strings.Contains(out, "done") {
		t.Fatalf("reencrypt with B,A: %v\n%s", err, out)
	}
	// B alone opens everything; nothing is left to do.
	out, err = cmd(b, "keys", "reencrypt")
	if err != nil || strings.Contains(out, "1 re-sealed") {
		t.Fatalf("reencrypt with B: %v\n%s", err, out)
	}
	// A alone opens nothing any more.
	if _, err := cmd(a, "keys", "reencrypt"); err == nil {
		t.Fatal("reencrypt with the old key alone succeeded")
	}
	if _, err := cmd(b, "keys", "rotate"); err == nil {
		t.Fatal("unknown keys subcommand accepted")
	}
}
