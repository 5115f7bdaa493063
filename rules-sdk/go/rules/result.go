package rules

// Result is what a rule returns (rules-sdk/schema/result.schema.json).
// Build it through [API]; it is exported for native tests.
type Result struct {
	Deny              *Deny          `json:"deny,omitempty"`
	IDTokenClaims     map[string]any `json:"id_token_claims,omitempty"`
	AccessTokenClaims map[string]any `json:"access_token_claims,omitempty"`
	AppMetadata       map[string]any `json:"app_metadata,omitempty"`
	UserMetadata      map[string]any `json:"user_metadata,omitempty"`
	LinkTo            *LinkTo        `json:"link_to,omitempty"`
	Roles             *Roles         `json:"roles,omitempty"`
	RequireMFA        bool           `json:"require_mfa,omitempty"`
	Error             *Error         `json:"error,omitempty"`
}

// Deny stops the login with access_denied.
type Deny struct {
	Reason string `json:"reason"`
}

// LinkTo is reserved in ABI v1: see rules-sdk/ABI.md.
type LinkTo struct {
	UserID string `json:"user_id"`
}

// Roles changes the user's roles for this login only (see [API.AddRole]).
type Roles struct {
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Error reports a rule failure to the host.
type Error struct {
	Message string `json:"message"`
}
