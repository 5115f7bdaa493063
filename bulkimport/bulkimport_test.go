package bulkimport_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/identity"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/jobchunk"
	"github.com/authgraph/authgraph/ent/joberror"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server"
)

const conn = "Username-Password-Authentication"

// forEachStore opens a fresh, bootstrapped database on each backend, with no
// job runner started: the tests run their own.
func forEachDB(t *testing.T, fn func(t *testing.T, db *ent.Client)) {
	forEachStore(t, func(t *testing.T, d *server.Deps) { fn(t, d.DB.Ent) })
}

func forEachStore(t *testing.T, fn func(t *testing.T, d *server.Deps)) {
	for _, b := range apitest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			cfg := &server.Config{DatabaseURL: b.DSN(t), Issuer: "http://localhost/",
				MasterKey:     base64.StdEncoding.EncodeToString(secretbox.NewKey()),
				AdminClientID: "test-admin", AdminClientSecret: "test-admin-secret-0123456789abcdef0123"}
			d, err := server.Prepare(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard, server.MigrateIfEmpty)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			fn(t, d)
		})
	}
}

var (
	sys         = authz.SystemContext(context.Background())
	jsonMarshal = json.Marshal
)

// file writes n rows; every 7th row repeats the email of the row 150
// before it (a duplicate across batches) and every 11th has no email.
func file(n int, array bool) []byte {
	var b bytes.Buffer
	if array {
		b.WriteString("[\n")
	}
	for i := 0; i < n; i++ {
		if i > 0 && array {
			b.WriteString(",\n")
		}
		switch {
		case i%11 == 10:
			fmt.Fprintf(&b, `{"name":"row %d"}`, i)
		case i%7 == 6 && i >= 150:
			fmt.Fprintf(&b, `{"email":"user%d@example.com"}`, i-150)
		default:
			fmt.Fprintf(&b, `{"email":"User%d@Example.com","user_id":"u%d","app_metadata":{"n":%d}}`, i, i, i)
		}
		if !array {
			b.WriteByte('\n')
		}
	}
	if array {
		b.WriteString("\n]")
	}
	return b.Bytes()
}

// expected counts what file(n) should import.
func expected(n int) (inserted, failed int) {
	seen := map[int]bool{}
	for i := 0; i < n; i++ {
		switch {
		case i%11 == 10:
			failed++
		case i%7 == 6 && i >= 150:
			if seen[i-150] || (i-150)%11 == 10 || ((i-150)%7 == 6 && i-150 >= 150) {
				// the email repeats a row that had it (or the row 150
				// before it had none: then it is new)
				if (i-150)%11 == 10 || ((i-150)%7 == 6 && i-150 >= 150) {
					inserted++
					continue
				}
			}
			failed++
		default:
			seen[i] = true
			inserted++
		}
	}
	return
}

func newJob(t *testing.T, db *ent.Client, data []byte) *bulkimport.Job {
	t.Helper()
	j, err := bulkimport.NewService(db).CreateImport(sys, bulkimport.ImportInput{Connection: conn, File: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func check(t *testing.T, db *ent.Client, id string, n int) {
	t.Helper()
	j, err := bulkimport.NewService(db).Job(sys, id)
	if err != nil {
		t.Fatal(err)
	}
	ins, fail := expected(n)
	s := j.Summary()
	if j.Status != job.StatusCompleted || j.RowsDone != n || s.Inserted != ins || s.Failed != fail || s.Total != n {
		t.Fatalf("job %s rows %d summary %+v, want inserted %d failed %d", j.Status, j.RowsDone, s, ins, fail)
	}
	users, err := db.User.Query().Count(sys)
	if err != nil {
		t.Fatal(err)
	}
	idns, _ := db.Identity.Query().Where(identity.HasConnectionWith(connection.Name(conn))).Count(sys)
	if idns != ins || users != ins {
		t.Fatalf("%d identities and %d users, want %d", idns, users, ins)
	}
	errs, _ := db.JobError.Query().Where(joberror.JobRef(j.ID)).Count(sys)
	distinct, _ := db.JobError.Query().Where(joberror.JobRef(j.ID)).Unique(true).Select(joberror.FieldRow).Ints(sys)
	if errs != fail || len(distinct) != fail {
		t.Fatalf("%d error rows (%d distinct), want %d", errs, len(distinct), fail)
	}
	if c, _ := db.JobChunk.Query().Where(jobchunk.JobRef(j.ID)).Count(sys); c != 0 {
		t.Fatalf("%d input chunks left after completion", c)
	}
	u, err := db.User.Query().Where(user.UserID("auth0|u3")).Only(sys)
	if err != nil || *u.Email != "user3@example.com" || fmt.Sprint(u.AppMetadata["n"]) != "3" {
		t.Fatalf("user 3: %+v %v", u, err)
	}
}

// TestResumeAfterCrash stops a runner in the middle of a job, twice: once
// as a crash (its lease stays until it runs out) and once as a shutdown
// (the lease is released). The job finishes with every row once.
func TestResumeAfterCrash(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *ent.Client) {
		const n = 3000
		j := newJob(t, db, file(n, true))
		if j.TotalRows != n || j.Status != job.StatusPending {
			t.Fatalf("created %+v", j.Job)
		}
		stopAt := func(rows int, r *bulkimport.Runner) {
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for {
					got, err := db.Job.Get(sys, j.ID)
					if err != nil || got.RowsDone >= rows {
						cancel()
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
			_, _ = r.RunOnce(ctx)
			cancel()
		}
		a := &bulkimport.Runner{DB: db, Owner: "a", BatchSize: 100, Lease: time.Hour}
		stopAt(700, a)
		mid, _ := db.Job.Get(sys, j.ID)
		if mid.RowsDone < 700 || mid.RowsDone >= n || mid.RowsDone%100 != 0 || mid.Status != job.StatusProcessing {
			t.Fatalf("after the first stop: %d rows, %s", mid.RowsDone, mid.Status)
		}
		// A crash: the lease stays with a, so b finds nothing to do…
		if err := db.Job.UpdateOneID(j.ID).SetLeaseOwner("a").SetLeaseUntil(time.Now().Add(time.Hour)).Exec(sys); err != nil {
			t.Fatal(err)
		}
		b := &bulkimport.Runner{DB: db, Owner: "b", BatchSize: 100, Lease: time.Hour}
		if worked, err := b.RunOnce(context.Background()); worked || err != nil {
			t.Fatalf("b ran a job leased to a: %v %v", worked, err)
		}
		// …until the lease runs out; then b resumes, and is stopped too.
		if err := db.Job.UpdateOneID(j.ID).SetLeaseUntil(time.Now().Add(-time.Second)).Exec(sys); err != nil {
			t.Fatal(err)
		}
		stopAt(mid.RowsDone+900, b)
		mid2, _ := db.Job.Get(sys, j.ID)
		if mid2.RowsDone <= mid.RowsDone || mid2.LeaseOwner != "" {
			t.Fatalf("b did not progress or kept its lease: %d rows, owner %q", mid2.RowsDone, mid2.LeaseOwner)
		}
		// A shutdown released the lease: c resumes at once and finishes.
		c := &bulkimport.Runner{DB: db, Owner: "c", BatchSize: 100}
		if worked, err := c.RunOnce(context.Background()); !worked || err != nil {
			t.Fatalf("c: %v %v", worked, err)
		}
		check(t, db, string(j.ID), n)
		// a, still believing it runs the job, commits nothing.
		if worked, _ := a.RunOnce(context.Background()); worked {
			t.Fatal("a claimed a completed job")
		}
	})
}

// TestLargeFile imports 100,000 NDJSON rows (about 8 MB, far beyond
// Auth0's 500 KB) in batches of 500; 20,000 under the race detector, which
// slows each row tenfold and would take this one test past minutes while
// proving nothing more.
func TestLargeFile(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *server.Deps) {
		db := d.DB.Ent
		n := largeFileRows
		data := file(n, false)
		start := time.Now()
		j := newJob(t, db, data)
		stored := time.Since(start)
		r := &bulkimport.Runner{DB: db, Owner: "big", Dialect: d.DB.Dialect}
		if worked, err := r.RunOnce(context.Background()); !worked || err != nil {
			t.Fatalf("%v %v", worked, err)
		}
		t.Logf("%d rows, %d bytes: stored in %v, imported in %v", n, len(data), stored, time.Since(start)-stored)
		check(t, db, string(j.ID), n)
	})
}

// TestConcurrentRunners runs three runners at once, as three nodes would:
// the job is run by one runner at a time, and every row lands once.
func TestConcurrentRunners(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *ent.Client) {
		const n = 1500
		j1 := newJob(t, db, file(n, false))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan struct{})
		for i := 0; i < 3; i++ {
			r := &bulkimport.Runner{DB: db, Owner: fmt.Sprintf("r%d", i), BatchSize: 50, Poll: 10 * time.Millisecond}
			go func() {
				_ = r.Run(ctx)
				done <- struct{}{}
			}()
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := db.Job.Get(sys, j1.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == job.StatusCompleted || got.Status == job.StatusFailed || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		for i := 0; i < 3; i++ {
			<-done
		}
		check(t, db, string(j1.ID), n)
	})
}

// TestFailedJobDeletesUpload checks that a failed import deletes its stored
// upload (it holds password hashes and TOTP secrets) as a completed one does.
func TestFailedJobDeletesUpload(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *ent.Client) {
		j := newJob(t, db, file(10, true))
		if c, _ := db.JobChunk.Query().Where(jobchunk.JobRef(j.ID)).Count(sys); c == 0 {
			t.Fatal("no input chunks stored")
		}
		// The connection goes away before the job runs: the job fails.
		if err := db.Connection.DeleteOneID(*j.ConnectionRef).Exec(sys); err != nil {
			t.Fatal(err)
		}
		r := &bulkimport.Runner{DB: db, Owner: "f"}
		if worked, err := r.RunOnce(context.Background()); !worked || err != nil {
			t.Fatalf("%v %v", worked, err)
		}
		got, err := db.Job.Get(sys, j.ID)
		if err != nil || got.Status != job.StatusFailed {
			t.Fatalf("job %+v %v", got, err)
		}
		if c, _ := db.JobChunk.Query().Where(jobchunk.JobRef(j.ID)).Count(sys); c != 0 {
			t.Fatalf("%d input chunks left after failure", c)
		}
	})
}

// TestUpsertRechecksAdminControl checks that an upsert job created by a
// caller with create:users alone does not overwrite a user who became an
// administrator after the job was created: that row is refused (FORBIDDEN),
// the others are updated.
func TestUpsertRechecksAdminControl(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *ent.Client) {
		seed := newJob(t, db, []byte(`[{"email":"adm@example.com","name":"Admin"},{"email":"plain@example.com","name":"Plain"}]`))
		r := &bulkimport.Runner{DB: db, Owner: "s"}
		if worked, err := r.RunOnce(context.Background()); !worked || err != nil {
			t.Fatalf("%v %v", worked, err)
		}
		if s, _ := bulkimport.NewService(db).Job(sys, string(seed.ID)); s.Summary().Inserted != 2 {
			t.Fatalf("seed %+v", s.Summary())
		}
		lesser := authz.NewContext(context.Background(), &authz.Viewer{Subject: "lesser@clients", Scopes: []string{"create:users"}})
		j, err := bulkimport.NewService(db).CreateImport(lesser, bulkimport.ImportInput{Connection: conn, Upsert: true,
			File: bytes.NewReader([]byte(`[{"email":"adm@example.com","name":"Taken over"},{"email":"plain@example.com","name":"Updated"}]`))})
		if err != nil {
			t.Fatal(err)
		}
		// Granted after the job was created, before it runs.
		adm, err := db.User.Query().Where(user.EmailEQ("adm@example.com")).Only(sys)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AdminGrant.Create().SetUserRef(adm.ID).SetScopes([]string{"read:users", "update:users", "create:users", "delete:users"}).Exec(sys); err != nil {
			t.Fatal(err)
		}
		if worked, err := r.RunOnce(context.Background()); !worked || err != nil {
			t.Fatalf("%v %v", worked, err)
		}
		got, err := bulkimport.NewService(db).Job(sys, string(j.ID))
		if err != nil || got.Status != job.StatusCompleted || got.Summary().Updated != 1 || got.Summary().Failed != 1 {
			t.Fatalf("job %+v %v", got, err)
		}
		e, err := db.JobError.Query().Where(joberror.JobRef(j.ID)).Only(sys)
		if err != nil || e.Code != "FORBIDDEN" || e.Row != 0 {
			t.Fatalf("error row %+v %v", e, err)
		}
		if u, _ := db.User.Get(sys, adm.ID); u.Name == nil || *u.Name != "Admin" {
			t.Fatalf("administrator overwritten: %+v", u)
		}
		if u, _ := db.User.Query().Where(user.EmailEQ("plain@example.com")).Only(sys); u.Name == nil || *u.Name != "Updated" {
			t.Fatalf("plain user not updated: %+v", u)
		}
	})
}
