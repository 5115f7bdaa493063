package customdb_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/rules"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newEngine(t *testing.T) *rules.Engine {
	t.Helper()
	eng, err := rules.New(context.Background(), rules.Config{CacheDir: testenv.RulesCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	return eng
}

func connector(t *testing.T, eng *rules.Engine, dsn string, module []byte, timeout time.Duration) *customdb.Connector {
	t.Helper()
	scripts := map[string][]byte{}
	for _, op := range customdb.Ops {
		scripts[op] = module
	}
	c, err := customdb.New(customdb.Config{Name: "legacy", Version: "1", Engine: eng, DSN: dsn, Scripts: scripts, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func legacies(t *testing.T) map[string]func(*testing.T) *customdbtest.Legacy {
	return map[string]func(*testing.T) *customdbtest.Legacy{
		"postgres": func(t *testing.T) *customdbtest.Legacy { return customdbtest.Postgres(t) },
		"mariadb":  func(t *testing.T) *customdbtest.Legacy { return customdbtest.MariaDB(t) },
	}
}

func run(t *testing.T, c *customdb.Connector, op string, args map[string]any) customdb.Outcome {
	t.Helper()
	out, err := c.Run(context.Background(), op, args)
	if err != nil {
		t.Fatalf("%s: %v (logs %v)", op, err, out.Logs)
	}
	return out
}

// TestTemplates runs every script of the Go and the AssemblyScript
// templates against a real PostgreSQL and MariaDB.
func TestTemplates(t *testing.T) {
	eng := newEngine(t)
	for _, lang := range []string{"go", "assemblyscript"} {
		t.Run(lang, func(t *testing.T) { testTemplates(t, eng, lang) })
	}
}

func testTemplates(t *testing.T, eng *rules.Engine, lang string) {
	var mods map[string][]byte
	if lang == "go" {
		mods = customdbtest.Templates(t)
	} else {
		mods = customdbtest.ASTemplates(t)
	}
	for name, mk := range legacies(t) {
		t.Run(name, func(t *testing.T) {
			leg := mk(t)
			c := connector(t, eng, leg.DSN, mods[leg.Flavor], 0)
			ctx := context.Background()
			ada := customdbtest.Seed[0]
			prefix := map[string]string{"postgres": "pg|", "mysql": "mysql|"}[leg.Flavor]

			start := time.Now()
			id, err := c.Login(ctx, ada.Email, ada.Password)
			if err != nil || id.UserID != prefix+"1" || id.FullUserID() != "auth0|"+prefix+"1" || id.Email != ada.Email || id.Nickname != "ada" {
				t.Fatalf("login: %+v %v", id, err)
			}
			t.Logf("first login (compile + instantiate + bcrypt 10): %s", time.Since(start))
			start = time.Now()
			if _, err := c.Login(ctx, ada.Email, ada.Password); err != nil {
				t.Fatal(err)
			}
			t.Logf("warm login: %s", time.Since(start))

			var ce *connectors.CredentialsError
			if _, err := c.Login(ctx, ada.Email, "wrong"); !errors.As(err, &ce) || ce.Unknown {
				t.Fatalf("wrong password: %v", err)
			}
			if _, err := c.Login(ctx, "nobody@legacy.example", "x"); !errors.As(err, &ce) || !ce.Unknown {
				t.Fatalf("unknown user: %v", err)
			}
			// SQL injection through the username: parameters, no effect.
			for _, u := range []string{"' OR '1'='1", "x'; DROP TABLE users; --", `" OR 1=1 -- `} {
				if _, err := c.Login(ctx, u, "x"); !errors.As(err, &ce) || !ce.Unknown {
					t.Fatalf("injection %q: %v", u, err)
				}
			}
			if n := leg.Count(t); n != len(customdbtest.Seed) {
				t.Fatalf("users after injections: %d", n)
			}

			// get_user.
			if out := run(t, c, customdb.OpGetUser, map[string]any{"email": "ALAN@legacy.example"}); !strings.Contains(string(out.Result), `"user_id":"`+prefix+`2"`) {
				t.Fatalf("get_user: %s", out.Result)
			}
			if out := run(t, c, customdb.OpGetUser, map[string]any{"email": "nobody@legacy.example"}); string(out.Result) != "null" || out.Err != nil {
				t.Fatalf("get_user unknown: %s %v", out.Result, out.Err)
			}
			// The same through GetUser (the duplicate guard's entry point).
			if got, err := c.GetUser(ctx, "ALAN@legacy.example"); err != nil || got == nil || got.FullUserID() != "auth0|"+prefix+"2" || got.Email != "alan@legacy.example" {
				t.Fatalf("GetUser: %+v %v", got, err)
			}
			if got, err := c.GetUser(ctx, "nobody@legacy.example"); err != nil || got != nil {
				t.Fatalf("GetUser unknown: %+v %v", got, err)
			}
			// create, then a duplicate.
			newUser := map[string]any{"user": map[string]any{"email": "grace@legacy.example", "password": "Cobol-1959!"}}
			if out := run(t, c, customdb.OpCreate, newUser); out.Err != nil {
				t.Fatalf("create: %v", out.Err)
			}
			if _, err := c.Login(ctx, "grace@legacy.example", "Cobol-1959!"); err != nil {
				t.Fatalf("login after create: %v", err)
			}
			if out := run(t, c, customdb.OpCreate, newUser); out.Err == nil || out.Err.Code != customdb.CodeUserExists {
				t.Fatalf("duplicate create: %s %v", out.Result, out.Err)
			}
			// verify.
			if out := run(t, c, customdb.OpVerify, map[string]any{"email": "grace@legacy.example"}); string(out.Result) != "true" {
				t.Fatalf("verify: %s %v", out.Result, out.Err)
			}
			if id, _ := c.Login(ctx, "grace@legacy.example", "Cobol-1959!"); !id.EmailVerified {
				t.Fatalf("not verified: %+v", id)
			}
			// change_password.
			if out := run(t, c, customdb.OpChangePassword, map[string]any{"email": "grace@legacy.example", "new_password": "Nanosecond-30cm"}); string(out.Result) != "true" {
				t.Fatalf("change_password: %s %v", out.Result, out.Err)
			}
			if _, err := c.Login(ctx, "grace@legacy.example", "Cobol-1959!"); !errors.As(err, &ce) {
				t.Fatalf("old password still works: %v", err)
			}
			if out := run(t, c, customdb.OpChangePassword, map[string]any{"email": "nobody@legacy.example", "new_password": "x"}); string(out.Result) != "false" {
				t.Fatalf("change_password unknown: %s", out.Result)
			}
			// change_email.
			if out := run(t, c, customdb.OpChangeEmail, map[string]any{"email": "grace@legacy.example", "new_email": "hopper@legacy.example", "verified": false}); string(out.Result) != "true" {
				t.Fatalf("change_email: %s %v", out.Result, out.Err)
			}
			id, err = c.Login(ctx, "hopper@legacy.example", "Nanosecond-30cm")
			if err != nil || id.EmailVerified {
				t.Fatalf("login after change_email: %+v %v", id, err)
			}
			// delete (the id without auth0|).
			if out := run(t, c, customdb.OpDelete, map[string]any{"id": id.UserID}); out.Err != nil {
				t.Fatalf("delete: %v", out.Err)
			}
			if _, err := c.Login(ctx, "hopper@legacy.example", "Nanosecond-30cm"); !errors.As(err, &ce) || !ce.Unknown {
				t.Fatalf("login after delete: %v", err)
			}
			if n := leg.Count(t); n != len(customdbtest.Seed) {
				t.Fatalf("users at the end: %d", n)
			}
		})
	}
}

func TestHostileScripts(t *testing.T) {
	mods := customdbtest.Templates(t)
	eng := newEngine(t)
	for name, mk := range legacies(t) {
		t.Run(name, func(t *testing.T) {
			leg := mk(t)
			const limit = 3 * time.Second
			c := connector(t, eng, leg.DSN, mods["hostile"], limit)
			pg := leg.Flavor == "postgres"
			pick := func(p, m string) string {
				if pg {
					return p
				}
				return m
			}
			cases := []struct{ attack, sql, want string }{
				{"query", pick("SELECT * FROM secrets", "SELECT * FROM mysql.user"), pick("permission denied", "denied")},
				{"exec", pick("INSERT INTO secrets VALUES ('x')", "CREATE TABLE evil (x int)"), pick("permission denied", "denied")},
				{"query", pick("SELECT pg_sleep(30)", "SELECT SLEEP(30)"), pick("statement timeout", "max_statement_time")},
				{"exec", pick("UPDATE users SET nickname = 'pwned' WHERE pg_sleep(30) IS NOT NULL", "UPDATE users SET nickname = 'pwned' WHERE SLEEP(30) = 0"), pick("statement timeout", "max_statement_time")},
				{"query", pick("SELECT generate_series(1, 100000)", "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) SELECT n FROM s"), "more than 1000 rows"},
				{"query", "SELECT REPEAT('x', 2000000) AS big", "exceeds 1048576 bytes"},
				{"bcrypt_verify", "", "bcrypt cost 31 exceeds the limit of 14"},
				{"bcrypt_hash", "", "bcrypt cost 31 is outside"},
				{"pbkdf2", "", "iterations 1000000000 are outside"},
				{"argon2", "", "exceeds the limit of 262144 KiB"},
			}
			// Compiling is not charged to a script; do it before the clock runs.
			if _, err := c.Run(context.Background(), customdb.OpLogin, map[string]any{"username": "warm-up"}); err != nil {
				t.Fatal(err)
			}
			for _, tc := range cases {
				start := time.Now()
				out, err := c.Run(context.Background(), customdb.OpLogin, map[string]any{"username": tc.attack, "password": tc.sql})
				took := time.Since(start)
				if err != nil || out.Err == nil || out.Err.Code != customdb.CodeSystem || !strings.Contains(out.Err.Message, tc.want) {
					t.Errorf("%s %q: %v %+v", tc.attack, tc.sql, err, out.Err)
					continue
				}
				if took > limit+time.Second {
					t.Errorf("%s %q took %s", tc.attack, tc.sql, took)
				}
				t.Logf("%-13s %-40.40q %7s  %s", tc.attack, tc.sql, took.Round(time.Millisecond), out.Err.Message)
			}
			// An infinite loop ends at the time limit.
			start := time.Now()
			_, err := c.Run(context.Background(), customdb.OpLogin, map[string]any{"username": "loop"})
			if !errors.Is(err, rules.ErrTimeout) || !errors.Is(err, customdb.ErrScript) || time.Since(start) > limit+time.Second {
				t.Fatalf("loop: %v after %s", err, time.Since(start))
			}
			t.Logf("loop: %v after %s", err, time.Since(start).Round(time.Millisecond))
			// Through Login: a system error is "unavailable", never a user.
			if _, err := c.Login(context.Background(), "bcrypt_hash", "x"); !errors.Is(err, connectors.ErrUnavailable) {
				t.Fatalf("login: %v", err)
			}
			// Nothing written, and no statement left running on the server.
			var pwned, running int
			leg.Admin.QueryRow("SELECT COUNT(*) FROM users WHERE nickname = 'pwned'").Scan(&pwned)
			if pg {
				leg.Admin.QueryRow("SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND state = 'active' AND pid <> pg_backend_pid()").Scan(&running)
			} else {
				leg.Admin.QueryRow("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE '%SLEEP(30)%' AND id <> CONNECTION_ID()").Scan(&running)
			}
			if n := leg.Count(t); n != len(customdbtest.Seed) || pwned != 0 || running != 0 {
				t.Fatalf("after the attacks: %d users, %d pwned, %d statements running", n, pwned, running)
			}
		})
	}
}

func TestValidateScript(t *testing.T) {
	mods := customdbtest.Templates(t)
	eng := newEngine(t)
	if err := eng.ValidateScript(context.Background(), mods["postgres"]); err != nil {
		t.Fatal(err)
	}
	// A script is not a rule: its database imports are refused there.
	if err := eng.Validate(context.Background(), mods["postgres"]); !errors.Is(err, rules.ErrForbiddenImport) {
		t.Fatalf("as a rule: %v", err)
	}
}

// The script names connections validates on write are the operations.
func TestOpsMatchConnectionScripts(t *testing.T) {
	if !slices.Equal(customdb.Ops, connections.CustomDBScripts) {
		t.Fatalf("customdb.Ops %v, connections.CustomDBScripts %v", customdb.Ops, connections.CustomDBScripts)
	}
}
