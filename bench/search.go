package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgraph/authgraph/server"
	"github.com/authgraph/authgraph/store"
)

// The user-search scenario (make bench-search): user searches and deep
// keyset pages on a kept database of -users users, through the GraphQL API
// as the dashboard's user list pages them, and each shape's statement
// replayed under EXPLAIN (ANALYZE, BUFFERS).
var (
	searchDB     = flag.String("search-db", "postgres://postgres@127.0.0.1:5432/authgraph_bench_1m?sslmode=disable", "with -scenario search: the database, created and seeded when missing and kept between runs")
	searchUsers  = flag.Int("users", 1_000_000, "with -scenario search: users in the database (an empty one is seeded; another count needs -reseed)")
	searchSeed   = flag.Uint64("seed-value", 1, "with -scenario search: the seed of the generated users")
	reseed       = flag.Bool("reseed", false, "with -scenario search: replace every user with freshly generated ones")
	searchReqs   = flag.Int("requests", 200, "with -scenario search: measured requests per shape")
	searchWarm   = flag.Int("warmup", 20, "with -scenario search: unmeasured requests per shape first")
	searchShapes = flag.String("shapes", "", "with -scenario search: comma-separated shape names to run (default all)")
	searchMig    = flag.Bool("migrate", false, "with -scenario search: apply pending migrations first, timing each index they build")
	searchPage   = flag.Int("page", 500, "with -scenario search: the keyset page measured (pages of 100)")
	searchLabel  = flag.String("label", "", "with -scenario search: a name for this run in the report (e.g. before, after)")
	searchPlans  = flag.Bool("plans", true, "with -scenario search: EXPLAIN (ANALYZE, BUFFERS) each shape's statement")
)

// benchMasterKey seals the kept database's secrets (signing keys): it must
// stay the same between runs. A bench database holds nothing secret.
const benchMasterKey = "YXV0aGdyYXBoLWJlbmNoLW1hc3Rlci1rZXktMDEyMzQ="

// searchShape is one kind of search: target is its p95 goal.
type searchShape struct {
	name   string
	target time.Duration
	query  func(i int) string // the search for request i
	// order, when set, is the page's orderBy (default: the id order).
	order map[string]any
	// page, when set, makes the shape the keyset page walk instead.
	page bool
}

// pagerQuery is what a user list sends for one page of results: no
// totalCount, which costs a COUNT over every match.
const pagerQuery = `query($q: String) { users(first: 50, query: $q) { edges { node { id email name } } pageInfo { hasNextPage endCursor } } }`

// orderedPagerQuery is pagerQuery with an order.
const orderedPagerQuery = `query($q: String, $o: [UserOrder!]) { users(first: 50, query: $q, orderBy: $o) { edges { node { id email name } } pageInfo { hasNextPage endCursor } } }`

const (
	walkQuery = `query($after: Cursor) { users(first: 100, after: $after) { pageInfo { hasNextPage endCursor } } }`
	pageQuery = `query($after: Cursor) { users(first: 100, after: $after) { edges { node { id email name } } pageInfo { hasNextPage endCursor } } }`
)

func runSearch(conc int) error {
	ctx := context.Background()
	dsn := *searchDB
	created, err := ensureDatabase(ctx, dsn)
	if err != nil {
		return err
	}
	pg, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer pg.Close()
	pg.SetMaxOpenConns(4)

	fmt.Printf("## User search, %s\n\n", strings.TrimSpace(*searchLabel+" "+time.Now().UTC().Format("2006-01-02 15:04 UTC")))
	fmt.Printf("- machine: %s; load average at start: %s\n", machine(), loadAvgs())
	fmt.Printf("- binary schema version %d; database %s\n", store.LatestVersion(), redactURL(dsn))

	if !created {
		if err := migrateTimed(ctx, dsn, pg); err != nil {
			return err
		}
	}
	deps, c, stop, err := startServer(ctx, dsn, conc, benchMasterKey)
	if err != nil {
		return err
	}
	defer stop()
	c.http.Timeout = 2 * time.Minute

	var n int
	if err := pg.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return err
	}
	switch {
	case n == 0 || *reseed:
		fmt.Fprintf(os.Stderr, "seeding %d users…\n", *searchUsers)
		t0 := time.Now()
		if err := seedSearch(ctx, pg, *searchUsers, *searchSeed); err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
		seeded := time.Since(t0)
		t1 := time.Now()
		// VACUUM sets the visibility map (index-only scans) and hint bits,
		// as a database that has lived a while has them; ANALYZE the stats.
		if _, err := pg.ExecContext(ctx, `VACUUM (ANALYZE) users, identities`); err != nil {
			return err
		}
		fmt.Printf("- seeded %d users and identities with COPY in %s; VACUUM (ANALYZE) %s\n", *searchUsers,
			seeded.Round(100*time.Millisecond), time.Since(t1).Round(100*time.Millisecond))
		n = *searchUsers
	case n != *searchUsers:
		return fmt.Errorf("the database holds %d users, not %d: pass -reseed to replace them", n, *searchUsers)
	default:
		if _, err := pg.ExecContext(ctx, `ANALYZE users`); err != nil {
			return err
		}
	}
	var size, usersSize string
	_ = pg.QueryRowContext(ctx, `SELECT pg_size_pretty(pg_database_size(current_database())),
		pg_size_pretty(pg_total_relation_size('users'))`).Scan(&size, &usersSize)
	fmt.Printf("- %d users; database %s, users table with its indexes %s\n", n, size, usersSize)

	emails, domain, domainN, err := searchValues(ctx, pg)
	if err != nil {
		return err
	}
	fmt.Printf("- email.domain searches %s (%d users); email searches cycle through %d sampled addresses\n", domain, domainN, len(emails))
	printMatches(ctx, pg, domain)

	const searchTarget, pageTarget = 50 * time.Millisecond, 20 * time.Millisecond
	shapes := []searchShape{
		{name: "email exact", target: searchTarget, query: func(i int) string { return `email:"` + emails[i%len(emails)] + `"` }},
		{name: "email.domain", target: searchTarget, query: func(int) string { return "email.domain:" + domain }},
		{name: "name prefix", target: searchTarget, query: func(int) string { return "name:jo*" }},
		{name: "name suffix", target: searchTarget, query: func(int) string { return "name:*son" }},
		// Rare values, where the page must come from an index rather than
		// from walking the primary key.
		{name: "name prefix, rare", target: searchTarget, query: func(int) string { return "name:astr*" }},
		{name: "name suffix, rare", target: searchTarget, query: func(int) string { return "name:*sson" }},
		{name: "app_metadata", target: searchTarget, query: func(int) string { return "app_metadata.plan:enterprise" }},
		{name: "app_metadata AND name prefix", target: searchTarget, query: func(int) string { return "app_metadata.plan:enterprise AND name:jo*" }},
		{name: "logins_count range", target: searchTarget, query: func(int) string { return "logins_count:[10 TO *]" }},
		{name: "created_at range", target: searchTarget, query: func(int) string { return "created_at:[2026-01 TO 2026-06]" }},
		// Ids are ULIDs of the creation time: a created_at range is a
		// contiguous run of ids, which the planner does not know.
		{name: "created_at range, orderBy CREATED_AT", target: searchTarget, query: func(int) string { return "created_at:[2026-01 TO 2026-06]" },
			order: map[string]any{"field": "CREATED_AT", "direction": "ASC"}},
		{name: fmt.Sprintf("keyset page %d of 100", *searchPage), target: pageTarget, page: true},
	}
	var want []string
	if *searchShapes != "" {
		want = strings.Split(*searchShapes, ",")
	}
	var rows, plans []string
	for _, sh := range shapes {
		if want != nil && !slices.ContainsFunc(want, func(w string) bool { return w != "" && strings.HasPrefix(sh.name, w) }) {
			continue
		}
		fmt.Fprintf(os.Stderr, "shape %s…\n", sh.name)
		row, plan := measureShape(ctx, deps, c, pg, sh, conc)
		rows = append(rows, row)
		if plan != "" {
			plans = append(plans, plan)
		}
	}
	fmt.Printf("\n%d concurrent clients, %d measured requests per shape after %d unmeasured ones, GOMAXPROCS=%d, %s; load average at end: %s\n\n",
		conc, *searchReqs, *searchWarm, runtime.GOMAXPROCS(0), runtime.Version(), loadAvgs())
	fmt.Println("| shape | search | p50 | p95 | p99 | req/s | statements/req | p95 target | load (1 min) | plan of the server's statement (EXPLAIN ANALYZE) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---|---:|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
	if len(plans) > 0 {
		fmt.Println("\n### Plans\n\nEach shape's statement as the server sent it, prepared and run 5 times first (as on a server connection, where Postgres may switch to a generic plan), then under EXPLAIN (ANALYZE, BUFFERS).")
		for _, p := range plans {
			fmt.Println()
			fmt.Println(p)
		}
	}
	return nil
}

// measureShape measures one shape and returns its table row and its plan.
func measureShape(ctx context.Context, deps *server.Deps, c *client, pg *sql.DB, sh searchShape, conc int) (row, plan string) {
	var fn func(i int) error
	label := ""
	if sh.page {
		t0 := time.Now()
		cursor, err := walkTo(c, *searchPage-1)
		if err != nil {
			return fmt.Sprintf("| %s | | | | | | | %s | %s | failed: %s |", sh.name, ms0(sh.target), loadAvg(), cell(err.Error())), ""
		}
		fmt.Fprintf(os.Stderr, "  walked %d pages of 100 in %s\n", *searchPage-1, time.Since(t0).Round(time.Millisecond))
		label = "`after:` cursor of page " + strconv.Itoa(*searchPage-1)
		fn = func(int) error { return c.gql(pageQuery, map[string]any{"after": cursor}, nil) }
	} else {
		label = "`" + strings.ReplaceAll(sh.query(0), "|", `\|`) + "`"
		fn = func(i int) error { return c.gql(pagerQuery, map[string]any{"q": sh.query(i)}, nil) }
		if sh.order != nil {
			fn = func(i int) error {
				return c.gql(orderedPagerQuery, map[string]any{"q": sh.query(i), "o": []any{sh.order}}, nil)
			}
		}
	}
	if err := fn(0); err != nil {
		var ge *gqlError
		what := "failed"
		if errors.As(err, &ge) {
			what = "refused"
		}
		return fmt.Sprintf("| %s | %s | | | | | | %s | %s | %s: %s |", sh.name, label, ms0(sh.target), loadAvg(), what, cell(err.Error())), ""
	}
	loadN(*searchWarm, conc, fn)
	// The statements of one request, with their arguments, to replay.
	var mu sync.Mutex
	var stmts []traced
	deps.DB.TraceStatementArgs(func(q string, args []any, _ bool) {
		mu.Lock()
		stmts = append(stmts, traced{q, args})
		mu.Unlock()
	})
	err := fn(1)
	deps.DB.TraceStatementArgs(nil)
	if err != nil {
		return fmt.Sprintf("| %s | %s | | | | | | %s | %s | failed: %s |", sh.name, label, ms0(sh.target), loadAvg(), cell(err.Error())), ""
	}
	load0 := loadAvg()
	st0 := deps.DB.Stats().Statements
	r := loadN(*searchReqs, conc, fn)
	perReq := float64(deps.DB.Stats().Statements-st0) / float64(*searchReqs)
	met := "met"
	if r.p95 > sh.target || r.errors > 0 {
		met = "**missed**"
	}
	summary := ""
	if *searchPlans {
		var sums []string
		plan, sums = explainAll(ctx, pg, sh.name, label, stmts)
		summary = strings.Join(sums, "; ")
	}
	row = fmt.Sprintf("| %s | %s | %s | %s | %s | %.1f | %.1f | ≤ %s: %s | %s→%s | %s |", sh.name, label, ms(r.p50), ms(r.p95), ms(r.p99),
		r.rate, perReq, ms0(sh.target), met, load0, loadAvg(), cell(summary))
	if r.errors > 0 {
		row += fmt.Sprintf(" %d errors", r.errors)
	}
	return row, plan
}

// walkTo pages through the users 100 at a time and returns the end
// cursor of page n.
func walkTo(c *client, n int) (any, error) {
	var after any
	for range n {
		var out struct {
			Users struct {
				PageInfo struct {
					HasNextPage bool `json:"hasNextPage"`
					EndCursor   any  `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"users"`
		}
		if err := c.gql(walkQuery, map[string]any{"after": after}, &out); err != nil {
			return nil, err
		}
		if !out.Users.PageInfo.HasNextPage {
			return nil, fmt.Errorf("fewer than %d pages", n+1)
		}
		after = out.Users.PageInfo.EndCursor
	}
	return after, nil
}

type traced struct {
	query string
	args  []any
}

// stats is one shape's measurement.
type stats struct {
	p50, p95, p99 time.Duration
	rate          float64
	errors        int64
}

// loadN sends n requests from conc goroutines and reports their latency.
func loadN(n, conc int, fn func(i int) error) stats {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lat     []time.Duration
		errs    atomic.Int64
		counter atomic.Int64
	)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(counter.Add(1))
				if i > n {
					return
				}
				t0 := time.Now()
				if err := fn(i); err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "first error:", err)
					}
					continue
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	return stats{p50: percentile(lat, 0.50), p95: percentile(lat, 0.95), p99: percentile(lat, 0.99),
		rate: float64(len(lat)) / elapsed.Seconds(), errors: errs.Load()}
}

// explainAll replays the statements that read users under EXPLAIN and
// returns the plans as Markdown and a one-line summary of each.
func explainAll(ctx context.Context, pg *sql.DB, name, label string, stmts []traced) (string, []string) {
	var b strings.Builder
	var sums []string
	fmt.Fprintf(&b, "#### %s: %s\n", name, label)
	for _, st := range stmts {
		q := strings.TrimSpace(st.query)
		if !strings.HasPrefix(strings.ToUpper(q), "SELECT") || !strings.Contains(q, `"users"`) {
			continue
		}
		lines, err := explainStmt(ctx, pg, q, st.args)
		fmt.Fprintf(&b, "\n```sql\n%s\n-- %s\n```\n", q, argsComment(st.args))
		if err != nil {
			fmt.Fprintf(&b, "\nEXPLAIN failed: %v\n", err)
			sums = append(sums, "EXPLAIN failed")
			continue
		}
		fmt.Fprintf(&b, "\n```\n%s\n```\n", strings.Join(lines, "\n"))
		sums = append(sums, planSummary(lines))
	}
	return b.String(), sums
}

// explainStmt prepares q, runs it five times (after which Postgres may keep a
// generic plan, as it does for the server's prepared statements), then
// returns EXPLAIN (ANALYZE, BUFFERS) of one more execution, with a last line
// saying whether the plan was generic.
func explainStmt(ctx context.Context, pg *sql.DB, q string, args []any) ([]string, error) {
	conn, err := pg.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_, _ = conn.ExecContext(ctx, `DEALLOCATE ALL`)
	if _, err := conn.ExecContext(ctx, "PREPARE bench_q AS "+q); err != nil {
		return nil, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DEALLOCATE bench_q`) //nolint:errcheck
	exec := "EXECUTE bench_q"
	if len(args) > 0 {
		lits := make([]string, len(args))
		for i, a := range args {
			l, err := literal(a)
			if err != nil {
				return nil, err
			}
			lits[i] = l
		}
		exec += "(" + strings.Join(lits, ", ") + ")"
	}
	for range 5 {
		if _, err := conn.ExecContext(ctx, exec); err != nil {
			return nil, err
		}
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+exec)
	if err != nil {
		return nil, err
	}
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			rows.Close()
			return nil, err
		}
		lines = append(lines, l)
	}
	rows.Close()
	var generic, custom int64
	if err := conn.QueryRowContext(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'bench_q'`).
		Scan(&generic, &custom); err == nil {
		kind := "custom"
		if generic > 0 && custom <= 5 {
			kind = "generic"
		}
		lines = append(lines, fmt.Sprintf("(%s plan: %d generic and %d custom plans over 6 executions)", kind, generic, custom))
	}
	return lines, rows.Err()
}

var (
	scanRE = regexp.MustCompile(`(Parallel )?(Seq Scan|Index Only Scan|Index Scan Backward|Index Scan|Bitmap Index Scan|Bitmap Heap Scan)( using| on)? ("?[\w.]+"?)`)
	execRE = regexp.MustCompile(`Execution Time: ([\d.]+) ms`)
	bufRE  = regexp.MustCompile(`Buffers: (shared [^\n]*)`)
	kindRE = regexp.MustCompile(`^\((generic|custom) plan`)
	sortRE = regexp.MustCompile(`Sort Method: ([^\n]*)`)
)

// planSummary condenses a plan to its scans, sort, time and buffers.
func planSummary(lines []string) string {
	var scans []string
	var exec, buf, kind, sortM string
	for _, l := range lines {
		if m := scanRE.FindStringSubmatch(l); m != nil {
			s := m[1] + m[2] + " " + strings.Trim(m[4], `"`)
			if !slices.Contains(scans, s) {
				scans = append(scans, s)
			}
		}
		if m := execRE.FindStringSubmatch(l); m != nil {
			exec = m[1] + " ms"
		}
		if m := bufRE.FindStringSubmatch(l); m != nil && buf == "" {
			buf = m[1]
		}
		if m := sortRE.FindStringSubmatch(l); m != nil && sortM == "" {
			sortM = "sort " + m[1]
		}
		if m := kindRE.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			kind = m[1]
		}
	}
	parts := []string{strings.Join(scans, " + ")}
	if sortM != "" {
		parts = append(parts, sortM)
	}
	parts = append(parts, exec, buf, kind)
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), ", ")
}

// literal renders a statement argument as SQL text for EXECUTE.
func literal(a any) (string, error) {
	if v, ok := a.(driver.Valuer); ok {
		x, err := v.Value()
		if err != nil {
			return "", err
		}
		a = x
	}
	switch v := a.(type) {
	case nil:
		return "NULL", nil
	case time.Time:
		return quote(v.Format("2006-01-02 15:04:05.999999Z07:00")), nil
	case []byte:
		return quote(`\x` + fmt.Sprintf("%x", v)), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	rv := reflect.ValueOf(a)
	switch rv.Kind() {
	case reflect.String:
		return quote(rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64), nil
	}
	return "", fmt.Errorf("argument of type %T", a)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func argsComment(args []any) string {
	var parts []string
	for i, a := range args {
		l, err := literal(a)
		if err != nil {
			l = fmt.Sprintf("%v", a)
		}
		parts = append(parts, fmt.Sprintf("$%d = %s", i+1, l))
	}
	if len(parts) == 0 {
		return "no arguments"
	}
	return strings.Join(parts, ", ")
}

// searchValues picks what the searches look for: 200 existing addresses,
// and the company domain whose user count is nearest 1,000 (0.1 % of a
// million: an admin looking up one customer's staff).
func searchValues(ctx context.Context, pg *sql.DB) (emails []string, domain string, n int, err error) {
	rows, err := pg.QueryContext(ctx, `SELECT email FROM users TABLESAMPLE BERNOULLI (1) REPEATABLE (7) WHERE email IS NOT NULL LIMIT 200`)
	if err != nil {
		return nil, "", 0, err
	}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			rows.Close()
			return nil, "", 0, err
		}
		emails = append(emails, e)
	}
	rows.Close()
	if len(emails) == 0 {
		return nil, "", 0, errors.New("no users with an email")
	}
	err = pg.QueryRowContext(ctx, `SELECT split_part(email, '@', 2) AS d, count(*) FROM users
		GROUP BY 1 ORDER BY abs(count(*) - $1::int) LIMIT 1`, max(*searchUsers/1000, 1)).Scan(&domain, &n)
	return emails, domain, n, err
}

// printMatches reports how many users each search matches: the plans
// depend on it.
func printMatches(ctx context.Context, pg *sql.DB, domain string) {
	var jo, son, astr, sson, ent, entJo, logins, created int
	err := pg.QueryRowContext(ctx, `SELECT
		count(*) FILTER (WHERE lower(name) LIKE 'jo%'),
		count(*) FILTER (WHERE lower(name) LIKE '%son'),
		count(*) FILTER (WHERE lower(name) LIKE 'astr%'),
		count(*) FILTER (WHERE lower(name) LIKE '%sson'),
		count(*) FILTER (WHERE app_metadata->>'plan' = 'enterprise'),
		count(*) FILTER (WHERE app_metadata->>'plan' = 'enterprise' AND lower(name) LIKE 'jo%'),
		count(*) FILTER (WHERE logins_count >= 10),
		count(*) FILTER (WHERE created_at >= '2026-01-01' AND created_at < '2026-07-01')
		FROM users`).Scan(&jo, &son, &astr, &sson, &ent, &entJo, &logins, &created)
	if err != nil {
		fmt.Fprintln(os.Stderr, "counting matches:", err)
		return
	}
	fmt.Printf("- matches: name:jo* %d, name:*son %d, name:astr* %d, name:*sson %d, app_metadata.plan:enterprise %d, both enterprise and jo* %d, logins_count ≥ 10 %d, created 2026-01..2026-06 %d\n",
		jo, son, astr, sson, ent, entJo, logins, created)
}

// ensureDatabase creates the database of dsn when missing and says whether
// it did.
func ensureDatabase(ctx context.Context, dsn string) (bool, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return false, err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(name) {
		return false, fmt.Errorf("-search-db %q: name the database in lower case letters, digits and _", name)
	}
	u.Path = "/postgres"
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		return false, err
	}
	defer admin.Close()
	var exists bool
	if err := admin.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("connecting to Postgres: %w", err)
	}
	if exists {
		return false, nil
	}
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
	return err == nil, err
}

// migrateTimed applies pending migrations (with -migrate), reporting how
// long each index build took from Postgres' progress view, polled.
func migrateTimed(ctx context.Context, dsn string, pg *sql.DB) error {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Version(ctx)
	if err != nil || v >= store.LatestVersion() {
		return err
	}
	if !*searchMig {
		return fmt.Errorf("the database is at schema version %d, this binary's is %d: pass -migrate (timed) or use another -search-db", v, store.LatestVersion())
	}
	type build struct {
		first, last time.Time
		phases      []string
	}
	builds := map[string]*build{}
	var order []string
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			rows, err := pg.QueryContext(ctx, `SELECT index_relid::regclass::text, phase
				FROM pg_stat_progress_create_index WHERE datname = current_database() AND index_relid <> 0`)
			if err == nil {
				now := time.Now()
				for rows.Next() {
					var idx, phase string
					if rows.Scan(&idx, &phase) != nil {
						continue
					}
					b := builds[idx]
					if b == nil {
						b = &build{first: now}
						builds[idx] = b
						order = append(order, idx)
					}
					b.last = now
					if !slices.Contains(b.phases, phase) {
						b.phases = append(b.phases, phase)
					}
				}
				rows.Close()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	t0 := time.Now()
	var applied []int
	err = db.WithLock(ctx, func(ctx context.Context) error {
		var err error
		applied, err = db.Migrate(ctx)
		return err
	})
	total := time.Since(t0)
	close(done)
	wg.Wait()
	if err != nil {
		return err
	}
	fmt.Printf("- migrations %v applied in %s (on a database at version %d, load average %s)\n", applied, total.Round(100*time.Millisecond), v, loadAvgs())
	if len(order) > 0 {
		fmt.Printf("\n| index built | time (progress view, ±0.2 s) | size |\n|---|---:|---:|\n")
		for _, idx := range order {
			b := builds[idx]
			var size string
			_ = pg.QueryRowContext(ctx, `SELECT pg_size_pretty(pg_relation_size($1::regclass))`, idx).Scan(&size)
			fmt.Printf("| %s | %s | %s |\n", idx, b.last.Sub(b.first).Round(100*time.Millisecond), size)
		}
		fmt.Println()
	}
	return nil
}

func ms0(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "?"
	}
	return u.Redacted()
}

// loadAvgs is the 1, 5 and 15 minute load averages.
func loadAvgs() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine describes the CPU and memory.
func machine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			kb, _ := strconv.Atoi(f[1])
			mem = fmt.Sprintf(", %.0f GB RAM", float64(kb)/1024/1024)
		}
	}
	return fmt.Sprintf("%d × %s%s", runtime.NumCPU(), model, mem)
}
