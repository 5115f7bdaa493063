package apiv2_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkexport"
	"github.com/authgraph/authgraph/ent/job"
	"github.com/authgraph/authgraph/ent/logevent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/internal/apitest"
)

// waitExport waits for export job id to complete.
func waitExport(t *testing.T, m *management.Management, id string) *management.Job {
	t.Helper()
	j := waitJob(t, m, id) // jobs_import_test.go
	if j.GetStatus() != "completed" {
		t.Fatalf("export job: %+v", j)
	}
	return j
}

// download fetches a location without credentials and gunzips it.
func download(t *testing.T, s *apitest.Server, location string) (int, []byte) {
	t.Helper()
	res, err := s.HTTP.Get(location)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, raw
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/gzip" {
		t.Fatalf("Content-Type %q", ct)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, out
}

func TestUsersExportJob(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		admin := scopedSDK(t, s)
		conn := "Username-Password-Authentication"
		for i, email := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
			u := &management.User{Connection: &conn, Email: &email, Password: btStr("Correct-Horse-Battery-9"),
				AppMetadata:  &map[string]interface{}{"plan": []string{"gold", "silver", "bronze"}[i]},
				UserMetadata: &map[string]interface{}{"note": "=1+1"}}
			if err := admin.User.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		reader := scopedSDK(t, s, "read:users")

		t.Run("json, default fields", func(t *testing.T) {
			j := &management.Job{Format: btStr("json")}
			before := time.Now().Add(-time.Second)
			if err := reader.Job.ExportUsers(ctx, j); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(j.GetID(), "job_") || j.GetType() != "users_export" || j.GetStatus() != "pending" ||
				j.GetFormat() != "json" || len(j.Fields) == 0 || j.GetCreatedAt().Before(before) || j.GetLocation() != "" {
				t.Fatalf("created %+v", j)
			}
			done := waitExport(t, reader, j.GetID())
			if done.GetPercentageDone() != 100 || !strings.HasPrefix(done.GetLocation(), s.Issuer+"exports/"+j.GetID()+".json.gz?token=") {
				t.Fatalf("completed %+v", done)
			}
			st, body := download(t, s, done.GetLocation())
			if st != http.StatusOK {
				t.Fatalf("download: %d %s", st, body)
			}
			var n int
			sc := bufio.NewScanner(bytes.NewReader(body))
			for sc.Scan() {
				var u struct {
					UserID       string         `json:"user_id"`
					Email        string         `json:"email"`
					AppMetadata  map[string]any `json:"app_metadata"`
					UserMetadata map[string]any `json:"user_metadata"`
					PasswordHash *string        `json:"password_hash"`
				}
				if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
					t.Fatal(err)
				}
				n++
				// user_id is the id at the database connection, as an
				// import takes it.
				if u.UserID == "" || strings.Contains(u.UserID, "|") || u.Email == "" || u.AppMetadata["plan"] == nil ||
					u.UserMetadata["note"] != "=1+1" || u.PasswordHash != nil || bytes.Contains(sc.Bytes(), []byte("password")) {
					t.Errorf("line %s", sc.Text())
				}
			}
			if n != 3 {
				t.Fatalf("%d users in the file", n)
			}

			// A new read issues a new URL and ends the previous one.
			again, err := reader.Job.Read(ctx, j.GetID())
			if err != nil {
				t.Fatal(err)
			}
			if again.GetLocation() == done.GetLocation() {
				t.Fatal("the same URL twice")
			}
			if st, _ := download(t, s, done.GetLocation()); st != http.StatusForbidden {
				t.Fatalf("superseded URL: %d", st)
			}
			// A wrong token, no token, another file name.
			base, tok, _ := strings.Cut(again.GetLocation(), "?token=")
			for _, u := range []string{base + "?token=" + tok[:len(tok)-2] + "AA", base, strings.Replace(base, ".json.gz", ".csv.gz", 1) + "?token=" + tok} {
				if st, body := download(t, s, u); st != http.StatusForbidden || bytes.Contains(body, []byte("user_id")) {
					t.Fatalf("%s: %d %s", u, st, body)
				}
			}
			// An expired URL: the stored expiry moved into the past.
			if st, _ := download(t, s, again.GetLocation()); st != http.StatusOK {
				t.Fatalf("fresh URL: %d", st)
			}
			sys := authz.SystemContext(ctx)
			row := s.Deps.DB.Ent.Job.GetX(sys, pulid.ID(j.GetID()))
			hash, _, _ := strings.Cut(*row.Location, ":")
			if strings.Contains(*row.Location, tok) || len(hash) != 64 {
				t.Fatalf("the token is stored as is: %q", *row.Location)
			}
			s.Deps.DB.Ent.Job.UpdateOneID(row.ID).SetLocation(hash + ":" + strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)).ExecX(sys)
			if st, _ := download(t, s, again.GetLocation()); st != http.StatusForbidden {
				t.Fatalf("expired URL: %d", st)
			}
			// A caller without read:users sees the job but no location.
			if ro, err := scopedSDK(t, s, "create:users").Job.Read(ctx, j.GetID()); err != nil || ro.GetStatus() != "completed" || ro.GetLocation() != "" {
				t.Fatalf("create:users read: %+v %v", ro, err)
			}
		})

		t.Run("audited", func(t *testing.T) {
			sys := authz.SystemContext(ctx)
			j := &management.Job{Format: btStr("csv"), Fields: []map[string]interface{}{{"name": "email"}}}
			if err := reader.Job.ExportUsers(ctx, j); err != nil {
				t.Fatal(err)
			}
			created := s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("sapi"), logevent.DescriptionContains(j.GetID())).AllX(sys)
			if len(created) != 1 || created[0].Details["operation"] != "exportUsers" || created[0].ClientID == "" ||
				!strings.Contains(created[0].Description, "csv") || !strings.Contains(created[0].Description, "email") {
				t.Fatalf("creation audit: %+v", created)
			}
			done := waitExport(t, reader, j.GetID())
			downloads := func() int {
				n := 0
				for _, e := range s.Deps.DB.Ent.LogEvent.Query().Where(logevent.Type("mgmt_api_read")).AllX(sys) {
					if e.Details["job_id"] == j.GetID() && e.Details["operation"] == "downloadUsersExport" {
						n++
					}
				}
				return n
			}
			if n := downloads(); n != 0 {
				t.Fatalf("%d downloads logged before any", n)
			}
			if st, _ := download(t, s, done.GetLocation()+"x"); st != http.StatusForbidden {
				t.Fatalf("bad token: %d", st)
			}
			if st, body := download(t, s, done.GetLocation()); st != http.StatusOK {
				t.Fatalf("download: %d %s", st, body)
			}
			if n := downloads(); n != 1 {
				t.Fatalf("%d downloads logged, want 1", n)
			}
		})

		t.Run("csv with fields and a connection", func(t *testing.T) {
			c, err := admin.Connection.ReadByName(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			j := &management.Job{Format: btStr("csv"), ConnectionID: c.ID, Limit: ptrInt(2), Fields: []map[string]interface{}{
				{"name": "email"}, {"name": "identities[0].connection", "export_as": "provider"},
				{"name": "app_metadata.plan"}, {"name": "user_metadata.note", "export_as": "note"},
			}}
			if err := reader.Job.ExportUsers(ctx, j); err != nil {
				t.Fatal(err)
			}
			if j.GetConnectionID() != c.GetID() || j.GetLimit() != 2 || len(j.Fields) != 4 || j.Fields[1]["export_as"] != "provider" {
				t.Fatalf("created %+v", j)
			}
			done := waitExport(t, reader, j.GetID())
			st, body := download(t, s, done.GetLocation())
			if st != http.StatusOK {
				t.Fatalf("download: %d %s", st, body)
			}
			recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 3 || strings.Join(recs[0], ",") != "email,provider,app_metadata.plan,note" {
				t.Fatalf("csv %q", recs)
			}
			for _, r := range recs[1:] {
				if r[1] != conn || r[3] != "'=1+1" || r[2] == "" {
					t.Errorf("row %q", r)
				}
			}
		})

		t.Run("refused", func(t *testing.T) {
			for _, tc := range []struct {
				body   any
				status int
			}{
				{map[string]any{"format": "xml"}, 400},
				{map[string]any{"fields": []any{map[string]any{"name": "password_hash"}}}, 400},
				{map[string]any{"fields": []any{map[string]any{"name": "custom_password_hash"}}}, 400},
				{map[string]any{"fields": []any{map[string]any{"name": "identities[0"}}}, 400},
				{map[string]any{"fields": []any{map[string]any{"export_as": "x"}}}, 400},
				{map[string]any{"limit": -1}, 400},
				{map[string]any{"include_password_hashes": true}, 400},
				{map[string]any{"connection_id": "con_nothere"}, 404},
			} {
				r := call(t, s, http.MethodPost, "/api/v2/jobs/users-exports", s.AdminToken(t), tc.body)
				r.expectError(t, tc.status, "")
			}
			call(t, s, http.MethodPost, "/api/v2/jobs/users-exports", token(t, s, "create:users", "update:users"), map[string]any{}).
				expectError(t, http.StatusForbidden, "")
			n := s.Deps.DB.Ent.Job.Query().Where(job.TypeEQ(job.TypeUsersExport)).CountX(authz.SystemContext(ctx))
			if n != 3 {
				t.Fatalf("%d export jobs: refused requests created some", n)
			}
		})

		t.Run("too many jobs in flight", func(t *testing.T) {
			sys := authz.SystemContext(ctx)
			db := s.Deps.DB.Ent
			var queued []pulid.ID
			for range bulkexport.MaxActive {
				j, err := bulkexport.CreateJob(sys, db, "tester", bulkexport.Options{})
				if err != nil {
					t.Fatal(err)
				}
				queued = append(queued, j.ID)
			}
			before := db.Job.Query().Where(job.TypeEQ(job.TypeUsersExport)).CountX(sys)
			call(t, s, http.MethodPost, "/api/v2/jobs/users-exports", s.AdminToken(t), map[string]any{}).
				expectError(t, http.StatusTooManyRequests, "too_many_requests")
			if n := db.Job.Query().Where(job.TypeEQ(job.TypeUsersExport)).CountX(sys); n != before {
				t.Fatalf("a refused export created a job: %d, were %d", n, before)
			}
			// Once one completes, a new export is accepted again.
			if err := bulkexport.RunJob(sys, db, queued[0], nil); err != nil {
				t.Fatal(err)
			}
			r := call(t, s, http.MethodPost, "/api/v2/jobs/users-exports", s.AdminToken(t), map[string]any{})
			if r.Status != http.StatusCreated {
				t.Fatalf("after one completed: %d %s", r.Status, r.Body)
			}
			var created struct{ ID string }
			r.decode(t, &created)
			waitExport(t, reader, created.ID)
			for _, id := range queued[1:] {
				if j := waitExport(t, reader, string(id)); j.GetStatus() != "completed" {
					t.Fatalf("a queued job was not run: %+v", j)
				}
			}
		})
	})
}

func ptrInt(i int) *int { return &i }
