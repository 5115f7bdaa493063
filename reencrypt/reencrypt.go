// Package reencrypt re-seals every secret stored sealed with the master key
// under the current (first) key of a secretbox.Box, so that the previous
// keys can be dropped from AUTHGRAPH_MASTER_KEY (docs/SECURITY.md, Key
// rotation).
//
// It walks each kind of sealed value in primary-key order, in batches, one
// transaction per batch. A value the current key already sealed is left
// alone, so a run that was interrupted is simply run again. Each row is
// written with a conditional update on the sealed value it read: a value the
// running server replaced meanwhile (sealed with the current key, since
// servers run with the new key first) is kept, never overwritten.
package reencrypt

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/authgraph/authgraph/secretbox"
)

// DefaultBatchSize is how many rows one transaction re-seals.
const DefaultBatchSize = 500

// kind is one sealed column: how to read a batch and what associated data
// each value was sealed with (the same as the code that seals it).
type kind struct {
	name   string
	table  string
	column string
	// query selects id, the sealed value and the AD parts, after id $1,
	// limit $2.
	query string
	ad    func(id string, parts []string) string
}

// kinds are every secret sealed at rest. Short-lived upstream login state
// (upstream_states, minutes) is not re-sealed: it expires before the
// previous key is dropped.
var kinds = []kind{
	{name: "connection secrets", table: "connections", column: "secrets_sealed",
		query: `SELECT id, secrets_sealed, name FROM connections WHERE secrets_sealed IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`,
		ad:    func(_ string, p []string) string { return "connection-secrets:" + p[0] }},
	{name: "rule secrets", table: "rules", column: "secrets_sealed",
		query: `SELECT id, secrets_sealed FROM rules WHERE secrets_sealed IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`,
		ad:    func(id string, _ []string) string { return "rule-secrets:" + id }},
	{name: "signing keys", table: "signing_keys", column: "private_sealed",
		query: `SELECT id, private_sealed, kid FROM signing_keys WHERE id > $1 ORDER BY id LIMIT $2`,
		ad:    func(_ string, p []string) string { return "signing_key:" + p[0] }},
	{name: "TOTP seeds", table: "authenticators", column: "secret_sealed",
		query: `SELECT id, secret_sealed, user_ref FROM authenticators WHERE secret_sealed IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`,
		ad:    func(id string, p []string) string { return "authenticator:" + id + ":user:" + p[0] }},
	{name: "upstream tokens", table: "identities", column: "tokens_sealed",
		query: `SELECT i.id, i.tokens_sealed, c.name, i.upstream_id FROM identities i JOIN connections c ON c.id = i.connection_id
			WHERE i.tokens_sealed IS NOT NULL AND i.id > $1 ORDER BY i.id LIMIT $2`,
		ad: func(_ string, p []string) string { return "identity-tokens:" + p[0] + "|" + p[1] }},
}

// Counts are one kind's figures.
type Counts struct {
	Kind string
	// Resealed values were sealed with a previous key and now with the
	// current one; Current were already; Changed were replaced by the
	// server between the read and the write (left as the server wrote them).
	Resealed, Current, Changed int
}

// Options tune a run.
type Options struct {
	// BatchSize is the rows per transaction (default DefaultBatchSize).
	BatchSize int
	// Progress, when set, is called after each batch with the kind's
	// running counts.
	Progress func(Counts)
}

// ErrUnopenable is returned when no key of the box opens a stored value: a
// key is missing from the list.
var ErrUnopenable = errors.New("a sealed value opens with none of the master keys")

// Run re-seals every kind under box's current key. db is the database
// (dialect dialect.Postgres or dialect.SQLite). On error (or ctx ending) the
// batches already committed stay done; run it again to continue.
func Run(ctx context.Context, db *sql.DB, dia string, box *secretbox.Box, opts Options) ([]Counts, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	var out []Counts
	for _, k := range kinds {
		c, err := runKind(ctx, db, dia, box, k, opts)
		out = append(out, c)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// row is one read value.
type row struct {
	id     string
	sealed []byte
	ad     string
}

func runKind(ctx context.Context, db *sql.DB, dia string, box *secretbox.Box, k kind, opts Options) (Counts, error) {
	c := Counts{Kind: k.name}
	update := fmt.Sprintf("UPDATE %s SET %s = $1 WHERE id = $2 AND %s = $3", k.table, k.column, k.column)
	query := k.query
	if dia != dialect.Postgres {
		query, update = positional(query), positional(update)
	}
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		rows, err := readBatch(ctx, db, query, after, opts.BatchSize, k)
		if err != nil {
			return c, fmt.Errorf("%s: reading: %w", k.name, err)
		}
		if len(rows) == 0 {
			return c, nil
		}
		if err := writeBatch(ctx, db, update, box, rows, &c); err != nil {
			return c, fmt.Errorf("%s: %w", k.name, err)
		}
		after = rows[len(rows)-1].id
		if opts.Progress != nil {
			opts.Progress(c)
		}
		if len(rows) < opts.BatchSize {
			return c, nil
		}
	}
}

func readBatch(ctx context.Context, db *sql.DB, query, after string, limit int, k kind) ([]row, error) {
	rs, err := db.QueryContext(ctx, query, after, limit)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	var out []row
	for rs.Next() {
		var r row
		parts := make([]string, len(cols)-2)
		dest := []any{&r.id, &r.sealed}
		for i := range parts {
			dest = append(dest, &parts[i])
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, err
		}
		r.ad = k.ad(r.id, parts)
		out = append(out, r)
	}
	return out, rs.Err()
}

// writeBatch re-seals a batch in one transaction. A row is updated only if
// it still holds the value read (the server may have written a new one).
func writeBatch(ctx context.Context, db *sql.DB, update string, box *secretbox.Box, rows []row, c *Counts) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	var resealed, current, changed int
	for _, r := range rows {
		if len(r.sealed) == 0 {
			current++ // an empty column: nothing sealed
			continue
		}
		out, did, err := box.Reseal(r.sealed, r.ad)
		if errors.Is(err, secretbox.ErrOpen) {
			return fmt.Errorf("row %s: %w", r.id, ErrUnopenable)
		}
		if err != nil {
			return err
		}
		if !did {
			current++
			continue
		}
		res, err := tx.ExecContext(ctx, update, out, r.id, r.sealed)
		if err != nil {
			return fmt.Errorf("row %s: %w", r.id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			resealed++
		} else {
			changed++
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	c.Resealed += resealed
	c.Current += current
	c.Changed += changed
	return nil
}

// positional turns $n placeholders into SQLite's ?n.
func positional(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(q[i+1 : j])
			b.WriteString("?" + strconv.Itoa(n))
			i = j - 1
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
