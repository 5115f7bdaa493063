package identity

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/store"
)

// captureDriver records the statements ent sends, with their arguments.
type captureDriver struct {
	*entsql.Driver
	mu   sync.Mutex
	last struct {
		query string
		args  []any
	}
}

func (d *captureDriver) Query(ctx context.Context, query string, args, v any) error {
	d.mu.Lock()
	d.last.query, d.last.args = query, args.([]any)
	d.mu.Unlock()
	return d.Driver.Query(ctx, query, args, v)
}

// seedExplainUsers fills users with n rows of a plausible shape: a few
// large email domains and many small ones, names from common first and
// last names, mostly-free plans, login counts that fall off fast, sign-ups
// spread over eight years in id order.
func seedExplainUsers(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		`SELECT setseed(0.42)`,
		fmt.Sprintf(`INSERT INTO users (id, user_id, email, email_verified, username, phone_verified, name, given_name, family_name,
			nickname, blocked, user_metadata, app_metadata, logins_count, created_at, updated_at, last_login)
		SELECT 'usr_' || lpad(g::text, 26, '0'), 'auth0|' || g,
			lower(f.first) || '.' || g || '@' || CASE WHEN g %% 10 < 3 THEN 'gmail.com' WHEN g %% 10 = 3 THEN 'outlook.com'
				WHEN g %% 997 = 0 THEN 'example.com' ELSE 'company' || (g %% 997) || '.com' END,
			g %% 3 > 0, 'user' || g, false, f.first || ' ' || l.last, f.first, l.last, lower(f.first) || g, g %% 500 = 0,
			jsonb_build_object('lang', (ARRAY['en','fr','de','es'])[1 + g %% 4]),
			jsonb_build_object('plan', CASE WHEN r < 0.005 THEN 'enterprise' WHEN r < 0.02 THEN 'gold' WHEN r < 0.1 THEN 'pro' ELSE 'free' END,
				'tags', CASE WHEN g %% 500 = 0 THEN '["admin","beta"]'::jsonb WHEN g %% 5 = 0 THEN '["beta"]'::jsonb ELSE '[]'::jsonb END,
				'orgs', jsonb_build_array(jsonb_build_object('id', g %% 1000))),
			floor(-ln(1 - random()) * 2)::int,
			ts, ts + interval '30 days', CASE WHEN g %% 4 = 0 THEN NULL ELSE ts + interval '60 days' END
		FROM generate_series(1, %d) g,
			LATERAL (SELECT random() AS r, timestamptz '2019-01-01' + (g * interval '8 years') / %d AS ts) x,
			LATERAL (SELECT (ARRAY['James','Mary','John','Patricia','Robert','Jennifer','Michael','Linda','William','Elizabeth',
				'David','Barbara','Richard','Susan','Joseph','Jessica','Thomas','Sarah','Charles','Karen','Christopher','Nancy',
				'Daniel','Lisa','Matthew','Betty','Anthony','Margaret','Mark','Sandra','Joan','Jordan','Paul','Ashley','Steven',
				'Kimberly','Andrew','Emily','Kenneth','Donna'])[1 + (g * 7) %% 40] AS first) f,
			LATERAL (SELECT (ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez',
				'Hernandez','Lopez','Gonzalez','Wells','Anderson','Thomas','Taylor','Moore','Jacobs','Martin','Lee','Perez',
				'Thornton','White','Harris','Sanchez','Clark','Ramirez','Lewis','Robles','Walker','Young','Allen','King',
				'Wright','Scott','Torres','Nguyen','Hill','Flores','Green','Adams','Nelson','Baker','Hall','Rivera','Campbell',
				'Mitchell','Carter','Roberts','Gomez','Phillips','Evans','Turner','Diaz','Parker','Cruz','Edwards','Collins',
				'Reyes','Stewart','Morris','Morales','Murphy','Cook','Rogers','Gutierrez','Ortiz','Morgan','Cooper','Petit',
				'Bailey','Reed','Kelly','Howard','Ramos','Kim','Cox','Ward','Richards','Walsh','Brooks','Chavez','Wood',
				'James','Bennett','Gray','Mendoza','Ruiz','Hughes','Price','Alvarez','Castillo','Sanders','Patel','Myers',
				'Long','Ross','Foster','Jimenez'])[1 + (g * 13) %% 100] AS last) l`, n, n),
		`ANALYZE users`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
}

var placeholder = regexp.MustCompile(`\$\d+`)

// sqlLiteral is a Postgres literal of an argument ent bound.
func sqlLiteral(t *testing.T, a any) string {
	switch v := a.(type) {
	case string:
		return pq.QuoteLiteral(v)
	case int, int64:
		return fmt.Sprint(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return pq.QuoteLiteral(v.Format(time.RFC3339Nano))
	}
	t.Fatalf("no literal for %T", a)
	return ""
}

// TestSearchPlans: on a 20,000-user Postgres table every common query shape
// is served by its index, both with the values inline (a custom plan) and
// as a prepared statement forced to a generic plan, which is what the
// statement cache runs once Postgres stops re-planning per value. Each is
// checked as ent sends it, alone and as a users connection page (ORDER BY
// id LIMIT n).
func TestSearchPlans(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	db, err := store.Open(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	seedExplainUsers(t, db.SQL, 20000)
	t.Logf("database and migration %v, 20,000 users %v", t1.Sub(t0), time.Since(t1))
	drv := &captureDriver{Driver: entsql.OpenDB(dialect.Postgres, db.SQL)}
	client := ent.NewClient(ent.Driver(drv))
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	explain := func(q string) string {
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		return strings.Join(lines, "\n")
	}
	for _, tc := range []struct {
		q       string
		indexes []string // one of them must appear in the plan
	}{
		{`email:jane.7@example.com`, []string{"users_lower_email"}},
		{`email.domain:company42.com`, []string{"users_email_domain"}},
		{`email:*@example.com`, []string{"users_email_domain"}},
		{`name:jo*`, []string{"users_lower_name"}},
		{`name:*son`, []string{"users_reverse_name"}},
		{`family_name:*son`, []string{"users_reverse_family_name"}},
		{`email:*n.7@example.com`, []string{"users_reverse_email"}},
		{`app_metadata.plan:enterprise`, []string{"users_app_metadata_path"}},
		{`app_metadata.tags:admin`, []string{"users_app_metadata_path"}},
		{`app_metadata.plan:enterprise AND name:jo*`, []string{"users_app_metadata_path", "users_lower_name"}},
		{`email:*@example.com AND app_metadata.plan:gold`, []string{"users_email_domain"}},
		{`logins_count:[10 TO *]`, []string{"users_logins_count_id"}},
		{`created_at:[2026-01 TO 2026-06]`, []string{"users_created_at_id", "user_created_at"}},
		{`created_at:[2026-06 TO *]`, []string{"users_created_at_id", "user_created_at"}},
		{`last_login:[* TO 2019-02}`, []string{"users_last_login_id"}},
		{`username:user123*`, []string{"users_username_pattern"}},
	} {
		t.Run(tc.q, func(t *testing.T) {
			pred, err := Search(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			for _, shape := range []struct {
				name string
				run  func() error
			}{
				{"query", func() error { _, err := client.User.Query().Where(pred).All(sysCtx); return err }},
				{"page", func() error {
					_, err := client.User.Query().Where(pred).Order(user.ByID()).Limit(51).All(sysCtx)
					return err
				}},
			} {
				if err := shape.run(); err != nil {
					t.Fatal(err)
				}
				query, args := drv.last.query, drv.last.args
				lits := make([]string, len(args))
				for i, a := range args {
					lits[i] = sqlLiteral(t, a)
				}
				inline := placeholder.ReplaceAllStringFunc(query, func(p string) string {
					n, _ := strconv.Atoi(p[1:])
					return lits[n-1]
				})
				plans := map[string]string{"custom": explain("EXPLAIN " + inline)}
				if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.ExecContext(ctx, "PREPARE search_plan AS "+query); err != nil {
					t.Fatalf("%v\n%s", err, query)
				}
				exec := "EXPLAIN EXECUTE search_plan"
				if len(lits) > 0 {
					exec += "(" + strings.Join(lits, ", ") + ")"
				}
				plans["generic"] = explain(exec)
				for _, q := range []string{"DEALLOCATE search_plan", "RESET plan_cache_mode"} {
					if _, err := conn.ExecContext(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
				want := tc.indexes
				if shape.name == "page" {
					// A page may instead walk the primary key in id order
					// and stop after n matches, when the planner expects
					// them to be dense.
					want = append(slices.Clone(want), "users_pkey")
				}
				for kind, plan := range plans {
					uses := false
					for _, ix := range want {
						uses = uses || regexp.MustCompile(`\b(on|using) `+ix+`\b`).MatchString(plan)
					}
					t.Logf("%s %s: %s", shape.name, kind, strings.Join(regexp.MustCompile(`(Index Scan|Index Only Scan|Bitmap Index Scan|Seq Scan) (using|on) \w+`).FindAllString(plan, -1), ", "))
					if !uses || strings.Contains(plan, "Seq Scan on users") {
						t.Errorf("%s, %s plan does not use %v without a sequential scan:\n%s\n%s", shape.name, kind, tc.indexes, query, plan)
					}
				}
			}
		})
	}
}
