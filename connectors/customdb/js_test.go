package customdb_test

// Auth0's published custom-database templates (testdata/auth0: PostgreSQL
// with pg, MySQL with mysql, bcrypt for passwords), unchanged, run as
// JavaScript scripts on the real runtime against a real PostgreSQL and
// MariaDB seeded with the users table they expect.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/customdb/customdbtest"
	"github.com/authgraph/authgraph/rules"
)

// auth0Scripts reads the templates of flavor (postgres or mysql) by operation.
func auth0Scripts(t *testing.T, flavor string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, op := range customdb.Ops {
		b, err := os.ReadFile(filepath.Join("testdata/auth0", flavor, op+".js"))
		if err != nil {
			t.Fatal(err)
		}
		out[op] = string(b)
	}
	return out
}

func jsConnector(t *testing.T, eng *rules.Engine, dsn string, scripts map[string]string, timeout time.Duration, conf map[string]any) *customdb.Connector {
	t.Helper()
	c, err := customdb.New(customdb.Config{Name: "legacy", Version: "1", Engine: eng, DSN: dsn, JavaScript: scripts, Timeout: timeout, Configuration: conf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestJSAuth0Templates(t *testing.T) {
	eng := newEngine(t)
	for name, mk := range legacies(t) {
		t.Run(name, func(t *testing.T) {
			leg := mk(t)
			scripts := auth0Scripts(t, leg.Flavor)
			ctx := context.Background()
			for op, src := range scripts {
				if err := eng.ValidateScriptJavaScript(ctx, op, src); err != nil {
					t.Fatalf("%s: %v", op, err)
				}
			}
			c := jsConnector(t, eng, leg.DSN, scripts, 0, nil)
			ada := customdbtest.Seed[0]

			start := time.Now()
			id, err := c.Login(ctx, ada.Email, ada.Password)
			if err != nil || id.UserID != "1" || id.FullUserID() != "auth0|1" || id.Email != ada.Email || id.Nickname != "ada" {
				t.Fatalf("login: %+v %v", id, err)
			}
			t.Logf("first login (compile + bcrypt 10): %s", time.Since(start))
			var ce *connectors.CredentialsError
			// Auth0's template answers WrongUsernameOrPasswordError(email)
			// for both: a refused login either way.
			if _, err := c.Login(ctx, ada.Email, "wrong"); !errors.As(err, &ce) {
				t.Fatalf("wrong password: %v", err)
			}
			if _, err := c.Login(ctx, "nobody@legacy.example", "x"); !errors.As(err, &ce) {
				t.Fatalf("unknown user: %v", err)
			}
			if out := run(t, c, customdb.OpLogin, map[string]any{"username": ada.Email, "password": "wrong"}); out.Err == nil || out.Err.Code != customdb.CodeWrongCredentials || out.Err.Email != ada.Email {
				t.Fatalf("wrong password result: %s %+v", out.Result, out.Err)
			}
			for _, u := range []string{"' OR '1'='1", "x'; DROP TABLE users; --"} {
				if _, err := c.Login(ctx, u, "x"); !errors.As(err, &ce) {
					t.Fatalf("injection %q: %v", u, err)
				}
			}

			// get_user: found, and callback() for not found.
			got, err := c.GetUser(ctx, "alan@legacy.example")
			if err != nil || got == nil || got.FullUserID() != "auth0|2" || got.Nickname != "alan" {
				t.Fatalf("GetUser: %+v %v", got, err)
			}
			if got, err := c.GetUser(ctx, "nobody@legacy.example"); err != nil || got != nil {
				t.Fatalf("GetUser unknown: %+v %v", got, err)
			}

			// create, then login with the new credentials.
			if err := c.Create(ctx, customdb.NewUser{Email: "grace@legacy.example", Password: "Cobol-1959!"}); err != nil {
				t.Fatalf("create: %v", err)
			}
			grace, err := c.Login(ctx, "grace@legacy.example", "Cobol-1959!")
			if err != nil || grace.UserID == "" || grace.UserID == "1" {
				t.Fatalf("login after create: %+v %v", grace, err)
			}
			// A duplicate: the template passes the database's error on.
			if err := c.Create(ctx, customdb.NewUser{Email: "grace@legacy.example", Password: "x"}); !errors.Is(err, customdb.ErrScript) {
				t.Fatalf("duplicate create: %v", err)
			}

			// verify.
			var verified bool
			leg.Admin.QueryRow("SELECT email_verified FROM users WHERE email = 'grace@legacy.example'").Scan(&verified)
			if verified {
				t.Fatal("verified before verify")
			}
			err = c.Verify(ctx, "grace@legacy.example")
			leg.Admin.QueryRow("SELECT email_verified FROM users WHERE email = 'grace@legacy.example'").Scan(&verified)
			if err != nil || !verified {
				t.Fatalf("verify: %v (verified %v)", err, verified)
			}

			// change_password, then login with the new one only.
			if ok, err := c.ChangePassword(ctx, "grace@legacy.example", "Nanosecond-30cm"); !ok || err != nil {
				t.Fatalf("change_password: %v %v", ok, err)
			}
			if _, err := c.Login(ctx, "grace@legacy.example", "Cobol-1959!"); !errors.As(err, &ce) {
				t.Fatalf("old password still works: %v", err)
			}
			if _, err := c.Login(ctx, "grace@legacy.example", "Nanosecond-30cm"); err != nil {
				t.Fatalf("login with the new password: %v", err)
			}
			if ok, err := c.ChangePassword(ctx, "nobody@legacy.example", "Whatever-123"); ok || err != nil {
				t.Fatalf("change_password of nobody: %v %v", ok, err)
			}

			// change_email.
			if ok, err := c.ChangeEmail(ctx, "grace@legacy.example", "hopper@legacy.example", false); !ok || err != nil {
				t.Fatalf("change_email: %v %v", ok, err)
			}
			hopper, err := c.Login(ctx, "hopper@legacy.example", "Nanosecond-30cm")
			if err != nil || hopper.UserID != grace.UserID || hopper.Email != "hopper@legacy.example" {
				t.Fatalf("login after change_email: %+v %v", hopper, err)
			}

			// delete (the id without auth0|).
			if err := c.Delete(ctx, hopper.FullUserID()); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := c.Login(ctx, "hopper@legacy.example", "Nanosecond-30cm"); !errors.As(err, &ce) {
				t.Fatalf("login after delete: %v", err)
			}
			if n := leg.Count(t); n != len(customdbtest.Seed) {
				t.Fatalf("users at the end: %d", n)
			}
		})
	}
}

// Auth0's error classes and callback shapes map to the typed errors and
// results of WebAssembly scripts; configuration is the script's global.
func TestJSCallbackMapping(t *testing.T) {
	eng := newEngine(t)
	leg := customdbtest.Postgres(t)
	scripts := map[string]string{
		"login": `function login(email, password, callback) {
  if (email === 'blocked@x.example') return callback(new UnauthorizedError('blocked'));
  if (email === 'throws@x.example') throw new Error('boom');
  if (email === 'nobody@x.example') return callback(null);
  if (email === 'async@x.example') return Promise.reject(new WrongUsernameOrPasswordError(email, 'no'));
  callback(null, { id: 42, email: email, metadata: { plan: 'full' }, nickname: configuration.NICK });
}`,
		"create": `function create(user, callback) {
  if (user.email === 'taken@x.example') return callback(new ValidationError('user_exists', 'taken'));
  callback(new ValidationError('bad_email', 'refused'));
}`,
		"get_user": `async function getUser(email, callback) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: 'postgres://ignored@elsewhere/db' });
  await client.connect();
  const res = await client.query('SELECT id, nickname FROM users WHERE email = $1', [email]);
  await client.end();
  if (res.rows.length === 0) return callback(null);
  callback(null, { user_id: res.rows[0].id, nickname: res.rows[0].nickname, email: email });
}`,
		"verify":       `function verify(email, callback) { callback(null); }`,
		"change_email": `function changeEmail(email, newEmail, verified, callback) { callback(null, true); callback(new Error('second call')); }`,
		"delete":       `function remove(id, callback) { /* never calls back */ }`,
	}
	c := jsConnector(t, eng, leg.DSN, scripts, 4*time.Second, map[string]any{"NICK": "from-configuration"})
	ctx := context.Background()
	id, err := c.Login(ctx, "a@x.example", "pw")
	if err != nil || id.UserID != "42" || id.Nickname != "from-configuration" || id.Raw["app_metadata"] == nil {
		t.Fatalf("login: %+v %v", id, err)
	}
	var ce *connectors.CredentialsError
	for _, email := range []string{"blocked@x.example", "nobody@x.example", "async@x.example"} {
		if _, err := c.Login(ctx, email, "pw"); !errors.As(err, &ce) {
			t.Fatalf("%s: %v", email, err)
		}
	}
	if _, err := c.Login(ctx, "throws@x.example", "pw"); !errors.Is(err, connectors.ErrUnavailable) {
		t.Fatalf("thrown error: %v", err)
	}
	var se *customdb.ScriptError
	if err := c.Create(ctx, customdb.NewUser{Email: "taken@x.example"}); !errors.As(err, &se) || se.Code != customdb.CodeUserExists {
		t.Fatalf("user_exists: %v", err)
	}
	if err := c.Create(ctx, customdb.NewUser{Email: "other@x.example"}); !errors.As(err, &se) || se.Code != customdb.CodeValidation || se.Message != "refused" {
		t.Fatalf("validation: %v", err)
	}
	if got, err := c.GetUser(ctx, customdbtest.Seed[1].Email); err != nil || got == nil || got.UserID != "2" {
		t.Fatalf("promise pg client: %+v %v", got, err)
	}
	if err := c.Verify(ctx, "a@x.example"); !errors.Is(err, customdb.ErrScript) {
		t.Fatalf("verify without a result: %v", err)
	}
	if ok, err := c.ChangeEmail(ctx, "a@x.example", "b@x.example", true); !ok || err != nil {
		t.Fatalf("the first callback counts: %v %v", ok, err)
	}
	start := time.Now()
	if err := c.Delete(ctx, "1"); !errors.Is(err, rules.ErrTimeout) {
		t.Fatalf("no callback: %v", err)
	} else {
		t.Logf("no callback: %v after %s", err, time.Since(start).Round(time.Millisecond))
	}
}

// An infinite loop ends at the script's time limit with the engine's
// timeout, and the connector keeps serving.
func TestJSHostileLoop(t *testing.T) {
	eng := newEngine(t)
	leg := customdbtest.Postgres(t)
	scripts := auth0Scripts(t, "postgres")
	scripts["get_user"] = "function getByEmail(email, callback) { while (true) {} }"
	ctx := context.Background()
	// Starting the runtime and compiling are not charged to a script: do
	// them before the clock runs.
	if _, err := jsConnector(t, eng, leg.DSN, scripts, 0, nil).Login(ctx, customdbtest.Seed[0].Email, customdbtest.Seed[0].Password); err != nil {
		t.Fatal(err)
	}
	const limit = 4 * time.Second
	c := jsConnector(t, eng, leg.DSN, scripts, limit, nil)
	start := time.Now()
	_, err := c.GetUser(ctx, "a@x.example")
	took := time.Since(start)
	if !errors.Is(err, rules.ErrTimeout) || !errors.Is(err, customdb.ErrScript) || took > limit+2*time.Second {
		t.Fatalf("loop: %v after %s", err, took)
	}
	t.Logf("loop: %v after %s", err, took.Round(time.Millisecond))
	if _, err := c.Login(ctx, customdbtest.Seed[0].Email, customdbtest.Seed[0].Password); err != nil {
		t.Fatalf("login after the loop: %v", err)
	}
}

// A script's logs and errors reach the server log and testConnectionScript:
// the connection's configuration values and its DSN password are redacted
// from them.
func TestJSSecretsRedacted(t *testing.T) {
	eng := newEngine(t)
	scripts := map[string]string{
		"login": `function login(email, password, callback) {
  console.log('cfg ' + configuration.DB_PASSWORD + ' dsn-pw s3cr3t-dsn-pw');
  callback(new Error('db ' + configuration.DB_PASSWORD));
}`,
		"get_user": `function getUser(email, callback) { throw new Error('thrown ' + configuration.DB_PASSWORD); }`,
	}
	c := jsConnector(t, eng, "postgres://app:s3cr3t-dsn-pw@127.0.0.1:1/legacy", scripts, 4*time.Second, map[string]any{"DB_PASSWORD": "hunter2-secret"})
	ctx := context.Background()
	for _, op := range []string{"login", "get_user"} {
		out, err := c.Run(ctx, op, map[string]any{"email": "a@x.example", "password": "pw"})
		all := fmt.Sprint(out.Logs, out.Err, err)
		if strings.Contains(all, "hunter2-secret") || strings.Contains(all, "s3cr3t-dsn-pw") {
			t.Errorf("%s: a secret reached the logs or the error: %s", op, all)
		}
		if !strings.Contains(all, "[REDACTED]") {
			t.Errorf("%s: nothing redacted (did the script run?): %s", op, all)
		}
	}
}

// TestJSDBObject: scripts written for Authgraph use the global db (rows
// from db.query, {rowsAffected} from db.exec, callbacks or promises, the
// database's own placeholders) and the global bcrypt, against the real
// PostgreSQL and MariaDB.
func TestJSDBObject(t *testing.T) {
	eng := newEngine(t)
	scripts := map[string]string{
		"login": `function login(email, password, callback) {
  db.query('SELECT id, nickname, email, password FROM users WHERE email = $1', [email], function (err, rows) {
    if (err) return callback(err);
    if (rows.length === 0 || !bcrypt.compareSync(password, rows[0].password)) {
      return callback(new WrongUsernameOrPasswordError(email));
    }
    callback(null, { user_id: String(rows[0].id), nickname: rows[0].nickname, email: rows[0].email });
  });
}`,
		"get_user": `async function getUser(email, callback) {
  const rows = await db.query('SELECT id, nickname, email FROM users WHERE email = $1', [email]);
  callback(null, rows.length ? { user_id: String(rows[0].id), nickname: rows[0].nickname, email: rows[0].email } : null);
}`,
		"create": `async function create(user, callback) {
  const r = await db.exec('INSERT INTO users (email, password, nickname) VALUES ($1, $2, $3)',
    [user.email, bcrypt.hashSync(user.password, 10), user.email.split('@')[0]]);
  callback(r.rowsAffected === 1 ? null : new Error('not inserted: ' + JSON.stringify(r)));
}`,
		"verify": `async function verify(email, callback) {
  // Statements that are not a string, and parameters that are not an
  // array, are refused before reaching the database.
  for (const bad of [() => db.query(42), () => db.exec('UPDATE users SET nickname = $1', 'x')]) {
    try {
      await bad();
      return callback(new Error('a bad statement was accepted'));
    } catch (e) {
      if (!(e instanceof TypeError)) return callback(e);
    }
  }
  db.exec('UPDATE users SET email_verified = $1 WHERE email = $2', [true, email], (err, r) => callback(err, !!r && r.rowsAffected > 0));
}`,
		"change_password": `function changePassword(email, newPassword, callback) {
  db.exec('UPDATE users SET password = $1 WHERE email = $2', [bcrypt.hashSync(newPassword, 10), email])
    .then((r) => callback(null, r.rowsAffected > 0), callback);
}`,
		"change_email": `function changeEmail(email, newEmail, verified, callback) {
  db.exec('UPDATE users SET email = $1, email_verified = $2 WHERE email = $3', [newEmail, verified, email],
    (err, r) => callback(err, !!r && r.rowsAffected > 0));
}`,
		"delete": `function remove(id, callback) {
  db.exec('DELETE FROM users WHERE id = $1', [id], (err) => callback(err));
}`,
	}
	for name, mk := range legacies(t) {
		t.Run(name, func(t *testing.T) {
			leg := mk(t)
			own := map[string]string{}
			for op, src := range scripts {
				if leg.Flavor == "mysql" {
					src = regexp.MustCompile(`\$\d`).ReplaceAllString(src, "?")
				}
				own[op] = src
			}
			ctx := context.Background()
			for op, src := range own {
				if err := eng.ValidateScriptJavaScript(ctx, op, src); err != nil {
					t.Fatalf("%s: %v", op, err)
				}
			}
			c := jsConnector(t, eng, leg.DSN, own, 0, nil)
			ada := customdbtest.Seed[0]
			var ce *connectors.CredentialsError
			if id, err := c.Login(ctx, ada.Email, ada.Password); err != nil || id.UserID != "1" || id.Nickname != "ada" {
				t.Fatalf("login: %+v %v", id, err)
			}
			for _, try := range [][2]string{{ada.Email, "wrong"}, {"nobody@legacy.example", "x"}, {"' OR '1'='1", "x"}} {
				if _, err := c.Login(ctx, try[0], try[1]); !errors.As(err, &ce) {
					t.Fatalf("login %q: %v", try[0], err)
				}
			}
			if got, err := c.GetUser(ctx, "alan@legacy.example"); err != nil || got == nil || got.UserID != "2" {
				t.Fatalf("GetUser: %+v %v", got, err)
			}
			if got, err := c.GetUser(ctx, "nobody@legacy.example"); err != nil || got != nil {
				t.Fatalf("GetUser unknown: %+v %v", got, err)
			}
			if err := c.Create(ctx, customdb.NewUser{Email: "grace@legacy.example", Password: "Cobol-1959!"}); err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := c.Create(ctx, customdb.NewUser{Email: "grace@legacy.example", Password: "x"}); !errors.Is(err, customdb.ErrScript) {
				t.Fatalf("duplicate create: %v", err)
			}
			grace, err := c.Login(ctx, "grace@legacy.example", "Cobol-1959!")
			if err != nil || grace.Nickname != "grace" {
				t.Fatalf("login after create: %+v %v", grace, err)
			}
			var verified bool
			if err := c.Verify(ctx, "grace@legacy.example"); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := leg.Admin.QueryRow("SELECT email_verified FROM users WHERE email = 'grace@legacy.example'").Scan(&verified); err != nil || !verified {
				t.Fatalf("after verify: %v %v", verified, err)
			}
			if ok, err := c.ChangePassword(ctx, "grace@legacy.example", "Nanosecond-30cm"); !ok || err != nil {
				t.Fatalf("change_password: %v %v", ok, err)
			}
			if _, err := c.Login(ctx, "grace@legacy.example", "Cobol-1959!"); !errors.As(err, &ce) {
				t.Fatalf("old password still works: %v", err)
			}
			if ok, err := c.ChangeEmail(ctx, "grace@legacy.example", "hopper@legacy.example", false); !ok || err != nil {
				t.Fatalf("change_email: %v %v", ok, err)
			}
			hopper, err := c.Login(ctx, "hopper@legacy.example", "Nanosecond-30cm")
			if err != nil || hopper.UserID != grace.UserID {
				t.Fatalf("login after change_email: %+v %v", hopper, err)
			}
			if err := c.Delete(ctx, hopper.FullUserID()); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if n := leg.Count(t); n != len(customdbtest.Seed) {
				t.Fatalf("users at the end: %d", n)
			}
		})
	}
}
