package main

import (
	"testing"
	"time"
)

// TestPlanSummary checks the one-line plan the search table shows: the
// scans with their indexes, the sort, the time, the buffers, the plan kind.
func TestPlanSummary(t *testing.T) {
	plan := []string{
		"Limit  (cost=0.29..909.62 rows=51 width=69) (actual time=1.744..63.987 rows=20 loops=1)",
		"  Buffers: shared hit=960 read=12",
		"  ->  Sort  (cost=8.31..8.32 rows=1 width=69) (actual time=0.009..0.009 rows=1 loops=1)",
		"        Sort Method: top-N heapsort  Memory: 25kB",
		"        ->  Bitmap Heap Scan on users  (cost=1.0..2.0 rows=1 width=1)",
		"              ->  Bitmap Index Scan on users_name_trgm  (cost=1.0..2.0 rows=1 width=1)",
		"        ->  Index Scan using users_pkey on users  (cost=0.29..1783.29 rows=100 width=69)",
		"Execution Time: 64.023 ms",
		"(generic plan: 1 generic and 5 custom plans over 6 executions)",
	}
	want := "Bitmap Heap Scan users + Bitmap Index Scan users_name_trgm + Index Scan users_pkey, sort top-N heapsort  Memory: 25kB, 64.023 ms, shared hit=960 read=12, generic"
	if got := planSummary(plan); got != want {
		t.Fatalf("planSummary:\n got %s\nwant %s", got, want)
	}
}

// TestLiteral checks the SQL text of replayed arguments: quotes doubled,
// times with their zone, ids (string types) quoted.
func TestLiteral(t *testing.T) {
	type id string
	for _, c := range []struct {
		in   any
		want string
	}{
		{"o'neil%", `'o''neil%'`},
		{id("usr_01"), `'usr_01'`},
		{51, "51"},
		{true, "true"},
		{nil, "NULL"},
		{time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), `'2026-01-02 03:04:05.000006Z'`},
	} {
		if got, err := literal(c.in); err != nil || got != c.want {
			t.Errorf("literal(%#v) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
}
