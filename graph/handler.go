package graph

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/graph/generated"
	"github.com/authgraph/authgraph/graph/model"
)

// Limits on what one request may ask for.
const (
	// MaxComplexity bounds a query's cost: a field costs 1, a connection
	// multiplies its children by the page size.
	MaxComplexity = 20000
	// MaxDepth bounds selection nesting. Data queries nest at most ~7 levels
	// here; the standard introspection query (GraphiQL, codegen tools) nests
	// 13, so 15 admits it while still bounding recursive __type abuse.
	MaxDepth = 15
	// DefaultPageSize applies when neither first nor last is given;
	// MaxPageSize is the most one page may hold (Auth0's per_page cap).
	DefaultPageSize = 50
	MaxPageSize     = 100
	// MaxListLength bounds every list argument, at the top level or inside
	// an input object (nodes(ids:), reorderRules(ids:), a client's
	// redirectUris…): no legitimate call needs more, and each item may
	// cost a lookup.
	MaxListLength = 100
)

// NewHandler returns the GraphQL HTTP handler. It expects the auth
// middleware to have put a viewer in the request context.
func NewHandler(r *Resolver, logger *slog.Logger) http.Handler {
	cfg := generated.Config{Resolvers: r}
	pageCost := func(child int, first, last *int) int {
		n := DefaultPageSize
		if first != nil {
			n = *first
		} else if last != nil {
			n = *last
		}
		return 1 + child*max(n, 1)
	}
	cfg.Complexity.Query.Users = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ []*ent.UserOrder, _ *string) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Query.Connections = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ *ent.ConnectionOrder) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Query.Clients = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ *ent.ApplicationOrder) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Query.Logs = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ *model.LogFilter) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Query.Rules = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ *ent.RuleOrder) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Query.Roles = func(child int, _ *entgql.Cursor[pulid.ID], first *int, _ *entgql.Cursor[pulid.ID], last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Role.Users = func(child int, first *int, _ *entgql.Cursor[pulid.ID]) int {
		return pageCost(child, first, nil)
	}
	cfg.Complexity.Query.UsersByEmail = func(child int, _ string) int { return 1 + child*10 }
	// A list argument costs what its items do: each id is an object loaded.
	cfg.Complexity.Query.Nodes = func(child int, ids []pulid.ID) int { return 1 + child*max(len(ids), 1) }
	cfg.Complexity.Mutation.ReorderRules = func(child int, ids []pulid.ID) int { return 1 + child*max(len(ids), 1) }
	cfg.Complexity.Mutation.GrantAdmin = func(child int, _ pulid.ID, scopes []string) int { return 1 + child + len(scopes) }

	srv := handler.New(generated.NewExecutableSchema(cfg))
	srv.AddTransport(transport.Options{})
	// Multipart requests carry importUsers' file. The body cap
	// (server/middleware.go) is maxImportBody for them; parts beyond
	// MaxMemory are spooled to temporary files, never held in memory.
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: 1 << 30, MaxMemory: 8 << 20})
	srv.AddTransport(jsonPOST{})
	srv.AddTransport(unsupportedRequest{}) // last: takes what the others do not
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	// Oversized lists are refused before complexity is computed from them.
	srv.Use(&listLimit{max: MaxListLength})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.Use(depthLimit{max: MaxDepth})
	srv.Use(pageLimit{})
	srv.Use(connectionFieldGuard{})
	// One transaction per mutation operation: a write and its sapi log
	// commit together or not at all.
	srv.Use(entgql.Transactioner{TxOpener: r.Ent, SkipTxFunc: onlyOwnTxFields})
	srv.Use(requestErrorLog{logger: logger})
	srv.SetErrorPresenter(ErrorPresenter(logger))
	srv.SetRecoverFunc(func(ctx context.Context, err any) error {
		logger.ErrorContext(ctx, "graphql panic", "panic", err)
		return newError(CodeInternal, "internal error")
	})
	return srv
}

// depthLimit refuses operations nested deeper than max.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, 0); depth > d.max {
		return newError(CodeBadUserInput, fmt.Sprintf("query is nested %d levels deep; at most %d are allowed", depth, d.max))
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, depth int) int {
	if depth > 64 { // fragment cycles are rejected by validation; stay safe anyway
		return depth
	}
	deepest := depth
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = depth + 1
			} else {
				d = selectionDepth(s.SelectionSet, frags, depth+1)
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, depth)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, frags, depth)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// pageLimit gives connection fields a default page size and refuses pages
// larger than MaxPageSize (otherwise ent's Paginate returns every row).
type pageLimit struct{}

var _ graphql.FieldInterceptor = pageLimit{}

func (pageLimit) ExtensionName() string                   { return "PageLimit" }
func (pageLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (pageLimit) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "Query" {
		return next(ctx)
	}
	switch fc.Field.Name {
	case "users", "connections", "clients", "logs", "resourceServers", "rules", "roles":
	default:
		return next(ctx)
	}
	first, _ := fc.Args["first"].(*int)
	last, _ := fc.Args["last"].(*int)
	for name, v := range map[string]*int{"first": first, "last": last} {
		if v != nil && (*v < 0 || *v > MaxPageSize) {
			e := newError(CodeBadUserInput, fmt.Sprintf("%s must be between 0 and %d", name, MaxPageSize))
			e.Extensions["field"] = name
			return nil, e
		}
	}
	if first == nil && last == nil {
		n := DefaultPageSize
		fc.Args["first"] = &n
	}
	return next(ctx)
}

// connectionFieldGuard hides a connection's configuration from callers who
// may see the connection only as part of their own identities (self-service
// user tokens): its name and strategy, nothing of how it is set up.
type connectionFieldGuard struct{}

var _ graphql.FieldInterceptor = connectionFieldGuard{}

func (connectionFieldGuard) ExtensionName() string                   { return "ConnectionFieldGuard" }
func (connectionFieldGuard) Validate(graphql.ExecutableSchema) error { return nil }
func (connectionFieldGuard) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc != nil && fc.Object == "Connection" {
		switch fc.Field.Name {
		case "options", "secretsSet", "enabledClients":
			if !authz.FromContext(ctx).HasScope("read:connections") {
				return nil, &authz.ScopeError{Scope: "read:connections"}
			}
		}
	}
	return next(ctx)
}

// ownTxFields are mutations that manage their own transaction: wrapping them
// in the operation's would deadlock on SQLite's single writer.
var ownTxFields = map[string]bool{
	"rotateSigningKeys": true, "createPasswordChangeTicket": true,
	"createEmailVerificationTicket": true, "unblockUserAttempts": true,
	// testRule persists nothing and may run for seconds: no transaction.
	"testRule": true,
	// testConnectionScript writes nothing to the store and may run for
	// seconds against a legacy database: no transaction either.
	"testConnectionScript": true,
}

// onlyOwnTxFields reports whether every root field of op manages its own
// transaction (then the operation gets none).
func onlyOwnTxFields(op *ast.OperationDefinition) bool {
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || !ownTxFields[f.Name] {
			return false
		}
	}
	return len(op.SelectionSet) > 0
}
