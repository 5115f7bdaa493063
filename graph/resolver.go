package graph

import (
	"context"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/logs"
)

// Resolver is the root resolver; it holds the process-wide dependencies.
type Resolver struct {
	Ent         *ent.Client
	Connections *connections.Service
}

// db returns the transaction's client inside a mutation (entgql's
// Transactioner opens one per mutation operation) or the plain client.
func (r *Resolver) db(ctx context.Context) *ent.Client {
	if tx := ent.TxFromContext(ctx); tx != nil {
		return tx.Client()
	}
	return r.Ent
}

// audit records a successful management write (log type sapi) in the same
// transaction as the write itself.
func (r *Resolver) audit(ctx context.Context, operation, description, userID string) error {
	v := authz.FromContext(ctx)
	e := logs.Event{
		Type:        logs.TypeManagementWrite,
		Description: description,
		UserID:      userID,
		Details:     map[string]any{"operation": operation},
	}
	if v != nil {
		e.ClientID = v.ClientID
	}
	return logs.Write(ctx, r.db(ctx), e)
}
