// Package authz carries who is calling (the Viewer) through a context and
// decides, in one place, what that caller may touch. ent privacy policies call
// it for every query and mutation, so GraphQL `node`/`nodes` lookups and
// nested edges are checked exactly like top-level fields.
package authz

import (
	"context"
	"slices"
	"strings"
)

// Viewer is the authenticated caller of a management operation.
type Viewer struct {
	// Subject is the token's `sub`: a client id for machine tokens, a
	// user_id for user tokens.
	Subject string
	// ClientID is the client the token was issued to.
	ClientID string
	// Scopes are the granted management scopes.
	Scopes []string
	// system is set only by SystemContext: internal work (bootstrap, logins,
	// log writes) that no token authorises.
	system bool
}

// HasScope reports whether the viewer holds scope.
func (v *Viewer) HasScope(scope string) bool {
	return v != nil && (v.system || slices.Contains(v.Scopes, scope))
}

// IsUser reports whether the token was issued to a user (its subject is a
// user_id) rather than to a machine client ("<client_id>@clients").
func (v *Viewer) IsUser() bool {
	return v != nil && !v.system && v.Subject != "" && !strings.HasSuffix(v.Subject, "@clients")
}

// IsSystem reports whether the viewer is the system itself.
func (v *Viewer) IsSystem() bool { return v != nil && v.system }

type viewerKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// FromContext returns the viewer in ctx, or nil for an anonymous caller.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	return v
}

var systemViewer = &Viewer{Subject: "system", system: true}

// SystemContext returns ctx acting as the system. Use it only for work the
// server does on its own behalf, never to satisfy a caller's request.
func SystemContext(ctx context.Context) context.Context {
	return NewContext(ctx, systemViewer)
}
