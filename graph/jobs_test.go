package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"github.com/authgraph/authgraph/internal/apitest"
)

// uploadGraphQL sends query with file as variables.file, the GraphQL
// multipart request way.
func uploadGraphQL(t *testing.T, s *apitest.Server, token, query string, vars map[string]any, file []byte) apitest.Response {
	t.Helper()
	vars["file"] = nil
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("operations", string(ops))
	_ = mw.WriteField("map", `{"0":["variables.file"]}`)
	w, _ := mw.CreateFormFile("0", "users.ndjson")
	_, _ = w.Write(file)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := apitest.Response{Status: res.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("status %d: %s", res.StatusCode, raw)
	}
	return out
}

const importMutation = `mutation($c: String!, $u: Boolean, $file: Upload!) {
  importUsers(connection: $c, upsert: $u, file: $file) { id type status connection upsert summary { total } }
}`

func TestImportUsersGraphQL(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		admin := s.AdminToken(t)
		file := []byte(`[{"email":"gq1@example.com","name":"One"},{"email":"gq2@example.com","password_hash":"x"}]`)
		r := uploadGraphQL(t, s, admin, importMutation, map[string]any{"c": "Username-Password-Authentication"}, file)
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("%d %+v", r.Status, r.Errors)
		}
		var created struct {
			ImportUsers struct {
				ID, Type, Status, Connection string
				Upsert                       bool
				Summary                      struct{ Total int }
			}
		}
		r.Decode(t, &created)
		j := created.ImportUsers
		if j.Type != "users_import" || j.Connection != "Username-Password-Authentication" || j.Summary.Total != 2 || j.Upsert {
			t.Fatalf("created %+v", j)
		}
		var got struct {
			Job struct {
				Status         string
				PercentageDone int
				Summary        struct{ Inserted, Failed int }
				Errors         []struct {
					Row    int
					User   map[string]any
					Errors []struct{ Code, Path string }
				}
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			s.MustGraphQL(t, admin, `query($id: ID!) { job(id: $id) { status percentageDone summary { inserted failed }
				errors { row user errors { code path } } } }`, map[string]any{"id": j.ID}, &got)
			if got.Job.Status == "completed" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		g := got.Job
		if g.Status != "completed" || g.PercentageDone != 100 || g.Summary.Inserted != 1 || g.Summary.Failed != 1 ||
			len(g.Errors) != 1 || g.Errors[0].Row != 1 || g.Errors[0].User["password_hash"] != "[REDACTED]" ||
			g.Errors[0].Errors[0].Path != "password_hash" {
			t.Fatalf("job %+v", g)
		}
		// Without create:users nothing is created; without a read scope
		// the job is not shown.
		r = uploadGraphQL(t, s, s.Token(t, "read:users"), importMutation, map[string]any{"c": "Username-Password-Authentication"}, file)
		if len(r.Errors) == 0 {
			t.Fatal("importUsers with read:users succeeded")
		}
		r = s.GraphQL(t, s.Token(t, "read:clients"), `query($id: ID!) { job(id: $id) { id } }`, map[string]any{"id": j.ID})
		if len(r.Errors) == 0 {
			t.Fatal("job read with read:clients")
		}
		// A malformed file is refused whole.
		r = uploadGraphQL(t, s, admin, importMutation, map[string]any{"c": "Username-Password-Authentication"}, []byte(`[{`))
		if len(r.Errors) == 0 {
			t.Fatal("malformed file accepted")
		}
	})
}
