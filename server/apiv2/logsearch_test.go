package apiv2

import (
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// logSearchSQL renders q's predicate for a dialect.
func logSearchSQL(t testing.TB, q, dia string) (string, []any, error) {
	p, err := parseLogSearch(q)
	if err != nil || p == nil {
		return "", nil, err
	}
	sel := sql.Dialect(dia).Select("*").From(sql.Table("log_events"))
	p(sel)
	query, args := sel.Query()
	return query, args, nil
}

func TestLogSearchSQL(t *testing.T) {
	for q, want := range map[string]string{
		`type:fp`:                               "`type` = ?",
		`type:fp type:f`:                        ` OR `,
		`type:fp AND NOT user_id:"auth0|a b"`:   `NOT (`,
		`user_name:Jane*`:                       `substr(`,
		`description:"Wrong email"`:             `instr(`,
		`date:[2026-01-01 TO 2026-01-31}`:       "`date` >= ?",
		`log_id:{log_01 TO *]`:                  "`id` > ?",
		`(type:s OR type:f) AND client_id:abc`:  ` AND `,
		`connection_id:*`:                       `IS NOT NULL`,
		`ip:192.0.2.1 || user_agent:"curl/8.0"`: ` OR `,
	} {
		query, _, err := logSearchSQL(t, q, dialect.SQLite)
		if err != nil || !strings.Contains(query, want) {
			t.Errorf("%s: %s (%v), want %q in it", q, query, err, want)
		}
	}
	if query, _, _ := logSearchSQL(t, `description:"x"`, dialect.Postgres); !strings.Contains(query, "strpos(") {
		t.Errorf("postgres contains: %s", query)
	}
	if _, args, _ := logSearchSQL(t, `user_id:"a \"quoted\" \\ id"`, dialect.SQLite); len(args) != 1 || args[0] != `a "quoted" \ id` {
		t.Errorf("escapes: %q", args)
	}
}

// TestLogSearchBounds: a search's cost is bounded in terms, unindexed
// terms and nesting, NOT included; the limits themselves are accepted.
func TestLogSearchBounds(t *testing.T) {
	terms := func(n int, term string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = term
		}
		return strings.Join(parts, " OR ")
	}
	for q, ok := range map[string]bool{
		terms(maxLogTerms, "type:s"):                                 true,
		terms(maxLogTerms+1, "type:s"):                               false,
		terms(maxLogScanTerms, "user_name:a*"):                       true,
		terms(maxLogScanTerms+1, "user_name:a*"):                     false,
		terms(maxLogScanTerms+1, `description:"x"`):                  false,
		strings.Repeat("NOT ", maxLogDepth) + "type:s":               true,
		strings.Repeat("! ", 200) + "type:s":                         false,
		strings.Repeat("(", 40) + "type:s" + strings.Repeat(")", 40): false,
	} {
		if _, err := parseLogSearch(q); (err == nil) != ok {
			t.Errorf("%.60s…: %v, want accepted %v", q, err, ok)
		}
	}
}

// FuzzLogSearch: any q either parses into a predicate that renders on both
// dialects, or is refused; nothing panics.
func FuzzLogSearch(f *testing.F) {
	for _, s := range []string{`type:fp`, `type:fp AND (user_id:"auth0|x" OR NOT ip:1.2.3.4)`, `date:[2026-01-01 TO *}`,
		`user_name:ab*`, `description:"a\"b"`, `((`, `type:"`, `log_id:[a TO b]`, `date:{2026-01-01T00:00:00Z TO 2026-02-01]`,
		`a:b:c`, `NOT NOT type:s`, `type:\*`, `!type:s && type:f || type:fp`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, dia := range []string{dialect.SQLite, dialect.Postgres} {
			query, args, err := logSearchSQL(t, q, dia)
			if err != nil {
				return
			}
			if query != "" && strings.Count(query, "?")+strings.Count(query, "$") < len(args) {
				t.Fatalf("%s: %d args for %s", q, len(args), query)
			}
		}
	})
}
