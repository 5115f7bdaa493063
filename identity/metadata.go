package identity

import (
	"encoding/json"
	"maps"
	"strings"
)

// Metadata limits (docs/PROFILE.md).
const (
	// MaxMetadataBytes caps each metadata object (serialized JSON).
	MaxMetadataBytes = 10 * 1024
	// MaxProfileDataBytes caps an identity's raw upstream profile: directory
	// users with many groups must still be able to log in.
	MaxProfileDataBytes = 64 * 1024
	// MaxMetadataDepth caps nesting.
	MaxMetadataDepth = 10
)

// forbiddenAppMetadataKeys may not be top-level app_metadata keys: rules
// merge app_metadata onto the root user object, so these names would shadow
// or spoof system fields.
var forbiddenAppMetadataKeys = map[string]bool{
	"__tenant": true, "_id": true, "blocked": true, "clientID": true, "created_at": true,
	"email_verified": true, "email": true, "globalClientID": true, "global_client_id": true,
	"identities": true, "lastIP": true, "lastLogin": true, "loginsCount": true, "metadata": true,
	"multifactor_last_modified": true, "multifactor": true, "updated_at": true, "user_id": true,
}

// ValidateMetadata checks one metadata object as stored: key names, depth,
// forbidden keys (app_metadata) and size. field is the GraphQL field name.
func ValidateMetadata(field string, m map[string]any, app bool) error {
	if app {
		for k := range m {
			if forbiddenAppMetadataKeys[k] {
				return invalid(field, "key %q is reserved and cannot be set in app_metadata", k)
			}
		}
	}
	if err := checkKeys(field, m, 1); err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return invalid(field, "not serializable: %v", err)
	}
	if len(b) > MaxMetadataBytes {
		return invalid(field, "is %d bytes; at most %d are allowed", len(b), MaxMetadataBytes)
	}
	return nil
}

// checkKeys walks v, the depth-th nested object or array. Only objects and
// arrays count as nesting levels: a scalar leaf adds none. (Counting leaves
// rejected a path of exactly 10 keys, {"l1":{…{"l10":"x"}…}}, which nests
// 10 levels, not deeper.)
func checkKeys(field string, v any, depth int) error {
	switch v.(type) {
	case map[string]any, []any:
		if depth > MaxMetadataDepth {
			return invalid(field, "nests deeper than %d levels", MaxMetadataDepth)
		}
	}
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if k == "" {
				return invalid(field, "keys must not be empty")
			}
			if strings.ContainsAny(k, ".$") {
				return invalid(field, "key %q must not contain '.' or '$'", k)
			}
			if err := checkKeys(field, child, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range t {
			if err := checkKeys(field, child, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// MergeMetadata applies a PATCH to stored metadata with Auth0's semantics:
// one level deep only (a top-level key replaces its whole subtree), a null
// value deletes the key, and an empty patch object clears everything.
func MergeMetadata(stored, patch map[string]any) map[string]any {
	if len(patch) == 0 {
		return map[string]any{}
	}
	out := maps.Clone(stored)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// dropNulls removes top-level nulls from metadata given on create: null
// means "absent", and nulls are never stored.
func dropNulls(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = v
		}
	}
	return out
}
