package apiv2_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/identity"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/server"
)

// Benchmarks of the users endpoints over real HTTP against a real server:
// Postgres when one is reachable (AUTHGRAPH_TEST_DATABASE_URL or
// 127.0.0.1:5432), SQLite otherwise; 8 concurrent clients; the management
// API's rate limit off.
//
//	go test -run '^$' -bench 'GetUser|ListUsers|CreateUser|UsersByEmail' -benchtime 2000x ./server/apiv2/

const uBenchUsers = 1000

type uBenchEnv struct {
	s     *apitest.Server
	http  *http.Client
	token string
	ids   []string // user_ids of the seeded users
}

func uBenchDSN(b *testing.B) string {
	if os.Getenv(testenv.EnvPostgresURL) != "" {
		return testenv.Postgres(b)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", 200*time.Millisecond); err == nil {
		c.Close()
		return testenv.Postgres(b)
	}
	return testenv.SQLite(b)
}

// uNewBenchEnv starts a server and seeds uBenchUsers database users
// (user00000@bench.test…), each with its identity, straight into the
// database.
func uNewBenchEnv(b *testing.B) *uBenchEnv {
	b.Helper()
	s := apitest.StartWith(b, uBenchDSN(b), func(c *server.Config) { c.APIRateLimit.PerSecond = -1 })
	ctx := authz.SystemContext(context.Background())
	db := s.Deps.DB.Ent
	conn, err := db.Connection.Query().Where(connection.Name(uConn)).Only(ctx)
	if err != nil {
		b.Fatal(err)
	}
	env := &uBenchEnv{s: s, token: s.AdminToken(b),
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	const batch = 200
	for start := 0; start < uBenchUsers; start += batch {
		users := make([]*ent.UserCreate, batch)
		for i := range batch {
			n := start + i
			email := fmt.Sprintf("user%05d@bench.test", n)
			users[i] = db.User.Create().SetUserID(fmt.Sprintf("auth0|bench%05d", n)).SetEmail(email).
				SetName(fmt.Sprintf("Bench User %05d", n)).SetNickname(fmt.Sprintf("user%05d", n)).
				SetAppMetadata(map[string]any{"plan": "gold", "n": n})
		}
		created, err := db.User.CreateBulk(users...).Save(ctx)
		if err != nil {
			b.Fatal(err)
		}
		idents := make([]*ent.IdentityCreate, len(created))
		for i, u := range created {
			idents[i] = db.Identity.Create().SetOwnerID(u.ID).SetConnectionID(conn.ID).SetProvider(identity.DatabaseProvider).
				SetUpstreamID(fmt.Sprintf("bench%05d", start+i)).SetEmailLower(*u.Email)
			env.ids = append(env.ids, u.UserID)
		}
		if err := db.Identity.CreateBulk(idents...).Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return env
}

// do sends one request and fails unless the status is want.
func (e *uBenchEnv) do(b *testing.B, method, path string, body []byte, want int) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.s.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("%s %s: status %d, want %d", method, path, resp.StatusCode, want)
	}
}

// uParallel runs op from 8 goroutines in all.
func uParallel(b *testing.B, op func()) {
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
}

func BenchmarkGetUser(b *testing.B) {
	e := uNewBenchEnv(b)
	uParallel(b, func() {
		e.do(b, http.MethodGet, "/api/v2/users/"+url.PathEscape(e.ids[rand.IntN(len(e.ids))]), nil, http.StatusOK)
	})
}

func BenchmarkListUsers(b *testing.B) {
	e := uNewBenchEnv(b)
	uParallel(b, func() {
		e.do(b, http.MethodGet, fmt.Sprintf("/api/v2/users?per_page=100&page=%d&include_totals=true&search_engine=v3", rand.IntN(uBenchUsers/100)),
			nil, http.StatusOK)
	})
}

func BenchmarkCreateUser(b *testing.B) {
	e := uNewBenchEnv(b)
	var n atomic.Int64
	run := time.Now().UnixNano()
	uParallel(b, func() {
		body := fmt.Appendf(nil, `{"connection":%q,"email":"new%d-%d@bench.test","name":"New User"}`, uConn, run, n.Add(1))
		e.do(b, http.MethodPost, "/api/v2/users", body, http.StatusCreated)
	})
}

func BenchmarkUsersByEmail(b *testing.B) {
	e := uNewBenchEnv(b)
	uParallel(b, func() {
		e.do(b, http.MethodGet, fmt.Sprintf("/api/v2/users-by-email?email=user%05d%%40bench.test", rand.IntN(uBenchUsers)), nil, http.StatusOK)
	})
}
