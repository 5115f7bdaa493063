package pulid

import (
	"context"
	"fmt"
)

// Types maps every id prefix to the ent/GraphQL type name it stands for.
// Adding an entity means adding its prefix here.
var Types = map[string]string{
	"usr_": "User",
	"idn_": "Identity",
	"con_": "Connection",
	"cli_": "Application",
	"key_": "SigningKey",
	"log_": "LogEvent",
}

// ErrUnknownPrefix is returned for ids whose prefix names no type.
var ErrUnknownPrefix = fmt.Errorf("pulid: unknown id prefix")

// IDToType resolves the type name of a node id; it backs ent.WithNodeType.
func IDToType(_ context.Context, id ID) (string, error) {
	t, ok := Types[id.Prefix()]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownPrefix, id)
	}
	return t, nil
}
