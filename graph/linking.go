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
	return r.Accounts.Link(ctx, primaryID, secondaryID)
}

func (r *mutationResolver) unlinkIdentity(ctx context.Context, userID, conn, identityUserID string) (*ent.User, error) {
	return r.Accounts.Unlink(ctx, userID, conn, identityUserID)
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
