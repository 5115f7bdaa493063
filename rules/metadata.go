package rules

import (
	"fmt"
	"strings"
)

// validateMetadataKeys refuses keys that the storage layer or Auth0-style
// search cannot hold: '.' is a path separator and '$' an operator prefix in
// JSON stores such as Postgres jsonb paths and Mongo-style queries.
func validateMetadataKeys(field string, upd map[string]any) error {
	for k := range upd {
		switch {
		case k == "":
			return fmt.Errorf("%w: %s: empty key", ErrInvalidMetadata, field)
		case len(k) > MaxMetadataKey:
			return fmt.Errorf("%w: %s: key longer than %d bytes", ErrInvalidMetadata, field, MaxMetadataKey)
		case strings.ContainsAny(k, ".$"):
			return fmt.Errorf("%w: %s: key %q contains '.' or '$'", ErrInvalidMetadata, field, k)
		}
	}
	return nil
}

// applyMetadata applies top-level updates to the event's copy of the
// metadata (so later rules see them) and records them in acc for the
// caller's single write. A nil value deletes the key.
func applyMetadata(target, acc, upd map[string]any) {
	for k, v := range upd {
		if v == nil {
			delete(target, k)
		} else {
			target[k] = v
		}
		acc[k] = v
	}
}
