package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
)

func TestUsersExport(t *testing.T) {
	for _, b := range apitest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			s := apitest.Start(t, dsn)
			t.Setenv("AUTHGRAPH_MASTER_KEY", s.Deps.Config.MasterKey)
			t.Setenv("AUTHGRAPH_ADMIN_CLIENT_SECRET", "")
			for _, e := range []string{"ada@example.com", "bob@example.com"} {
				s.MustGraphQL(t, s.AdminToken(t), `mutation($e: String!) { createUser(input: {connection: "Username-Password-Authentication",
					email: $e, password: "Correct-Horse-Battery-9", appMetadata: {plan: "gold"}}) { id } }`, map[string]any{"e": e}, nil)
			}
			dir := t.TempDir()
			cli := func(args ...string) (string, string, error) {
				var stdout, stderr bytes.Buffer
				err := run(context.Background(), append(append([]string{"users", "export"}, args...), "--database", dsn, "--issuer", s.Issuer), &stdout, &stderr)
				return stdout.String(), stderr.String(), err
			}
			lines := func(path string) []map[string]any {
				t.Helper()
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				zr, err := gzip.NewReader(f)
				if err != nil {
					t.Fatal(err)
				}
				var out []map[string]any
				sc := bufio.NewScanner(zr)
				for sc.Scan() {
					var m map[string]any
					if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
						t.Fatal(err)
					}
					out = append(out, m)
				}
				return out
			}

			plain := filepath.Join(dir, "users.ndjson.gz")
			_, stderr, err := cli("--format", "ndjson", "-o", plain)
			if err != nil || !strings.Contains(stderr, "exported 2 users to "+plain) {
				t.Fatalf("export: %v %q", err, stderr)
			}
			if st, err := os.Stat(plain); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("file: %v %v", st, err)
			}
			for _, u := range lines(plain) {
				if _, ok := u["custom_password_hash"]; ok || u["app_metadata"].(map[string]any)["plan"] != "gold" {
					t.Errorf("without the option: %v", u)
				}
			}

			withHashes := filepath.Join(dir, "hashes.ndjson.gz")
			if _, stderr, err := cli("--format", "ndjson", "-o", withHashes, "--include-password-hashes", "--connection", "Username-Password-Authentication"); err != nil ||
				!strings.Contains(stderr, "password hashes") {
				t.Fatalf("export with hashes: %v %q", err, stderr)
			}
			stored := map[string]string{}
			for _, idn := range s.Deps.DB.Ent.Identity.Query().AllX(authz.SystemContext(context.Background())) {
				stored[idn.UpstreamID] = *idn.PasswordHash
			}
			got := lines(withHashes)
			if len(got) != 2 {
				t.Fatalf("%d users", len(got))
			}
			for _, u := range got {
				id := strings.TrimPrefix(u["user_id"].(string), "auth0|")
				c, _ := u["custom_password_hash"].(map[string]any)
				if c == nil || c["algorithm"] != "argon2" || c["hash"].(map[string]any)["value"] != stored[id] || stored[id] == "" {
					t.Errorf("hash of %s: %v (stored %q)", id, u, stored[id])
				}
			}

			// CSV to standard output, with renamed fields.
			stdout, _, err := cli("--format", "csv", "-o", "-", "--fields", "email,identities[0].connection=connection,app_metadata.plan=plan")
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(strings.NewReader(stdout))
			if err != nil {
				t.Fatal(err)
			}
			var csvOut bytes.Buffer
			if _, err := csvOut.ReadFrom(zr); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(csvOut.String(), "email,connection,plan\n") || !strings.Contains(csvOut.String(), "ada@example.com,Username-Password-Authentication,gold\n") {
				t.Fatalf("csv %q", csvOut.String())
			}

			for _, args := range [][]string{
				{"--format", "xml", "-o", filepath.Join(dir, "x")},
				{"--format", "csv"},
				{"--format", "csv", "-o", filepath.Join(dir, "x"), "--fields", "password_hash"},
				{"--format", "csv", "-o", filepath.Join(dir, "x"), "--connection", "nope"},
			} {
				if _, _, err := cli(args...); err == nil {
					t.Errorf("%q accepted", args)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
				t.Errorf("a refused export left a file: %v", err)
			}
		})
	}
}
