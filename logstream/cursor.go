package logstream

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// The stream's cursor and lease live in one small table that this package
// creates itself with plain SQL (the same statement on SQLite and
// Postgres), outside the versioned schema: it is the stream's own
// bookkeeping, not tenant data, and exists only where a stream was
// configured.
//
// One row per stream: last_id is the last event the receiver acknowledged;
// holder and lease_until (Unix milliseconds) say which node streams. A node
// claims the row when it is free or its lease lapsed, renews it before each
// delivery, and moves the cursor only while it still holds the lease, so
// with several nodes exactly one streams at a time, and a restart or
// another node continues after the last acknowledged event: delivery is at
// least once (a batch acknowledged by the receiver but whose cursor update
// was lost is sent again), never with a gap.
const createTable = `CREATE TABLE IF NOT EXISTS log_stream_cursors (
	name VARCHAR(64) PRIMARY KEY,
	last_id VARCHAR(64) NOT NULL,
	holder VARCHAR(200) NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0
)`

func (s *Streamer) rebind(q string) string {
	if !s.c.DB.Postgres() {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Streamer) ensureTable(ctx context.Context) error {
	if _, err := s.c.DB.SQL.ExecContext(ctx, createTable); err != nil {
		return err
	}
	start := s.c.StartAt
	if start.IsZero() {
		start = time.Now()
	}
	_, err := s.c.DB.SQL.ExecContext(ctx, s.rebind(
		`INSERT INTO log_stream_cursors (name, last_id) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
		s.c.Name, IDAt(start))
	return err
}

// claim takes or renews the lease and returns the cursor; ok is false
// while another node holds the stream.
func (s *Streamer) claim(ctx context.Context) (cursor string, ok bool, err error) {
	ok, err = s.renew(ctx)
	if err != nil || !ok {
		return "", ok, err
	}
	err = s.c.DB.SQL.QueryRowContext(ctx, s.rebind(`SELECT last_id FROM log_stream_cursors WHERE name = ?`), s.c.Name).Scan(&cursor)
	return cursor, err == nil, err
}

// renew extends this node's lease, taking the stream when it is free.
func (s *Streamer) renew(ctx context.Context) (bool, error) {
	now := time.Now()
	res, err := s.c.DB.SQL.ExecContext(ctx, s.rebind(
		`UPDATE log_stream_cursors SET holder = ?, lease_until = ? WHERE name = ? AND (holder = ? OR lease_until < ?)`),
		s.c.Holder, now.Add(s.c.Lease).UnixMilli(), s.c.Name, s.c.Holder, now.UnixMilli())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// advance moves the cursor to id, only while this node holds the stream.
func (s *Streamer) advance(ctx context.Context, id string) error {
	res, err := s.c.DB.SQL.ExecContext(ctx, s.rebind(
		`UPDATE log_stream_cursors SET last_id = ? WHERE name = ? AND holder = ? AND last_id < ?`),
		id, s.c.Name, s.c.Holder, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errLeaseLost
	}
	return nil
}

// release frees the lease at exit, so another node takes over at once.
func (s *Streamer) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = s.c.DB.SQL.ExecContext(ctx, s.rebind(
		`UPDATE log_stream_cursors SET holder = '', lease_until = 0 WHERE name = ? AND holder = ?`), s.c.Name, s.c.Holder)
}

// Cursor returns the stream's last acknowledged event id ("" before the
// stream first ran).
func Cursor(ctx context.Context, s *Streamer) (string, error) {
	var id string
	err := s.c.DB.SQL.QueryRowContext(ctx, s.rebind(`SELECT last_id FROM log_stream_cursors WHERE name = ?`), s.c.Name).Scan(&id)
	return id, err
}
