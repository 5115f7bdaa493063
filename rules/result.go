package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// MaxRoleName bounds a role name in the roles command, in characters (a
// role's name is at most 200).
const MaxRoleName = 200

// Result is one rule's commands, the host side of
// rules-sdk/schema/result.schema.json. Unknown members are ignored so that
// additive ABI changes do not break older hosts.
type Result struct {
	Deny              *Deny          `json:"deny,omitempty"`
	IDTokenClaims     map[string]any `json:"id_token_claims,omitempty"`
	AccessTokenClaims map[string]any `json:"access_token_claims,omitempty"`
	// AppMetadata and UserMetadata are top-level key updates; a nil value
	// (JSON null) deletes the key.
	AppMetadata  map[string]any `json:"app_metadata,omitempty"`
	UserMetadata map[string]any `json:"user_metadata,omitempty"`
	// LinkTo (additive to ABI v1) is reported to the caller, which decides
	// whether to link (rulesrun: only verified, equal emails); the engine
	// itself never acts on it.
	LinkTo *LinkTo `json:"link_to,omitempty"`
	// Roles (additive to ABI v1) changes the user's roles for this login
	// only: nothing is stored.
	Roles *RolesChange `json:"roles,omitempty"`
	// RequireMFA (additive to ABI v1, Auth0's api.multifactor.enable) asks
	// for a second factor before the login completes; the caller decides
	// what it means (rulesrun: at login only, unless the user already
	// passed one).
	RequireMFA bool         `json:"require_mfa,omitempty"`
	Error      *ResultError `json:"error,omitempty"`
}

// RolesChange adds and removes roles by name for this login; a name in both
// is removed. Names that match no role change the event's list but grant
// nothing.
type RolesChange struct {
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Deny refuses the login with access_denied.
type Deny struct {
	Reason string `json:"reason"`
}

// LinkTo asks to link the current identity to a primary user.
type LinkTo struct {
	UserID string `json:"user_id"`
}

// ResultError is a failure the rule reports itself (an SDK handler returning
// an error or panicking).
type ResultError struct {
	Message string `json:"message"`
}

// decodeResult parses a guest's output. It insists on a JSON object so that a
// confused guest cannot pass silently with "null" or "[]".
func decodeResult(out []byte) (*Result, error) {
	trimmed := bytes.TrimLeft(out, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadResult)
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResult, err)
	}
	if r.LinkTo != nil && r.LinkTo.UserID == "" {
		return nil, fmt.Errorf("%w: link_to.user_id is empty", ErrBadResult)
	}
	if r.Roles != nil {
		for _, n := range append(slices.Clone(r.Roles.Add), r.Roles.Remove...) {
			if n == "" || utf8.RuneCountInString(n) > MaxRoleName {
				return nil, fmt.Errorf("%w: a role name in roles must be 1 to %d characters", ErrBadResult, MaxRoleName)
			}
		}
	}
	return &r, nil
}
