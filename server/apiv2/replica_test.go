package apiv2_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/server"
	"github.com/authgraph/authgraph/store"
)

// statementCounter counts the statements of a DB by kind.
type statementCounter struct{ usersSelects, inserts atomic.Int64 }

func countStatements(t *testing.T, db *store.DB) *statementCounter {
	c := &statementCounter{}
	db.TraceStatements(func(q string, _ bool) {
		switch {
		case strings.HasPrefix(q, "INSERT"):
			c.inserts.Add(1)
		case strings.Contains(q, `FROM "users"`):
			c.usersSelects.Add(1)
		}
	})
	t.Cleanup(func() { db.TraceStatements(nil) })
	return c
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUsersListingsReadTheReplica runs a server with a real streaming
// replica: GET /users (list, search, totals), GraphQL's users and exports
// read from it, writes go to the primary, and listings answer from the
// primary while the replica lags beyond its bound or is down.
func TestUsersListingsReadTheReplica(t *testing.T) {
	pair := testenv.PostgresWithReplica(t)
	s := apitest.StartWith(t, pair.PrimaryURL, func(c *server.Config) {
		c.DatabaseReplicaURL = pair.ReplicaURL
		c.DatabaseReplicaMaxLag = time.Second
	})
	s.StopJobs() // the export below runs from its request
	rep := store.ReplicaOf(s.Deps.DB.Ent)
	if rep == nil {
		t.Fatal("no replica attached")
	}
	waitFor(t, 10*time.Second, "the replica becomes usable", rep.Usable)
	onPrimary, onReplica := countStatements(t, s.Deps.DB), countStatements(t, rep.DB())
	admin := s.AdminToken(t)
	search := func(email string) (users []map[string]any) {
		r := call(t, s, http.MethodGet, "/api/v2/users?q="+url.QueryEscape(`email:"`+email+`"`), admin, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("search: %d %s", r.Status, r.Body)
		}
		r.decode(t, &users)
		return users
	}
	create := func(email string) {
		r := call(t, s, http.MethodPost, "/api/v2/users", admin, map[string]any{
			"connection": "Username-Password-Authentication", "email": email, "password": "Correct-Horse-Battery-9"})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}

	// Written to the primary, eventually found through the replica.
	inserts := onPrimary.inserts.Load()
	create("ada@example.com")
	if onPrimary.inserts.Load() == inserts || onReplica.inserts.Load() != 0 {
		t.Fatalf("INSERTs: %d on the primary, %d on the replica", onPrimary.inserts.Load()-inserts, onReplica.inserts.Load())
	}
	primarySelects := onPrimary.usersSelects.Load()
	waitFor(t, 5*time.Second, "the created user is found", func() bool { return len(search("ada@example.com")) == 1 })
	var page struct {
		Total int              `json:"total"`
		Users []map[string]any `json:"users"`
	}
	call(t, s, http.MethodGet, "/api/v2/users?include_totals=true", admin, nil).decode(t, &page)
	if page.Total != 1 || len(page.Users) != 1 || len(page.Users[0]["identities"].([]any)) != 1 {
		t.Fatalf("list with totals: %+v", page)
	}
	var gql struct {
		Users struct {
			TotalCount int
			Edges      []struct{ Node struct{ Email string } }
		}
	}
	s.MustGraphQL(t, admin, `query($q: String) { users(first: 10, query: $q) { totalCount edges { node { email } } } }`,
		map[string]any{"q": `email:"ada@example.com"`}, &gql)
	if gql.Users.TotalCount != 1 || len(gql.Users.Edges) != 1 || gql.Users.Edges[0].Node.Email != "ada@example.com" {
		t.Fatalf("GraphQL users: %+v", gql)
	}
	if onPrimary.usersSelects.Load() != primarySelects {
		t.Fatalf("%d listing statements on users reached the primary", onPrimary.usersSelects.Load()-primarySelects)
	}
	if onReplica.usersSelects.Load() == 0 {
		t.Fatal("no listing statement reached the replica")
	}

	// An export reads the users from the replica.
	replicaSelects := onReplica.usersSelects.Load()
	reader := scopedSDK(t, s, "read:users")
	j := &management.Job{Format: btStr("json")}
	if err := reader.Job.ExportUsers(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	done := waitExport(t, reader, j.GetID())
	if st, body := download(t, s, done.GetLocation()); st != http.StatusOK || !bytes.Contains(body, []byte("ada@example.com")) {
		t.Fatalf("export download: %d", st)
	}
	if onReplica.usersSelects.Load() == replicaSelects {
		t.Fatal("the export did not read the replica")
	}

	// Beyond the bound, the primary answers.
	if _, err := rep.DB().SQL.Exec("SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	create("bob@example.com")
	waitFor(t, 4*time.Second, "reads leave the paused replica", func() bool { return !rep.Usable() })
	replicaSelects = onReplica.usersSelects.Load()
	if len(search("bob@example.com")) != 1 {
		t.Fatal("a user created while the replica lags is not found on the primary")
	}
	if onReplica.usersSelects.Load() != replicaSelects {
		t.Fatal("a listing read the lagging replica")
	}
	if _, err := rep.DB().SQL.Exec("SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the replica is read again", rep.Usable)

	// With the replica down, listings still answer.
	if err := pair.StopReplica(); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ada@example.com", "bob@example.com"} {
		if len(search(email)) != 1 {
			t.Fatalf("%s not found with the replica down", email)
		}
	}
	if st := rep.Stats(); st.PrimaryReads == 0 {
		t.Fatalf("stats %+v: no read fell back to the primary", st)
	}
}
