package userlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"entgo.io/ent/dialect/sql"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/user"
	"github.com/authgraph/authgraph/store"
)

// ExactCountBound is how many users a count counts exactly; beyond it,
// Postgres answers the planner's estimate (counting 100,000 filtered rows
// costs ten times the page they are counted for). SQLite counts exactly.
const ExactCountBound = 10_000

// Count is the number of users q matches: exact up to bound, beyond it on
// Postgres an estimate (estimate true, and never below bound+1).
func Count(ctx context.Context, client *ent.Client, q *ent.UserQuery, bound int) (n int, estimate bool, err error) {
	// A count's statement is the search's, whose shapes are many: it is
	// planned with its values and kept out of the statement cache.
	ctx = store.Unprepared(ctx)
	db := store.Of(client)
	if !db.Postgres() {
		n, err := q.Clone().Count(ctx)
		return n, false, err
	}
	stmt, args, err := statement(ctx, q)
	if err != nil {
		return 0, false, err
	}
	// Reading at most bound+1 rows keeps an exact count as cheap as the
	// bound; the rows' columns are not needed, the subquery's plan drops them.
	if err := db.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (%s LIMIT %d) AS bounded", stmt, bound+1), args...).Scan(&n); err != nil {
		return 0, false, err
	}
	if n <= bound {
		return n, false, nil
	}
	est, err := estimateRows(ctx, db, stmt, args)
	if err != nil {
		return 0, false, err
	}
	return max(est, bound+1), true, nil
}

// errCaptured stops a query once its statement is built.
var errCaptured = errors.New("userlist: statement captured")

// statement returns the SQL of q (its filters, including those the privacy
// policy adds, selecting only the id) without running it. ent applies a
// query's order functions to the statement first and its filters after, and
// checks the statement for errors only then: an order function keeps the
// statement and marks it failed, so it is complete and never sent.
func statement(ctx context.Context, q *ent.UserQuery) (stmt string, args []any, err error) {
	var captured *sql.Selector
	c := q.Clone()
	c.Order(func(s *sql.Selector) {
		captured = s
		s.AddError(errCaptured)
	})
	// All, unlike IDs, checks the statement for errors before it runs.
	_, err = c.Select(user.FieldID).UserQuery.All(ctx)
	switch {
	case err != nil && captured != nil:
		// ent flattens the builder's errors into text: the capture is
		// known by the selector having been taken.
		stmt, args = captured.Query()
		return stmt, args, nil
	case err == nil:
		return "", nil, errors.New("userlist: the users query ran before its statement was captured")
	default:
		return "", nil, err
	}
}

// estimateRows asks Postgres how many rows stmt returns: the table's
// statistics when it is unfiltered, else the planner's estimate.
func estimateRows(ctx context.Context, db *store.DB, stmt string, args []any) (int, error) {
	if !strings.Contains(stmt, " WHERE ") {
		var tuples float64
		err := db.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'users'::regclass`).Scan(&tuples)
		if err != nil {
			return 0, err
		}
		if tuples >= 0 { // -1: never analyzed; the planner still guesses from its size
			return clamp(tuples), nil
		}
	}
	var plan string
	if err := db.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+stmt, args...).Scan(&plan); err != nil {
		return 0, err
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal([]byte(plan), &out); err != nil || len(out) == 0 {
		return 0, fmt.Errorf("userlist: reading the query plan: %v", err)
	}
	return clamp(out[0].Plan.Rows), nil
}

func clamp(f float64) int { return int(math.Min(math.Round(f), math.MaxInt32)) }
