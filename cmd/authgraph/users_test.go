package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
)

func TestUsersImport(t *testing.T) {
	for _, b := range apitest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			s := apitest.Start(t, dsn)
			t.Setenv("AUTHGRAPH_MASTER_KEY", s.Deps.Config.MasterKey)
			t.Setenv("AUTHGRAPH_ADMIN_CLIENT_SECRET", "")
			var f bytes.Buffer
			const n = 2000
			for i := 0; i < n; i++ {
				fmt.Fprintf(&f, "{\"email\":\"cli%d@example.com\",\"user_id\":\"cli-%d\"}\n", i, i)
			}
			f.WriteString(`{"name":"no email"}` + "\n")
			path := filepath.Join(t.TempDir(), "users.ndjson")
			if err := os.WriteFile(path, f.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			cli := func(args ...string) (string, error) {
				var stdout, stderr bytes.Buffer
				err := run(context.Background(), append(append([]string{"users"}, args...), "--database", dsn, "--issuer", s.Issuer), &stdout, &stderr)
				return stdout.String(), err
			}
			out, err := cli("import", path, "--connection", "Username-Password-Authentication")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, want := range []string{"2001 rows to import", "imported 2001/2001 rows (100%)",
				"completed: 2000 inserted, 0 updated, 1 failed of 2001", "row 2000: ANY_OF_MISSING"} {
				if !strings.Contains(out, want) {
					t.Fatalf("output lacks %q:\n%s", want, out)
				}
			}
			// Again: every row now conflicts; with --upsert they update.
			if out, err := cli("import", path, "--connection", "Username-Password-Authentication", "--upsert"); err != nil ||
				!strings.Contains(out, "0 inserted, 2000 updated, 1 failed") {
				t.Fatalf("upsert: %v\n%s", err, out)
			}
			if _, err := cli("import", path); err == nil {
				t.Fatal("import without --connection accepted")
			}
			if _, err := cli("import", path, "--connection", "nope"); err == nil {
				t.Fatal("import into an unknown connection accepted")
			}
		})
	}
}
