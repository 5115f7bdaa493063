package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// listLimit refuses an operation any of whose list arguments, at the top
// level or nested in an input object, holds more than max items. Only lists
// the schema declares count: a JSON scalar (metadata, connection options)
// has its own size limits. It runs once the variables are coerced and
// before any resolver, so an oversized list costs neither a database query
// nor a log line.
type listLimit struct {
	max    int
	schema *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &listLimit{}

func (*listLimit) ExtensionName() string { return "ListLimit" }
func (l *listLimit) Validate(es graphql.ExecutableSchema) error {
	l.schema = es.Schema()
	return nil
}

func (l *listLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	// Argument values do not depend on where a fragment is spread (variables
	// are the operation's), so each fragment is checked once.
	seen := map[string]bool{}
	return l.checkSet(oc, oc.Operation.SelectionSet, seen)
}

func (l *listLimit) checkSet(oc *graphql.OperationContext, set ast.SelectionSet, seen map[string]bool) *gqlerror.Error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, arg := range s.Arguments {
				if s.Definition == nil {
					break
				}
				def := s.Definition.Arguments.ForName(arg.Name)
				v, err := arg.Value.Value(oc.Variables)
				if def == nil || err != nil {
					continue // validation has already refused it
				}
				if path, n := l.longList(v, def.Type, arg.Name); path != "" {
					e := newError(CodeBadUserInput, fmt.Sprintf("%s holds %d items; at most %d are allowed", path, n, l.max))
					e.Extensions["field"] = path
					return e
				}
			}
			if e := l.checkSet(oc, s.SelectionSet, seen); e != nil {
				return e
			}
		case *ast.InlineFragment:
			if e := l.checkSet(oc, s.SelectionSet, seen); e != nil {
				return e
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			if f := oc.Doc.Fragments.ForName(s.Name); f != nil {
				if e := l.checkSet(oc, f.SelectionSet, seen); e != nil {
					return e
				}
			}
		}
	}
	return nil
}

// longList returns the path of the first list in v (of schema type t)
// longer than l.max and its length, or "" when there is none. Input object
// fields extend the path ("input.redirectUris"); items of a list keep the
// list's path.
func (l *listLimit) longList(v any, t *ast.Type, path string) (string, int) {
	if v == nil || t == nil {
		return "", 0
	}
	if t.Elem != nil {
		items, ok := v.([]any)
		if !ok { // a single value coerced to a list of one
			return l.longList(v, t.Elem, path)
		}
		if len(items) > l.max {
			return path, len(items)
		}
		for _, item := range items {
			if p, n := l.longList(item, t.Elem, path); p != "" {
				return p, n
			}
		}
		return "", 0
	}
	def := l.schema.Types[t.NamedType]
	obj, ok := v.(map[string]any)
	if def == nil || def.Kind != ast.InputObject || !ok {
		return "", 0
	}
	for _, f := range def.Fields {
		if p, n := l.longList(obj[f.Name], f.Type, path+"."+f.Name); p != "" {
			return p, n
		}
	}
	return "", 0
}
