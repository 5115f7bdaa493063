// Package rbac is role-based access control for the APIs Authgraph protects:
// roles (named sets of permissions), permissions assigned to users directly
// or through roles, and client grants (which scopes of which API a machine
// client may obtain with client_credentials). A permission is a scope a
// resource server declares. The built-in management API takes no part: its
// powers are administrator grants (package admins) and a client's
// management_scopes, which this package presents as a client grant.
//
// Writes are use cases through manage.Write (scope, one transaction, audit
// entry); reads check their scopes and read in the system context, since the
// assignment tables are closed to every token (authz.SystemOnly).
package rbac

import (
	"time"

	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
)

// Limits, as Auth0's.
const (
	// MaxPerRequest bounds the ids or permissions one write names.
	MaxPerRequest = 100
	// MaxPage bounds a listing page.
	MaxPage = 100
)

// Manager runs the RBAC use cases for GraphQL, the REST API v2 and the
// dashboard alike.
type Manager struct {
	DB *ent.Client
	// Issuer names the built-in management API ({Issuer}api/v2/), whose
	// client grants are the clients' management_scopes.
	Issuer string
}

// Permission names one permission: a scope of a resource server.
type Permission struct {
	ResourceServerIdentifier string
	PermissionName           string
}

// PermissionInfo is a permission as listings show it (Auth0's shape).
type PermissionInfo struct {
	Permission
	ResourceServerName string
	// Description is the API's description of the scope.
	Description string
	// Sources say where a user holds the permission from (user listings
	// only): directly, through roles, or both.
	Sources []Source
}

// Source is one reason a user holds a permission.
type Source struct {
	// Type is "DIRECT" or "ROLE".
	Type     string
	RoleID   pulid.ID
	RoleName string
}

// RoleParams describe a role; nil pointers are left alone on update.
type RoleParams struct {
	Name        *string
	Description *string
}

// Page is an offset page of a listing: Limit ≤ MaxPage (0 means 50).
type Page struct {
	Offset, Limit int
}

// ClientGrant is a client grant as the APIs show it: one per (client, API).
// Grants of the management API have ids "cgr_mgmt_<client node id>".
type ClientGrant struct {
	ID        string
	ClientID  string // the client's client_id
	Audience  string // the API's identifier
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ClientGrantFilter narrows a client-grant listing; empty fields match all.
type ClientGrantFilter struct {
	Audience string
	ClientID string
}
