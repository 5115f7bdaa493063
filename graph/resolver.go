package graph

import (
	"context"

	"github.com/authgraph/authgraph/accounts"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/bulkimport"
	"github.com/authgraph/authgraph/connections"
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/graph/model"
	"github.com/authgraph/authgraph/logs"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/rbac"
	"github.com/authgraph/authgraph/rulesrun"
)

// Resolver is the root resolver; it holds the process-wide dependencies.
type Resolver struct {
	Ent         *ent.Client
	Connections *connections.Service
	// Issuer is the OpenID issuer (the management API is {Issuer}api/v2/).
	Issuer string
	// Keys rotates token signing keys.
	Keys interface{ Rotate(context.Context) error }
	// Auth is the database connection's service (tickets, brute force).
	Auth *dbauth.Service
	// Rules stores, tests and runs post-login rules.
	Rules *rulesrun.Service
	// Upstream runs connections' connectors: testConnectionScript runs
	// custom-database scripts through it.
	Upstream *upstream.Service
	// Accounts runs the user use cases (create, update, delete, link,
	// unlink, tickets, unblock): their resolvers call it and nothing else.
	Accounts *accounts.Service
	// Imports creates and reads user import jobs.
	Imports *bulkimport.Service
	// MFA is the tenant's MFA settings and users' authenticators.
	MFA *mfa.Service
}

// rbac returns the RBAC use cases over the operation's transaction, if any:
// a mutation's answer (a role's permissions, a user's roles) must show its
// own uncommitted write.
func (r *Resolver) rbac(ctx context.Context) rbac.Manager {
	return rbac.Manager{DB: r.db(ctx), Issuer: r.Issuer}
}

// requireScope refuses a write before it looks anything up, so a caller
// without the scope learns nothing about what exists. ent privacy checks the
// same scopes again on every object the write touches.
func requireScope(ctx context.Context, scope string) error {
	if !authz.FromContext(ctx).HasScope(scope) {
		return &authz.ScopeError{Scope: scope}
	}
	return nil
}

// scopesInput converts GraphQL scope inputs to stored {value, description}.
func scopesInput(in []*model.ResourceServerScopeInput) []map[string]string {
	if in == nil {
		return nil
	}
	out := make([]map[string]string, 0, len(in))
	for _, s := range in {
		d := ""
		if v := s.Description.Value(); v != nil {
			d = *v
		}
		out = append(out, map[string]string{"value": s.Value, "description": d})
	}
	return out
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
