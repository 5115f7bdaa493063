package graph

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/authgraph/authgraph/dbauth"
	"github.com/authgraph/authgraph/identity"
)

// patch converts gqlgen's Omittable (absent vs null vs value) into the
// domain's Patch.
func patch[T any](o graphql.Omittable[*T]) identity.Patch[T] {
	v, set := o.ValueOK()
	if !set {
		return identity.Patch[T]{}
	}
	return identity.Patch[T]{Set: true, Value: v}
}

// mapPatch converts a metadata field: null and absent both leave it alone.
func mapPatch(o graphql.Omittable[map[string]any]) identity.Patch[map[string]any] {
	v, set := o.ValueOK()
	if !set || v == nil {
		return identity.Patch[map[string]any]{}
	}
	return identity.Patch[map[string]any]{Set: true, Value: &v}
}

// opt returns an Omittable's pointer value, nil when absent or null.
func opt[T any](o graphql.Omittable[*T]) *T { return o.Value() }

func optSlice(o graphql.Omittable[[]string]) []string { return o.Value() }

// ticketOptions validates the common ticket inputs.
func ticketOptions(ttl *int, resultURL, clientID *string) (dbauth.TicketOptions, error) {
	var o dbauth.TicketOptions
	if ttl != nil {
		if *ttl < 60 || *ttl > 30*86400 {
			return o, &identity.ValidationError{Field: "ttlSec", Message: "must be 60 to 2592000 seconds"}
		}
		o.TTL = time.Duration(*ttl) * time.Second
	}
	if resultURL != nil {
		o.ResultURL = *resultURL
	}
	if clientID != nil {
		o.ClientID = *clientID
	}
	return o, nil
}

// clientMetadata converts a GraphQL Map into client_metadata: string values
// only (nil when absent).
func clientMetadata(m map[string]any) (map[string]string, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, &identity.ValidationError{Field: "clientMetadata", Message: "values must be strings"}
		}
		out[k] = s
	}
	return out, nil
}

// stringMap widens client_metadata for the Map scalar.
func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
