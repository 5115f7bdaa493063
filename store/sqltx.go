package store

import (
	"context"
	"database/sql"
)

// Some bulk paths need the database/sql transaction behind an ent
// transaction: Postgres's COPY (lib/pq's CopyIn) is a prepared statement
// on the transaction's own connection, which ent does not expose. A
// context from CaptureTx, given to Client.Tx of a client Open made, records
// the *sql.Tx that transaction runs on.

type txCaptureKey struct{}

// CapturedTx holds the *sql.Tx of the transaction begun with its context.
type CapturedTx struct{ tx *sql.Tx }

// Tx is the transaction recorded (nil when the client was not made by
// Open, or no transaction was begun with the context).
func (c *CapturedTx) Tx() *sql.Tx { return c.tx }

// CaptureTx returns a context that records, in the CapturedTx, the *sql.Tx
// of the next transaction begun with it.
func CaptureTx(ctx context.Context) (context.Context, *CapturedTx) {
	c := &CapturedTx{}
	return context.WithValue(ctx, txCaptureKey{}, c), c
}

func captured(ctx context.Context, tx *sql.Tx) {
	if c, ok := ctx.Value(txCaptureKey{}).(*CapturedTx); ok {
		c.tx = tx
	}
}
