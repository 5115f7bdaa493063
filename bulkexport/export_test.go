package bulkexport_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkexport"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/jobchunk"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	db      *ent.Client
	ctx     context.Context
	dbConn  pulid.ID
	oidc    pulid.ID
	adaHash string
}

// seed creates ada (database + OIDC identities, metadata, a formula in her
// metadata), bob (OIDC only, names a spreadsheet would evaluate) and n
// plain database users.
func seed(t *testing.T, s *apitest.Server, n int) fixture {
	t.Helper()
	ctx := authz.SystemContext(context.Background())
	db := s.Deps.DB.Ent
	f := fixture{db: db, ctx: ctx}
	f.dbConn = db.Connection.Query().Where(connection.Name("Username-Password-Authentication")).OnlyX(ctx).ID
	f.oidc = db.Connection.Create().SetName("corp-oidc").SetStrategy(connection.StrategyOidc).SaveX(ctx).ID
	h, err := bcrypt.GenerateFromPassword([]byte("Correct-Horse-Battery-9"), 4)
	if err != nil {
		t.Fatal(err)
	}
	f.adaHash = string(h)
	ada := db.User.Create().SetUserID("auth0|ada1").SetEmail("ada@example.com").SetEmailVerified(true).
		SetName("Ada Lovelace").SetGivenName("Ada").SetLoginsCount(7).
		SetAppMetadata(map[string]any{"plan": "gold", "tags": []any{"a", "b"}}).
		SetUserMetadata(map[string]any{"x": map[string]any{"y": 1.5}, "formula": `=HYPERLINK("http://evil.example","x")`}).
		SaveX(ctx)
	db.Identity.Create().SetOwnerID(ada.ID).SetConnectionID(f.dbConn).SetProvider("auth0").SetUpstreamID("ada1").
		SetEmailLower("ada@example.com").SetPasswordHash(f.adaHash).SaveX(ctx)
	db.Identity.Create().SetOwnerID(ada.ID).SetConnectionID(f.oidc).SetProvider("oidc").SetUpstreamID("ada-at-corp").
		SetProfileData(map[string]any{"department": "math"}).SaveX(ctx)
	bob := db.User.Create().SetUserID("oidc|bob").SetEmail("bob@example.com").SetName("-2+3").SetNickname("@bob").
		SetFamilyName("\tTab").SaveX(ctx)
	db.Identity.Create().SetOwnerID(bob.ID).SetConnectionID(f.oidc).SetProvider("oidc").SetUpstreamID("bob").SaveX(ctx)
	for i := range n {
		u := db.User.Create().SetUserID(fmt.Sprintf("auth0|u%03d", i)).SetEmail(fmt.Sprintf("u%03d@example.com", i)).SaveX(ctx)
		db.Identity.Create().SetOwnerID(u.ID).SetConnectionID(f.dbConn).SetProvider("auth0").
			SetUpstreamID(fmt.Sprintf("u%03d", i)).SaveX(ctx)
	}
	return f
}

func (f fixture) export(t *testing.T, o bulkexport.Options) (bulkexport.Result, []byte) {
	t.Helper()
	var buf bytes.Buffer
	res, err := bulkexport.Export(f.ctx, f.db, &buf, o)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatalf("output is not gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return res, raw
}

func ndjson(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func byUserID(t *testing.T, rows []map[string]any, key string) map[string]map[string]any {
	t.Helper()
	m := map[string]map[string]any{}
	for _, r := range rows {
		id, _ := r[key].(string)
		if _, dup := m[id]; dup {
			t.Fatalf("user %q exported twice", id)
		}
		m[id] = r
	}
	return m
}

func TestExport(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		f := seed(t, s, 25)

		t.Run("json default fields", func(t *testing.T) {
			var progress []int
			res, raw := f.export(t, bulkexport.Options{Format: bulkexport.JSON, Batch: 10, Progress: func(n int) { progress = append(progress, n) }})
			rows := ndjson(t, raw)
			if res.Rows != 27 || len(rows) != 27 {
				t.Fatalf("rows: result %d, lines %d, want 27", res.Rows, len(rows))
			}
			if fmt.Sprint(progress) != "[10 20 27]" {
				t.Errorf("progress %v, want one call per batch", progress)
			}
			users := byUserID(t, rows, "user_id")
			// The primary identity's id: an import prefixes it again.
			ada := users["ada1"]
			if ada["email"] != "ada@example.com" || ada["email_verified"] != true || ada["name"] != "Ada Lovelace" ||
				ada["given_name"] != "Ada" || ada["blocked"] != false {
				t.Errorf("ada's profile: %v", ada)
			}
			if _, ok := ada["family_name"]; ok {
				t.Errorf("an absent value is written: %v", ada)
			}
			// Only properties of Auth0's import schema: the file imports as is.
			importable := map[string]bool{"email": true, "email_verified": true, "user_id": true, "username": true,
				"given_name": true, "family_name": true, "name": true, "nickname": true, "picture": true, "blocked": true,
				"app_metadata": true, "user_metadata": true}
			for _, r := range rows {
				for k := range r {
					if !importable[k] {
						t.Errorf("property %q is not importable: %v", k, r)
					}
				}
			}
			if am := ada["app_metadata"].(map[string]any); am["plan"] != "gold" || fmt.Sprint(am["tags"]) != "[a b]" {
				t.Errorf("app_metadata: %v", am)
			}
			if um := ada["user_metadata"].(map[string]any); um["x"].(map[string]any)["y"] != 1.5 {
				t.Errorf("user_metadata: %v", um)
			}
			if bob := users["bob"]; bob["nickname"] != "@bob" || bob["family_name"] != "\tTab" {
				t.Errorf("bob: %v", bob)
			}
			for _, k := range []string{"password_hash", "custom_password_hash"} {
				if _, ok := ada[k]; ok {
					t.Errorf("%s exported without the option", k)
				}
			}
			if bytes.Contains(raw, []byte(f.adaHash)) {
				t.Error("the password hash is in the file")
			}
			if u := users["u024"]; u == nil || u["email"] != "u024@example.com" {
				t.Errorf("last batch: %v", u)
			}
		})

		t.Run("field paths", func(t *testing.T) {
			_, raw := f.export(t, bulkexport.Options{Format: bulkexport.JSON, Fields: []bulkexport.Field{
				{Name: "user_id", ExportAs: "id"}, {Name: "identities[1].connection", ExportAs: "second"},
				{Name: "identities[0].profileData.department"}, {Name: "app_metadata.plan"},
				{Name: "app_metadata.tags[1]"}, {Name: "user_metadata.x.y"}, {Name: "user_metadata.nothing.here"},
			}})
			users := byUserID(t, ndjson(t, raw), "id")
			ada := users["auth0|ada1"]
			want := map[string]any{"id": "auth0|ada1", "second": "corp-oidc", "app_metadata.plan": "gold",
				"app_metadata.tags[1]": "b", "user_metadata.x.y": 1.5}
			if fmt.Sprint(ada) != fmt.Sprint(want) {
				t.Errorf("ada: %v, want %v", ada, want)
			}
			// bob's only identity is OIDC: it is identities[0].
			if bob := users["oidc|bob"]; fmt.Sprint(bob) != fmt.Sprint(map[string]any{"id": "oidc|bob"}) {
				t.Errorf("bob: %v", bob)
			}
			// Keys keep the requested order.
			first, _, _ := bytes.Cut(raw, []byte("\n"))
			if !bytes.HasPrefix(first, []byte(`{"id":`)) {
				t.Errorf("first line %s", first)
			}
		})

		t.Run("csv and injection", func(t *testing.T) {
			_, raw := f.export(t, bulkexport.Options{Format: bulkexport.CSV, Fields: []bulkexport.Field{
				{Name: "user_id"}, {Name: "name"}, {Name: "nickname"}, {Name: "family_name"},
				{Name: "user_metadata.formula", ExportAs: "=cmd"}, {Name: "identities[0].connection", ExportAs: "connection"},
				{Name: "app_metadata.tags"}, {Name: "logins_count"}, {Name: "email_verified"},
			}})
			recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
			if err != nil {
				t.Fatalf("csv: %v\n%s", err, raw)
			}
			if len(recs) != 28 {
				t.Fatalf("%d records, want header + 27", len(recs))
			}
			if fmt.Sprint(recs[0]) != "[user_id name nickname family_name '=cmd connection app_metadata.tags logins_count email_verified]" {
				t.Errorf("header %q", recs[0])
			}
			rows := map[string][]string{}
			for _, r := range recs[1:] {
				rows[r[0]] = r
			}
			ada, bob := rows["auth0|ada1"], rows["oidc|bob"]
			if ada[4] != `'=HYPERLINK("http://evil.example","x")` || ada[5] != "Username-Password-Authentication" ||
				ada[6] != `["a","b"]` || ada[7] != "7" || ada[8] != "true" || ada[1] != "Ada Lovelace" {
				t.Errorf("ada: %q", ada)
			}
			if bob[1] != "'-2+3" || bob[2] != "'@bob" || bob[3] != "'\tTab" || bob[5] != "corp-oidc" || bob[4] != "" {
				t.Errorf("bob: %q", bob)
			}
			_, raw = f.export(t, bulkexport.Options{Format: bulkexport.CSV})
			if head, _, _ := bytes.Cut(raw, []byte("\n")); string(head) != "user_id,email,email_verified,username,phone_number,name,"+
				"given_name,family_name,nickname,picture,blocked,created_at,updated_at,last_login,logins_count,connection" {
				t.Errorf("CSV default header %q", head)
			}
		})

		t.Run("connection filter and limit", func(t *testing.T) {
			res, raw := f.export(t, bulkexport.Options{ConnectionID: f.oidc, Fields: []bulkexport.Field{{Name: "user_id"}}})
			if users := byUserID(t, ndjson(t, raw), "user_id"); res.Rows != 2 || users["auth0|ada1"] == nil || users["oidc|bob"] == nil {
				t.Errorf("connection filter: %d %v", res.Rows, users)
			}
			if n, err := bulkexport.Count(f.ctx, f.db, bulkexport.Options{ConnectionID: f.oidc}); err != nil || n != 2 {
				t.Errorf("count: %d %v", n, err)
			}
			res, raw = f.export(t, bulkexport.Options{Limit: 13, Batch: 5, Format: bulkexport.CSV})
			if recs, _ := csv.NewReader(bytes.NewReader(raw)).ReadAll(); res.Rows != 13 || len(recs) != 14 {
				t.Errorf("limit: %d rows, %d records", res.Rows, len(recs))
			}
		})

		t.Run("password hashes only with the option", func(t *testing.T) {
			var buf bytes.Buffer
			_, err := bulkexport.Export(f.ctx, f.db, &buf, bulkexport.Options{Fields: []bulkexport.Field{{Name: "password_hash"}}})
			if ve := new(identity.ValidationError); !errors.As(err, &ve) {
				t.Fatalf("password_hash without the option: %v", err)
			}
			_, raw := f.export(t, bulkexport.Options{IncludePasswordHashes: true, ConnectionID: f.dbConn})
			users := byUserID(t, ndjson(t, raw), "user_id")
			if users["ada1"]["password_hash"] != f.adaHash {
				t.Errorf("ada's hash: %v", users["ada1"])
			}
			if _, ok := users["u001"]["password_hash"]; ok {
				t.Errorf("a user without a password has a hash: %v", users["u001"])
			}
		})

		t.Run("job resumed after a crash", func(t *testing.T) {
			j, err := bulkexport.CreateJob(f.ctx, f.db, "tester", bulkexport.Options{Format: bulkexport.JSON, Fields: []bulkexport.Field{{Name: "user_id"}}})
			if err != nil {
				t.Fatal(err)
			}
			// Another runner holds it: nothing happens.
			f.db.Job.UpdateOneID(j.ID).SetStatus(job.StatusProcessing).SetLeaseOwner("other").
				SetLeaseUntil(time.Now().Add(time.Minute)).ExecX(f.ctx)
			if err := bulkexport.RunJob(f.ctx, f.db, j.ID, nil); err != nil {
				t.Fatal(err)
			}
			if got := f.db.Job.GetX(f.ctx, j.ID); got.Status != job.StatusProcessing || got.LeaseOwner != "other" {
				t.Fatalf("a held job was taken: %+v", got)
			}
			// Its runner died mid-way, leaving a partial file.
			f.db.Job.UpdateOneID(j.ID).SetLeaseUntil(time.Now().Add(-time.Second)).SetRowsDone(10).ExecX(f.ctx)
			f.db.JobChunk.Create().SetJobRef(j.ID).SetKind(jobchunk.KindOutput).SetSeq(0).SetData([]byte("partial")).ExecX(f.ctx)
			n, err := bulkexport.ResumeJobs(f.ctx, f.db, nil)
			if err != nil || n != 1 {
				t.Fatalf("resumed %d: %v", n, err)
			}
			got := f.db.Job.GetX(f.ctx, j.ID)
			if got.Status != job.StatusCompleted || got.RowsDone != 27 || got.TotalRows != 27 || got.Summary["total"] != 27 {
				t.Fatalf("job after resume: %+v", got)
			}
			tok, _, err := bulkexport.IssueDownload(f.ctx, f.db, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bulkexport.OpenDownload(f.ctx, f.db, j.ID, tok+"x"); !errors.Is(err, bulkexport.ErrDownloadRefused) {
				t.Fatalf("wrong token: %v", err)
			}
			if _, err := bulkexport.OpenDownload(f.ctx, f.db, j.ID, tok); err != nil {
				t.Fatal(err)
			}
			var file []byte
			for seq := 0; ; seq++ {
				b, err := bulkexport.Chunk(f.ctx, f.db, j.ID, seq)
				if err != nil {
					t.Fatal(err)
				}
				if b == nil {
					break
				}
				file = append(file, b...)
			}
			zr, err := gzip.NewReader(bytes.NewReader(file))
			if err != nil {
				t.Fatalf("output: %v", err)
			}
			raw, _ := io.ReadAll(zr)
			if rows := byUserID(t, ndjson(t, raw), "user_id"); len(rows) != 27 {
				t.Fatalf("%d users in the resumed export", len(rows))
			}
			if n, _ := bulkexport.ResumeJobs(f.ctx, f.db, nil); n != 0 {
				t.Fatalf("a completed job ran again")
			}

			// Past the retention, the file is deleted and no URL works.
			if n, err := bulkexport.PurgeFiles(f.ctx, f.db); err != nil || n != 0 {
				t.Fatalf("purged a fresh export: %d %v", n, err)
			}
			f.db.Job.UpdateOneID(j.ID).SetFinishedAt(time.Now().Add(-bulkexport.Retention - time.Minute)).ExecX(f.ctx)
			if _, err := bulkexport.OpenDownload(f.ctx, f.db, j.ID, tok); !errors.Is(err, bulkexport.ErrDownloadRefused) {
				t.Fatalf("download past retention: %v", err)
			}
			if _, _, err := bulkexport.IssueDownload(f.ctx, f.db, j.ID); err == nil {
				t.Fatal("a URL was issued past retention")
			}
			if n, err := bulkexport.PurgeFiles(f.ctx, f.db); err != nil || n != 1 {
				t.Fatalf("purge: %d %v", n, err)
			}
			if b, err := bulkexport.Chunk(f.ctx, f.db, j.ID, 0); b != nil || err != nil {
				t.Fatalf("the file survived the purge: %d bytes, %v", len(b), err)
			}
			if got := f.db.Job.GetX(f.ctx, j.ID); got.Location != nil || got.Status != job.StatusCompleted {
				t.Fatalf("job after purge: %+v", got)
			}
		})

		t.Run("a runner that lost its lease writes nothing", func(t *testing.T) {
			j, err := bulkexport.CreateJob(f.ctx, f.db, "tester", bulkexport.Options{Format: bulkexport.JSON, Fields: []bulkexport.Field{{Name: "user_id"}}})
			if err != nil {
				t.Fatal(err)
			}
			// Runner a claims the job, then stalls past its lease.
			ownerA, ja, err := bulkexport.Claim(f.ctx, f.db, j.ID)
			if err != nil || ja == nil {
				t.Fatalf("claim: %v", err)
			}
			f.db.Job.UpdateOneID(j.ID).SetLeaseUntil(time.Now().Add(-time.Second)).ExecX(f.ctx)
			// Runner b (same process) takes it over and completes it.
			if err := bulkexport.RunJob(f.ctx, f.db, j.ID, nil); err != nil {
				t.Fatal(err)
			}
			done := f.db.Job.GetX(f.ctx, j.ID)
			if done.Status != job.StatusCompleted || done.RowsDone != 27 {
				t.Fatalf("job after b: %+v", done)
			}
			chunks := f.db.JobChunk.Query().Where(jobchunk.JobRef(j.ID)).IDsX(f.ctx)
			// a wakes up and runs: nothing it does may reach the job.
			if err := bulkexport.Execute(f.ctx, f.db, ja, ownerA, nil); err != nil {
				t.Fatalf("a: %v", err)
			}
			after := f.db.Job.GetX(f.ctx, j.ID)
			if after.Status != job.StatusCompleted || after.RowsDone != 27 || !after.FinishedAt.Equal(*done.FinishedAt) ||
				after.TotalRows != 27 || after.Error != "" {
				t.Fatalf("a wrote to the job: %+v", after)
			}
			if got := f.db.JobChunk.Query().Where(jobchunk.JobRef(j.ID)).IDsX(f.ctx); fmt.Sprint(got) != fmt.Sprint(chunks) {
				t.Fatalf("a rewrote the output: chunks %v, were %v", got, chunks)
			}

			// A claim taken over before the stalled runner's first write.
			j2, err := bulkexport.CreateJob(f.ctx, f.db, "tester", bulkexport.Options{Format: bulkexport.JSON, Fields: []bulkexport.Field{{Name: "user_id"}}})
			if err != nil {
				t.Fatal(err)
			}
			ownerA, ja, err = bulkexport.Claim(f.ctx, f.db, j2.ID)
			if err != nil || ja == nil {
				t.Fatalf("claim: %v", err)
			}
			f.db.Job.UpdateOneID(j2.ID).SetLeaseUntil(time.Now().Add(-time.Second)).ExecX(f.ctx)
			ownerB, jb, err := bulkexport.Claim(f.ctx, f.db, j2.ID)
			if err != nil || jb == nil || ownerB == ownerA {
				t.Fatalf("claim b: %v (owners %q %q)", err, ownerA, ownerB)
			}
			if err := bulkexport.Execute(f.ctx, f.db, ja, ownerA, nil); err != nil {
				t.Fatalf("a: %v", err)
			}
			if got := f.db.Job.GetX(f.ctx, j2.ID); got.Status != job.StatusProcessing || got.LeaseOwner != ownerB || got.RowsDone != 0 {
				t.Fatalf("a wrote to b's job: %+v", got)
			}
			if n := f.db.JobChunk.Query().Where(jobchunk.JobRef(j2.ID)).CountX(f.ctx); n != 0 {
				t.Fatalf("a stored %d chunks in b's job", n)
			}
			if err := bulkexport.Execute(f.ctx, f.db, jb, ownerB, nil); err != nil {
				t.Fatal(err)
			}
			if got := f.db.Job.GetX(f.ctx, j2.ID); got.Status != job.StatusCompleted || got.RowsDone != 27 {
				t.Fatalf("b's job: %+v", got)
			}
		})

		t.Run("a node runs at most MaxRunning exports", func(t *testing.T) {
			j, err := bulkexport.CreateJob(f.ctx, f.db, "tester", bulkexport.Options{Fields: []bulkexport.Field{{Name: "user_id"}}})
			if err != nil {
				t.Fatal(err)
			}
			release := bulkexport.Occupy(bulkexport.MaxRunning)
			if err := bulkexport.RunJob(f.ctx, f.db, j.ID, nil); err != nil {
				t.Fatal(err)
			}
			if n, err := bulkexport.ResumeJobs(f.ctx, f.db, nil); err != nil || n != 0 {
				t.Fatalf("the sweep ran %d jobs past the limit: %v", n, err)
			}
			if got := f.db.Job.GetX(f.ctx, j.ID); got.Status != job.StatusPending || got.LeaseOwner != "" {
				t.Fatalf("a job ran past the limit: %+v", got)
			}
			release()
			if n, err := bulkexport.ResumeJobs(f.ctx, f.db, nil); err != nil || n != 1 {
				t.Fatalf("the sweep ran %d jobs: %v", n, err)
			}
			if got := f.db.Job.GetX(f.ctx, j.ID); got.Status != job.StatusCompleted || got.RowsDone != 27 {
				t.Fatalf("the pending job: %+v", got)
			}
		})

		t.Run("job of a deleted connection exports nobody", func(t *testing.T) {
			gone := f.db.Connection.Create().SetName("gone").SetStrategy(connection.StrategyOidc).SaveX(f.ctx)
			j, err := bulkexport.CreateJob(f.ctx, f.db, "tester", bulkexport.Options{ConnectionID: gone.ID})
			if err != nil {
				t.Fatal(err)
			}
			f.db.Connection.DeleteOne(gone).ExecX(f.ctx)
			if err := bulkexport.RunJob(f.ctx, f.db, j.ID, nil); err != nil {
				t.Fatal(err)
			}
			if got := f.db.Job.GetX(f.ctx, j.ID); got.Status != job.StatusCompleted || got.RowsDone != 0 || got.ConnectionRef != nil {
				t.Fatalf("job: %+v", got)
			}
		})

		t.Run("bad input", func(t *testing.T) {
			for _, o := range []bulkexport.Options{
				{Format: "xml"},
				{Fields: []bulkexport.Field{{Name: "password"}}},
				{Fields: []bulkexport.Field{{Name: "identities[x].connection"}}},
				{Fields: []bulkexport.Field{{Name: "identities[0"}}},
				{Fields: []bulkexport.Field{{Name: "app_metadata..plan"}}},
				{Fields: []bulkexport.Field{{Name: "email"}, {Name: "name", ExportAs: "email"}}},
				{Limit: -1},
			} {
				var buf bytes.Buffer
				_, err := bulkexport.Export(f.ctx, f.db, &buf, o)
				if ve := new(identity.ValidationError); !errors.As(err, &ve) || buf.Len() != 0 {
					t.Errorf("%+v: %v (%d bytes written)", o, err, buf.Len())
				}
			}
		})
	})
}

func TestEscapeCell(t *testing.T) {
	for in, want := range map[string]string{
		"=1+2": "'=1+2", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"plain": "plain", "": "", "a=b": "a=b", "'already": "'already",
	} {
		if got := bulkexport.EscapeCell(in); got != want {
			t.Errorf("EscapeCell(%q) = %q, want %q", in, got, want)
		}
	}
}
