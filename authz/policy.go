package authz

import (
	"context"
	"errors"

	"entgo.io/ent"
	"entgo.io/ent/privacy"
)

// ScopeError is every denial; it wraps privacy.Deny and the GraphQL edge maps
// it to extensions.code FORBIDDEN.
type ScopeError struct {
	// Scope is the missing scope; empty for objects no token may touch.
	Scope string
}

func (e *ScopeError) Error() string {
	if e.Scope == "" {
		return "forbidden: internal object"
	}
	return "forbidden: missing scope " + e.Scope
}

// Unwrap makes errors.Is(err, privacy.Deny) hold, as ent expects of denials.
func (e *ScopeError) Unwrap() error { return privacy.Deny }

// ScopePolicy guards one kind of object with the Auth0-style scopes
// read:<resource>, create:<resource>, update:<resource>, delete:<resource>.
type ScopePolicy struct {
	Resource string
	// SelfQuery, when set, lets a signed-in user holding read:current_user
	// read the objects that are their own: it narrows q to the rows of the
	// user whose user_id is given (their profile, identities, connections).
	SelfQuery func(q ent.Query, userID string)
}

// EvalQuery implements ent.Policy.
func (p ScopePolicy) EvalQuery(ctx context.Context, q ent.Query) error {
	err := require(ctx, "read:"+p.Resource)
	if errors.Is(err, privacy.Allow) || p.SelfQuery == nil {
		return err
	}
	if uid := SelfUserID(ctx, ScopeReadCurrentUser); uid != "" {
		p.SelfQuery(q, uid)
		return privacy.Allow
	}
	return err
}

// SelfUserID returns the user_id of a user token holding scope, or "" for
// machine tokens and tokens without it.
func SelfUserID(ctx context.Context, scope string) string {
	v := FromContext(ctx)
	if v == nil || v.system || !v.IsUser() || !v.HasScope(scope) {
		return ""
	}
	return v.Subject
}

// EvalMutation implements ent.Policy.
func (p ScopePolicy) EvalMutation(ctx context.Context, m ent.Mutation) error {
	switch {
	case m.Op().Is(ent.OpCreate):
		return require(ctx, "create:"+p.Resource)
	case m.Op().Is(ent.OpUpdate | ent.OpUpdateOne):
		return require(ctx, "update:"+p.Resource)
	default:
		return require(ctx, "delete:"+p.Resource)
	}
}

// SystemOnly guards objects no token may reach (signing keys) and objects
// only the server writes (log events: ReadScope reads them).
type SystemOnly struct{ ReadScope string }

// EvalQuery implements ent.Policy.
func (p SystemOnly) EvalQuery(ctx context.Context, _ ent.Query) error {
	if p.ReadScope == "" {
		return require(ctx, "")
	}
	return require(ctx, p.ReadScope)
}

// EvalMutation implements ent.Policy.
func (SystemOnly) EvalMutation(ctx context.Context, _ ent.Mutation) error {
	return require(ctx, "")
}

// require allows the system viewer always and any other viewer holding
// scope; an empty scope means system only.
func require(ctx context.Context, scope string) error {
	v := FromContext(ctx)
	if v.IsSystem() || (scope != "" && v.HasScope(scope)) {
		return privacy.Allow
	}
	return &ScopeError{Scope: scope}
}
