package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	entidentity "github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/passwords"
)

// TestExportImportRoundTrip exports an instance's database users with the
// command line (hashes included) and imports the file, as is, into an
// empty instance through Auth0's users-imports job: ids, profiles,
// metadata, identities and passwords come through.
func TestExportImportRoundTrip(t *testing.T) {
	for _, b := range apitest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			sys := authz.SystemContext(ctx)
			dsn := b.DSN(t)
			src := apitest.Start(t, dsn)
			t.Setenv("AUTHGRAPH_MASTER_KEY", src.Deps.Config.MasterKey)
			t.Setenv("AUTHGRAPH_ADMIN_CLIENT_SECRET", "")
			const pw = "Correct-Horse-Battery-9"
			for i, e := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
				src.MustGraphQL(t, src.AdminToken(t), `mutation($e: String!, $n: String, $v: Boolean, $am: Map, $um: Map) {
					createUser(input: {connection: "Username-Password-Authentication", email: $e, password: "`+pw+`",
					name: $n, emailVerified: $v, appMetadata: $am, userMetadata: $um}) { id } }`, map[string]any{
					"e": e, "n": fmt.Sprintf("User %d", i), "v": i%2 == 0,
					"am": map[string]any{"plan": "gold", "n": i, "nested": map[string]any{"list": []any{1, "two"}}},
					"um": map[string]any{"formula": "=1+1"},
				}, nil)
			}
			// One user with a bcrypt hash (as an earlier import leaves it),
			// blocked, with a given name and a nickname.
			h, _ := bcrypt.GenerateFromPassword([]byte(pw), 4)
			bob := src.Deps.DB.Ent.User.Query().Where(user.Email("bob@example.com")).OnlyX(sys)
			src.Deps.DB.Ent.User.UpdateOne(bob).SetBlocked(true).SetGivenName("Bob").SetNickname("bobby").ExecX(sys)
			src.Deps.DB.Ent.Identity.Update().Where(entidentity.OwnerID(bob.ID)).SetPasswordHash(string(h)).ExecX(sys)

			file := filepath.Join(t.TempDir(), "users.ndjson.gz")
			var stdout, stderr bytes.Buffer
			if err := run(ctx, []string{"users", "export", "--format", "ndjson", "-o", file, "--include-password-hashes",
				"--database", dsn, "--issuer", src.Issuer}, &stdout, &stderr); err != nil {
				t.Fatalf("export: %v %s", err, stderr.String())
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			var rows []map[string]any
			sc := bufio.NewScanner(zr)
			for sc.Scan() {
				var m map[string]any
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Fatal(err)
				}
				rows = append(rows, m)
			}
			if len(rows) != 3 {
				t.Fatalf("%d rows exported", len(rows))
			}

			dst := apitest.Start(t, b.DSN(t))
			m, err := management.New(strings.TrimPrefix(dst.URL, "http://"), management.WithInsecure(),
				management.WithClientCredentials(ctx, dst.AdminID, dst.AdminSecret), management.WithNoRetries())
			if err != nil {
				t.Fatal(err)
			}
			conn, err := m.Connection.ReadByName(ctx, "Username-Password-Authentication")
			if err != nil {
				t.Fatal(err)
			}
			j := &management.Job{ConnectionID: conn.ID, Users: rows}
			if err := m.Job.ImportUsers(ctx, j); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				got, err := m.Job.Read(ctx, j.GetID())
				if err != nil {
					t.Fatal(err)
				}
				if got.GetStatus() == "completed" || got.GetStatus() == "failed" {
					if s := got.GetSummary(); got.GetStatus() != "completed" || s.GetInserted() != 3 || s.GetFailed() != 0 {
						errs, _ := m.Job.ReadErrors(ctx, j.GetID())
						t.Fatalf("import: %+v %+v", got, errs)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("import still %s", got.GetStatus())
				}
				time.Sleep(50 * time.Millisecond)
			}

			load := func(db *ent.Client) map[string]*ent.User {
				out := map[string]*ent.User{}
				for _, u := range db.User.Query().WithIdentities(func(q *ent.IdentityQuery) { q.WithConnection() }).AllX(sys) {
					out[u.UserID] = u
				}
				return out
			}
			before, after := load(src.Deps.DB.Ent), load(dst.Deps.DB.Ent)
			if len(after) != len(before) {
				t.Fatalf("%d users imported, %d exported", len(after), len(before))
			}
			for id, a := range before {
				b := after[id]
				if b == nil {
					t.Errorf("user %s is missing after the round trip", id)
					continue
				}
				type profile struct {
					Email, Name, GivenName, FamilyName, Nickname, Picture, Username *string
					EmailVerified, Blocked                                          bool
					AppMetadata, UserMetadata                                       map[string]any
				}
				pa := profile{a.Email, a.Name, a.GivenName, a.FamilyName, a.Nickname, a.Picture, a.Username, a.EmailVerified, a.Blocked, a.AppMetadata, a.UserMetadata}
				pb := profile{b.Email, b.Name, b.GivenName, b.FamilyName, b.Nickname, b.Picture, b.Username, b.EmailVerified, b.Blocked, b.AppMetadata, b.UserMetadata}
				ja, _ := json.Marshal(pa)
				jb, _ := json.Marshal(pb)
				if !bytes.Equal(ja, jb) {
					t.Errorf("%s: before %s\nafter %s", id, ja, jb)
				}
				ia, ib := a.Edges.Identities, b.Edges.Identities
				if len(ia) != 1 || len(ib) != 1 || ia[0].Provider != ib[0].Provider || ia[0].UpstreamID != ib[0].UpstreamID ||
					ia[0].Edges.Connection.Name != ib[0].Edges.Connection.Name {
					t.Errorf("%s: identities differ: %+v / %+v", id, ia, ib)
					continue
				}
				if ib[0].PasswordHash == nil || passwords.Verify(*ib[0].PasswordHash, pw) != nil {
					t.Errorf("%s: the password does not verify after the round trip", id)
				}
			}
			if !reflect.DeepEqual(after["auth0|"+strings.TrimPrefix(bob.UserID, "auth0|")].AppMetadata, bob.AppMetadata) {
				t.Error("bob's app_metadata changed")
			}
		})
	}
}
