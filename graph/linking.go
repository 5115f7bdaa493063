package graph

// Helpers of linking.resolvers.go (kept out of the gqlgen-managed file).

import (
	"context"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/identity"
)

// ScopeReadIdPTokens lets a token read identities' upstream tokens.
const ScopeReadIdPTokens = "read:user_idp_tokens"

func (r *mutationResolver) linkUser(ctx context.Context, primaryID, secondaryID string) (*ent.User, error) {
	if err := requireScope(ctx, "update:users"); err != nil {
		return nil, err
	}
	if err := requireUserControl(ctx, r.db(ctx), primaryID, secondaryID); err != nil {
		return nil, err
	}
	secondary, err := identity.Resolve(authz.SystemContext(ctx), r.db(ctx), secondaryID)
	if err != nil {
		return nil, err
	}
	u, err := identity.Link(ctx, r.db(ctx), primaryID, secondaryID)
	if err != nil {
		return nil, err
	}
	return u, r.audit(ctx, "linkUser", "Link "+secondary.UserID+" to a User", u.UserID)
}

func (r *mutationResolver) unlinkIdentity(ctx context.Context, userID, conn, identityUserID string) (*ent.User, error) {
	if err := requireScope(ctx, "update:users"); err != nil {
		return nil, err
	}
	if err := requireUserControl(ctx, r.db(ctx), userID); err != nil {
		return nil, err
	}
	u, err := identity.Unlink(ctx, r.db(ctx), userID, conn, identityUserID)
	if err != nil {
		return nil, err
	}
	return u, r.audit(ctx, "unlinkIdentity", "Unlink "+conn+"|"+identityUserID+" from a User", u.UserID)
}

// idpToken returns one of the identity's upstream tokens, only to callers
// holding read:user_idp_tokens (null otherwise, as for identities without
// tokens).
func (r *identityResolver) idpToken(ctx context.Context, obj *ent.Identity, pick func(*connectors.Tokens) string) (*string, error) {
	if !authz.FromContext(ctx).HasScope(ScopeReadIdPTokens) || obj.TokensSealed == nil || len(*obj.TokensSealed) == 0 {
		return nil, nil
	}
	if r.Connections == nil || r.Connections.Box == nil {
		return nil, nil
	}
	conn, err := obj.QueryConnection().Only(authz.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	toks, err := identity.OpenTokens(r.Connections.Box, conn.Name, obj)
	if err != nil || toks == nil {
		return nil, err
	}
	if v := pick(toks); v != "" {
		return &v, nil
	}
	return nil, nil
}
