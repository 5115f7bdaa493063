package graph

// Helpers of the custom-database resolvers (customdb.resolvers.go stays a
// thin delegation: gqlgen rewrites that file).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/authgraph/authgraph/admins"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/connectors"
	"github.com/authgraph/authgraph/connectors/customdb"
	"github.com/authgraph/authgraph/connectors/upstream"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/connection"
	"github.com/authgraph/authgraph/graph/model"
	"github.com/authgraph/authgraph/identity"
)

// testConnectionScript runs one script of a customdb connection. It needs
// update:connections, not read:connections: the script runs with the
// connection's secret DSN, against its legacy database. A script's typed
// error or failure (trap, time limit, invalid result) is part of the result;
// only what the caller got wrong is a GraphQL error. Nothing is written to
// Authgraph's store, not even an sapi log: like testRule, it is a dry run.
func (r *Resolver) testConnectionScript(ctx context.Context, name string, script model.CustomDBScript, args map[string]any) (*model.ConnectionScriptResult, error) {
	if err := requireScope(ctx, "update:connections"); err != nil {
		return nil, err
	}
	if r.Upstream == nil {
		return nil, errors.New("testConnectionScript: no connector service")
	}
	if args == nil {
		args = map[string]any{}
	}
	// The scripts reach the user store behind the connection
	// (change_password, create…): its administrators' accounts too.
	if c, err := r.db(ctx).Connection.Query().Where(connection.Name(name)).Only(authz.SystemContext(ctx)); err == nil {
		if err := admins.RequireControlOfConnection(ctx, r.db(ctx), c.ID); err != nil {
			return nil, err
		}
	} else if !ent.IsNotFound(err) {
		return nil, err
	}
	op := strings.ToLower(string(script))
	out, err := r.Upstream.RunScript(ctx, name, op, args)
	switch {
	case errors.Is(err, upstream.ErrUnknownConnection):
		return nil, &identity.NotFoundError{What: "connection", ID: name}
	case errors.Is(err, upstream.ErrNotCustomDB):
		return nil, &identity.ValidationError{Field: "connection", Message: "is not a customdb connection"}
	case errors.Is(err, customdb.ErrNoScript):
		return nil, &identity.ValidationError{Field: "script", Message: fmt.Sprintf("connection %s has no %s script (options.scripts.%s or options.customScripts.%s)", name, op, op, op)}
	case errors.Is(err, connectors.ErrConfig):
		return nil, &identity.ValidationError{Field: "connection", Message: err.Error()}
	case err != nil && !errors.Is(err, customdb.ErrScript):
		return nil, err
	}
	res := &model.ConnectionScriptResult{
		ResultJSON: "null",
		Logs:       out.Logs,
		DurationMs: float64(out.Duration.Microseconds()) / 1000,
	}
	if res.Logs == nil {
		res.Logs = []string{}
	}
	if len(out.Result) > 0 {
		res.ResultJSON = string(out.Result)
		var m map[string]any
		if json.Unmarshal(out.Result, &m) == nil && m != nil {
			res.Result = m
		}
	}
	switch {
	case err != nil: // the script failed: trap, limit, invalid result
		res.Error = &model.ConnectionScriptError{Code: customdb.CodeSystem, Message: err.Error()}
	case out.Err != nil:
		res.Error = &model.ConnectionScriptError{Code: out.Err.Code, Message: out.Err.Message}
	}
	return res, nil
}
