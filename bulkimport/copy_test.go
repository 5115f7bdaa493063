package bulkimport_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"

	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/joberror"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server"
)

// openPostgres opens a fresh, bootstrapped Postgres database with no job
// runner started.
func openPostgres(t *testing.T) *server.Deps {
	t.Helper()
	cfg := &server.Config{DatabaseURL: testenv.Postgres(t), Issuer: "http://localhost/",
		MasterKey:     base64.StdEncoding.EncodeToString(secretbox.NewKey()),
		AdminClientID: "test-admin", AdminClientSecret: "test-admin-secret-0123456789abcdef0123"}
	d, err := server.Prepare(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard, server.MigrateIfEmpty)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// copyFile has a row of every shape the import stores: every property, the
// fewest, a generated user_id, a custom hash, and refused rows.
const copyFile = `{"email":"Full@Example.COM","email_verified":true,"user_id":"a1","username":"Alice_1","given_name":"Alice","family_name":"Liddell","name":"Alice Liddell","nickname":"al","picture":"https://example.com/a.png","blocked":true,"app_metadata":{"plan":"gold","n":1,"nested":{"a":[1,2.5,"x"]}},"user_metadata":{"lang":"fr","drop":null},"password_hash":"$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}
{"email":"min@example.com","username":"minimal"}
{"email":"gen@example.com","username":"generated","email_verified":false,"blocked":false,"app_metadata":{},"user_metadata":{}}
{"email":"sha@example.com","user_id":"a2","username":"sha_user","custom_password_hash":{"algorithm":"sha256","hash":{"value":"d8a928b2043db77e340b523547bf16cb4aa483f0645fe0a290ed1f20aab76257","encoding":"hex"},"salt":{"value":"salt","position":"prefix"}}}
{"email":"nouser@example.com"}
{"email":"full@example.com","username":"dup"}
{"name":"no email"}
`

// storedUsers returns every user with its identities as stored, minus the
// columns that differ between two imports of one file by design (node ids,
// timestamps, generated user_ids, which are checked for their form; the
// file's own ids are a1, a2…, and a generated hex id may start with "a" too).
func storedUsers(t *testing.T, d *server.Deps) []string {
	t.Helper()
	rows, err := d.DB.SQL.QueryContext(context.Background(), `
SELECT (to_jsonb(u) - 'id' - 'created_at' - 'updated_at' - 'user_id')::text,
       (to_jsonb(i) - 'id' - 'created_at' - 'updated_at' - 'owner_id' - 'connection_id' - 'upstream_id')::text,
       CASE WHEN i.upstream_id ~ '^a[0-9]+$' THEN u.user_id ELSE (u.user_id = 'auth0|' || i.upstream_id AND length(i.upstream_id) = 24)::text END,
       c.name, u.created_at IS NOT NULL AND u.updated_at IS NOT NULL AND i.created_at IS NOT NULL AND i.updated_at IS NOT NULL
FROM users u JOIN identities i ON i.owner_id = u.id JOIN connections c ON c.id = i.connection_id
ORDER BY u.email`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u, i, uid, conn string
		var stamped bool
		if err := rows.Scan(&u, &i, &uid, &conn, &stamped); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("user %s\nidentity %s\nuser_id %s connection %s timestamps %v", u, i, uid, conn, stamped))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCopyStoresWhatInsertsStore imports one file on Postgres twice, with
// COPY and with ent's INSERTs, and compares every column of the users and
// identities stored.
func TestCopyStoresWhatInsertsStore(t *testing.T) {
	var got [2][]string
	var summaries [2]map[string]int
	for k, noCopy := range []bool{true, false} {
		d := openPostgres(t)
		db := d.DB.Ent
		c := db.Connection.Query().Where(connection.Name(conn)).OnlyX(sys)
		opts := c.Options
		opts["requires_username"] = true
		db.Connection.UpdateOne(c).SetOptions(opts).ExecX(sys)
		j := newJob(t, db, []byte(copyFile))
		r := &bulkimport.Runner{DB: db, Owner: "cmp", Dialect: d.DB.Dialect, NoCopy: noCopy}
		if worked, err := r.RunOnce(context.Background()); !worked || err != nil {
			t.Fatalf("%v %v", worked, err)
		}
		got[k] = storedUsers(t, d)
		summaries[k] = db.Job.GetX(sys, j.ID).Summary
	}
	if len(got[0]) != 4 || summaries[0]["inserted"] != 4 || summaries[0]["failed"] != 3 {
		t.Fatalf("INSERT path stored %d users, summary %v:\n%v", len(got[0]), summaries[0], got[0])
	}
	if !reflect.DeepEqual(summaries[0], summaries[1]) {
		t.Errorf("summaries: INSERT %v, COPY %v", summaries[0], summaries[1])
	}
	for i := range max(len(got[0]), len(got[1])) {
		var a, b string
		if i < len(got[0]) {
			a = got[0][i]
		}
		if i < len(got[1]) {
			b = got[1][i]
		}
		if a != b {
			t.Errorf("user %d differs:\nINSERT %s\nCOPY   %s", i, a, b)
		}
	}
}

// TestCopyConflictFallsBack commits a conflicting signup between a COPY
// batch's checks and its COPY: the COPY meets the unique index, the batch
// is rolled back and written again with INSERTs, and the conflicting row
// is a CONFLICT_EMAIL row error while the rest of the batch is imported.
func TestCopyConflictFallsBack(t *testing.T) {
	d := openPostgres(t)
	db := d.DB.Ent
	var once sync.Once
	restore := bulkimport.SetBeforeCopy(func(context.Context) {
		once.Do(func() {
			// Through the pool, not the batch's transaction: committed.
			if _, err := identity.Create(sys, db, nil, identity.CreateInput{Connection: conn,
				Email: ptr("user5@example.com"), Password: ptr("Concurrent-signup-1")}); err != nil {
				t.Errorf("concurrent signup: %v", err)
			}
		})
	})
	defer restore()
	var data bytes.Buffer
	const n = 250
	for i := range n {
		fmt.Fprintf(&data, `{"email":"user%d@example.com","user_id":"u%d"}`+"\n", i, i)
	}
	j := newJob(t, db, data.Bytes())
	r := &bulkimport.Runner{DB: db, Owner: "race", Dialect: d.DB.Dialect, BatchSize: 100}
	if worked, err := r.RunOnce(context.Background()); !worked || err != nil {
		t.Fatalf("%v %v", worked, err)
	}
	got := db.Job.GetX(sys, j.ID)
	if got.Status != job.StatusCompleted || got.Summary["inserted"] != n-1 || got.Summary["failed"] != 1 || got.RowsDone != n {
		t.Fatalf("job %s rows %d summary %v", got.Status, got.RowsDone, got.Summary)
	}
	e := db.JobError.Query().Where(joberror.JobRef(j.ID)).OnlyX(sys)
	if e.Row != 5 || e.Code != bulkimport.CodeConflictEmail {
		t.Fatalf("row error %d %s", e.Row, e.Code)
	}
	if users := db.User.Query().CountX(sys); users != n {
		t.Fatalf("%d users, want %d (the signup and %d imported)", users, n, n-1)
	}
}

func ptr[T any](v T) *T { return &v }
