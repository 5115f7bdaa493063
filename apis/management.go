package apis

import (
	"context"
	"errors"
	"fmt"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/resourceserver"
)

// ErrManagementAPINotRegistered: no serving node has registered the
// management API in this database yet, so its identifier (which follows the
// issuer the server runs with) is not known.
var ErrManagementAPINotRegistered = errors.New("the management API is not registered: no server has run on this database yet")

// ManagementAPIIdentifier returns the identifier (token audience) of the
// built-in management API as the serving node recorded it: the value that
// works against the running server, whatever issuer the caller assumes.
func ManagementAPIIdentifier(ctx context.Context, db *ent.Client) (string, error) {
	rs, err := db.ResourceServer.Query().Where(resourceserver.System(true)).Only(authz.SystemContext(ctx))
	switch {
	case ent.IsNotFound(err):
		return "", ErrManagementAPINotRegistered
	case err != nil:
		return "", fmt.Errorf("reading the management API: %w", err)
	}
	return rs.Identifier, nil
}
