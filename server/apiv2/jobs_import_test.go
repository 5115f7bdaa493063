package apiv2_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0"
	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/internal/apitest"
)

// waitJob reads the job until it is completed or failed.
func waitJob(t *testing.T, m *management.Management, id string) *management.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := m.Job.Read(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.GetStatus() == "completed" || j.GetStatus() == "failed" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, j.GetStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestImportUsersGoAuth0(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdk(t, s, "", "", false)
		conn, err := m.Connection.ReadByName(ctx, uConn)
		if err != nil {
			t.Fatal(err)
		}
		existing, err := m.User.Read(ctx, createUser(t, m, "taken@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		bcryptHash := "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
		users := []map[string]any{
			{"email": "ann@example.com", "user_id": "ann-1", "given_name": "Ann", "email_verified": true,
				"app_metadata": map[string]any{"plan": "gold"}, "password_hash": bcryptHash},
			{"email": "Bob@Example.com", "name": "Bob", "blocked": true,
				"mfa_factors": []any{map[string]any{"totp": map[string]any{"secret": "JBSWY3DPEHPK3PXP"}}}},
			{"name": "no email"}, // ANY_OF_MISSING
			{"email": "unknown@example.com", "favourite_colour": "blue"}, // OBJECT_ADDITIONAL_PROPERTIES
			{"email": "not-an-email"},                                    // INVALID_FORMAT
			{"email": "taken@example.com"},                               // CONFLICT_EMAIL
			{"email": "ann@example.com"},                                 // DUPLICATED_USER
			{"email": "id@example.com", "user_id": "ann-1"},              // CONFLICT (user_id)
			{"email": "hash@example.com", "password_hash": "plain"},      // PATTERN
			{"email": 42}, // INVALID_TYPE
		}
		j := &management.Job{ConnectionID: conn.ID, Users: users, Upsert: auth0.Bool(false),
			ExternalID: auth0.String("migration-1"), SendCompletionEmail: auth0.Bool(false)}
		if err := m.Job.ImportUsers(ctx, j); err != nil {
			t.Fatal(err)
		}
		if j.GetType() != "users_import" || j.GetConnectionID() != conn.GetID() || j.GetExternalID() != "migration-1" ||
			!strings.HasPrefix(j.GetID(), "job_") || (j.GetStatus() != "pending" && j.GetStatus() != "processing") {
			t.Fatalf("created job %+v", j)
		}
		done := waitJob(t, m, j.GetID())
		if done.GetStatus() != "completed" || done.GetPercentageDone() != 100 {
			t.Fatalf("job %+v", done)
		}
		sum := done.GetSummary()
		if sum.GetInserted() != 2 || sum.GetFailed() != 8 || sum.GetUpdated() != 0 || sum.GetTotal() != 10 {
			t.Fatalf("summary %+v", sum)
		}
		errs, err := m.Job.ReadErrors(ctx, j.GetID())
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, e := range errs {
			codes = append(codes, e.Errors[0].Code)
		}
		want := "ANY_OF_MISSING OBJECT_ADDITIONAL_PROPERTIES INVALID_FORMAT CONFLICT_EMAIL DUPLICATED_USER CONFLICT PATTERN INVALID_TYPE"
		if strings.Join(codes, " ") != want {
			t.Fatalf("codes %v, want %s", codes, want)
		}
		if errs[6].User["password_hash"] != "[REDACTED]" || errs[1].Errors[0].Path != "favourite_colour" {
			t.Fatalf("errors %+v", errs)
		}
		// The imported users: ids kept under auth0|, emails normalized,
		// metadata and the hash stored.
		ann, err := m.User.Read(ctx, "auth0|ann-1")
		if err != nil {
			t.Fatal(err)
		}
		if ann.GetEmail() != "ann@example.com" || !ann.GetEmailVerified() || ann.GetGivenName() != "Ann" ||
			ann.AppMetadata == nil || (*ann.AppMetadata)["plan"] != "gold" {
			t.Fatalf("ann %+v", ann)
		}
		bobs, err := m.User.ListByEmail(ctx, "bob@example.com")
		if err != nil || len(bobs) != 1 || !bobs[0].GetBlocked() || bobs[0].GetName() != "Bob" {
			t.Fatalf("bob %+v %v", bobs, err)
		}
		// Upsert: matched on email, only the given fields, metadata
		// replaced; the existing user_id and the other fields stay.
		j2 := &management.Job{ConnectionID: conn.ID, Upsert: auth0.Bool(true), Users: []map[string]any{
			{"email": "ann@example.com", "user_id": "other", "family_name": "Smith", "app_metadata": map[string]any{"tier": 2}},
			{"email": "taken@example.com", "blocked": true},
			{"email": "new@example.com"},
			{"email": "new@example.com", "name": "again"},
		}}
		if err := m.Job.ImportUsers(ctx, j2); err != nil {
			t.Fatal(err)
		}
		done = waitJob(t, m, j2.GetID())
		if s := done.GetSummary(); s.GetInserted() != 1 || s.GetUpdated() != 2 || s.GetFailed() != 1 {
			t.Fatalf("upsert summary %+v", s)
		}
		ann, _ = m.User.Read(ctx, "auth0|ann-1")
		if ann.GetFamilyName() != "Smith" || ann.GetGivenName() != "Ann" || (*ann.AppMetadata)["plan"] != nil ||
			fmt.Sprint((*ann.AppMetadata)["tier"]) != "2" {
			t.Fatalf("upserted ann %+v", ann)
		}
		if u, _ := m.User.Read(ctx, existing.GetID()); !u.GetBlocked() {
			t.Fatalf("taken not blocked: %+v", u)
		}
		errs, _ = m.Job.ReadErrors(ctx, j2.GetID())
		if len(errs) != 1 || errs[0].Errors[0].Code != "DUPLICATED_USER" {
			t.Fatalf("upsert errors %+v", errs)
		}
		// Scopes: read:users reads, create:users is needed to create.
		reader := scopedSDK(t, s, "read:users")
		if _, err := reader.Job.Read(ctx, j.GetID()); err != nil {
			t.Fatal(err)
		}
		if err := reader.Job.ImportUsers(ctx, &management.Job{ConnectionID: conn.ID, Users: users}); errStatus(t, err) != http.StatusForbidden {
			t.Fatalf("import with read:users: %v", err)
		}
		if _, err := scopedSDK(t, s, "read:clients").Job.Read(ctx, j.GetID()); errStatus(t, err) != http.StatusForbidden {
			t.Fatalf("read with read:clients: %v", err)
		}
		if _, err := m.Job.Read(ctx, "job_01J0000000000000000000000Z"); errStatus(t, err) != http.StatusNotFound {
			t.Fatalf("unknown job: %v", err)
		}
	})
}

func createUser(t *testing.T, m *management.Management, email string) string {
	t.Helper()
	u := &management.User{Connection: auth0.String(uConn), Email: auth0.String(email),
		Password: auth0.String("Correct-Horse-9")}
	if err := m.User.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u.GetID()
}

// importMultipart posts a users file as given (NDJSON, array, malformed).
func importMultipart(t *testing.T, s *apitest.Server, tok string, fields map[string]string, file []byte) resp {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	w, _ := mw.CreateFormFile("users", "users.json")
	_, _ = w.Write(file)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v2/jobs/users-imports", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b.Bytes()}
}

func TestImportUsersNDJSONAndRefusals(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		m := sdk(t, s, "", "", false)
		tok := s.AdminToken(t)
		nd := "{\"email\":\"a@example.com\"}\n{\"email\":\"b@example.com\",\"user_metadata\":{\"x\":1}}\n\n{\"email\":\"c@example.com\"}\n"
		r := importMultipart(t, s, tok, map[string]string{"connection_id": uConn}, []byte(nd))
		if r.Status != http.StatusCreated {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		var j struct{ ID, Status, Connection string }
		r.decode(t, &j)
		if j.Connection != uConn {
			t.Fatalf("job %s", r.Body)
		}
		if done := waitJob(t, m, j.ID); done.GetSummary().GetInserted() != 3 {
			t.Fatalf("ndjson %+v", done.GetSummary())
		}
		if errs, err := m.Job.ReadErrors(context.Background(), j.ID); err != nil || len(errs) != 0 {
			t.Fatalf("errors %v %v", errs, err)
		}
		// A gzip-compressed file is imported as the plain one; a corrupt
		// one is a malformed file.
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write([]byte("{\"email\":\"gz1@example.com\"}\n{\"email\":\"gz2@example.com\"}\n"))
		_ = zw.Close()
		r = importMultipart(t, s, tok, map[string]string{"connection_id": uConn}, gz.Bytes())
		var gj struct{ ID string }
		r.decode(t, &gj)
		if r.Status != http.StatusCreated {
			t.Fatalf("gzip file: %d %s", r.Status, r.Body)
		}
		if done := waitJob(t, m, gj.ID); done.GetSummary().GetInserted() != 2 {
			t.Fatalf("gzip file %+v", done.GetSummary())
		}
		importMultipart(t, s, tok, map[string]string{"connection_id": uConn}, gz.Bytes()[:gz.Len()-12]).
			expectError(t, http.StatusBadRequest, "")
		// A file well beyond the REST body cap (1 MiB) and Auth0's 500 KB.
		var big bytes.Buffer
		for i := 0; i < 20000; i++ {
			fmt.Fprintf(&big, "{\"email\":\"big%d@example.com\",\"user_metadata\":{\"pad\":\"%040d\"}}\n", i, i)
		}
		if big.Len() < 3<<19 {
			t.Fatalf("file of %d bytes", big.Len())
		}
		r = importMultipart(t, s, tok, map[string]string{"connection_id": uConn}, big.Bytes())
		var bj struct {
			ID string
		}
		r.decode(t, &bj)
		if r.Status != http.StatusCreated {
			t.Fatalf("big file: %d %s", r.Status, r.Body)
		}
		if done := waitJob(t, m, bj.ID); done.GetSummary().GetInserted() != 20000 {
			t.Fatalf("big file %+v", done.GetSummary())
		}
		// A malformed file is refused whole, nothing stays.
		importMultipart(t, s, tok, map[string]string{"connection_id": uConn}, []byte(`[{"email":"x@example.com"},`)).
			expectError(t, http.StatusBadRequest, "")
		importMultipart(t, s, tok, map[string]string{"connection_id": uConn}, []byte(`"users"`)).
			expectError(t, http.StatusBadRequest, "")
		importMultipart(t, s, tok, map[string]string{"connection_id": "nope"}, []byte(`[]`)).
			expectError(t, http.StatusNotFound, "")
		importMultipart(t, s, tok, map[string]string{"connection_id": uConn, "upsert": "maybe"}, []byte(`[]`)).
			expectError(t, http.StatusBadRequest, "")
		importMultipart(t, s, tok, map[string]string{"connection_id": uConn, "colour": "x"}, []byte(`[]`)).
			expectError(t, http.StatusBadRequest, "")
		if _, err := m.User.ListByEmail(context.Background(), "x@example.com"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestImportFieldsAfterFile checks that fields sent after the users file
// (Auth0 accepts any order) are honoured: upsert=true after the file
// updates the existing user instead of refusing it.
func TestImportFieldsAfterFile(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdk(t, s, "", "", false)
		id := createUser(t, m, "after@example.com")
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("connection_id", uConn)
		w, _ := mw.CreateFormFile("users", "users.json")
		_, _ = w.Write([]byte(`[{"email":"after@example.com","name":"Upserted"}]`))
		_ = mw.WriteField("upsert", "true")
		_ = mw.WriteField("external_id", "late-fields")
		_ = mw.Close()
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v2/jobs/users-imports", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+s.AdminToken(t))
		res, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		res.Body.Close()
		r := resp{Status: res.StatusCode, Header: res.Header, Body: b.Bytes()}
		if r.Status != http.StatusCreated {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		var j struct {
			ID         string `json:"id"`
			Upsert     bool   `json:"upsert"`
			ExternalID string `json:"external_id"`
		}
		r.decode(t, &j)
		if !j.Upsert || j.ExternalID != "late-fields" {
			t.Fatalf("job %s", r.Body)
		}
		done := waitJob(t, m, j.ID)
		if s := done.GetSummary(); s.GetUpdated() != 1 || s.GetFailed() != 0 {
			t.Fatalf("summary %+v", s)
		}
		if u, err := m.User.Read(ctx, id); err != nil || u.GetName() != "Upserted" {
			t.Fatalf("user %+v %v", u, err)
		}
	})
}

// TestImportUpsertPasswordRevokes checks that an upsert replacing a user's
// password hash ends what the user holds, as every password change does: the
// refresh token of an existing session stops working.
func TestImportUpsertPasswordRevokes(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		ctx := context.Background()
		m := sdk(t, s, "", "", false)
		conn, err := m.Connection.ReadByName(ctx, uConn)
		if err != nil {
			t.Fatal(err)
		}
		id := createUser(t, m, "rotate@example.com")
		tok, conf := uLogin(t, s, "rotate@example.com", "Correct-Horse-9", "openid", "offline_access")
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		hc := context.WithValue(ctx, oauth2.HTTPClient, s.HTTP)
		rt := tok.RefreshToken
		refresh := func() error {
			// Refresh tokens may rotate: keep the newest.
			nt, err := conf.TokenSource(hc, &oauth2.Token{RefreshToken: rt}).Token()
			if err == nil && nt.RefreshToken != "" {
				rt = nt.RefreshToken
			}
			return err
		}
		if err := refresh(); err != nil {
			t.Fatalf("refresh before the import: %v", err)
		}
		j := &management.Job{ConnectionID: conn.ID, Upsert: auth0.Bool(true), Users: []map[string]any{
			{"email": "rotate@example.com", "password_hash": "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		}}
		if err := m.Job.ImportUsers(ctx, j); err != nil {
			t.Fatal(err)
		}
		if s := waitJob(t, m, j.GetID()).GetSummary(); s.GetUpdated() != 1 {
			t.Fatalf("summary %+v", s)
		}
		if err := refresh(); err == nil {
			t.Fatal("the refresh token still works after the password was replaced")
		}
		u, err := m.User.Read(ctx, id)
		if err != nil || u.LastPasswordReset == nil {
			t.Fatalf("last_password_reset not set: %+v %v", u, err)
		}
	})
}
