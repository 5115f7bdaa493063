// Package accounts holds the user-management use cases: create, update,
// delete, link and unlink users, tickets and brute-force blocks. Each opens
// its own transaction (manage.Write), checks the caller's scope and control
// of the target, runs a custom database's scripts where one is involved,
// stores, revokes and audits. GraphQL resolvers, the REST API v2 and the
// CLI call these and only map their typed errors.
package accounts

import (
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/ent"
)

// Service runs the user use cases.
type Service struct {
	DB *ent.Client
	// Auth changes passwords, issues tickets and keeps brute-force counters.
	Auth *dbauth.Service
	// Upstream runs custom-database scripts (nil: no custom databases).
	Upstream *upstream.Service
}
