// Package manage is the shape every management write shares, whatever the
// transport (GraphQL, the REST API v2, the CLI, import jobs): the caller's
// scope is checked before anything is looked up, the change runs in one
// transaction, and its audit entry (log type sapi) commits with it or not at
// all. The use cases themselves live in their domain packages (accounts,
// connections, clients, apis, rulesrun) and call Write; transports call the
// use case and map its typed errors.
package manage

import (
	"context"
	"errors"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/logs"
)

// Op describes one management write for its scope check and audit entry.
type Op struct {
	// Scope the caller must hold; checked before fn runs, so a caller
	// without it learns nothing about what exists.
	Scope string
	// Scopes the caller must also hold (Auth0 asks two for some writes:
	// assigning roles to a user needs update:users and create:role_members).
	Scopes []string
	// Operation names the write in the audit entry's details (the GraphQL
	// mutation name: createUser, rotateClientSecret…), whatever transport
	// called it, so one query over the log finds every instance.
	Operation string
	// Description is the audit entry's human-readable text.
	Description string
}

// Audit is what fn reports for the audit entry.
type Audit struct {
	// UserID is the user_id the write concerned, if any.
	UserID string
	// Description, when set, replaces Op.Description (it may name what fn
	// found: "Delete a connection corp-ldap").
	Description string
	// Skip: nothing was written (an idempotent no-op), so nothing is audited.
	Skip bool
}

// Write checks op.Scope, then runs fn in a transaction (or in the caller's
// when ctx or db already carries one) and records the audit entry in it.
func Write(ctx context.Context, db *ent.Client, op Op, fn func(tx *ent.Client) (Audit, error)) error {
	v := authz.FromContext(ctx)
	for _, s := range append([]string{op.Scope}, op.Scopes...) {
		if s != "" && !v.HasScope(s) {
			return &authz.ScopeError{Scope: s}
		}
	}
	return InTx(ctx, db, func(tx *ent.Client) error {
		a, err := fn(tx)
		if err != nil || a.Skip {
			return err
		}
		desc := op.Description
		if a.Description != "" {
			desc = a.Description
		}
		return logs.Write(ctx, tx, auditEvent(ctx, op.Operation, desc, a.UserID))
	})
}

// auditEvent is the sapi entry of one management write.
func auditEvent(ctx context.Context, operation, description, userID string) logs.Event {
	e := logs.Event{
		Type:        logs.TypeManagementWrite,
		Description: description,
		UserID:      userID,
		Details:     map[string]any{"operation": operation},
	}
	if v := authz.FromContext(ctx); v != nil {
		e.ClientID = v.ClientID
	}
	return e
}

// InTx runs fn in a new transaction, or in the one the caller already
// holds: a transactional db, or an ent transaction in ctx (a GraphQL
// operation whose other fields share one).
func InTx(ctx context.Context, db *ent.Client, fn func(tx *ent.Client) error) error {
	if tx := ent.TxFromContext(ctx); tx != nil {
		return fn(tx.Client())
	}
	tx, err := db.Tx(authz.SystemContext(ctx))
	if errors.Is(err, ent.ErrTxStarted) || (err != nil && err.Error() == ent.ErrTxStarted.Error()) {
		return fn(db) // db is a transaction's client
	}
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
