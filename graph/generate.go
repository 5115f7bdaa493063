// Package graph is the GraphQL management API: resolvers are thin, one call
// into identity/, clients/ or ent per field.
package graph

//go:generate sh -c "cd .. && go tool gqlgen generate --config gqlgen.yml"
