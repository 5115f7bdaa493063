package rules

import "time"

// Event is the post-login event given to every rule, the host side of
// rules-sdk/schema/event.schema.json (schema_test.go keeps them in step).
// The pipeline fills Secrets and Rule per rule, and Now when it is zero.
type Event struct {
	User        User        `json:"user"`
	Client      Client      `json:"client"`
	Connection  Connection  `json:"connection"`
	Request     Request     `json:"request"`
	Transaction Transaction `json:"transaction"`
	Stats       Stats       `json:"stats"`
	// Authorization (additive to ABI v1) holds the user's roles, as a
	// rule's roles command left them for the rules after it.
	Authorization Authorization `json:"authorization"`
	// Authentication (additive to ABI v1) is how the user authenticated.
	Authentication Authentication    `json:"authentication"`
	Secrets        map[string]string `json:"secrets"`
	Now            time.Time         `json:"now"`
	Rule           RuleInfo          `json:"rule"`
}

// User is the normalized profile (docs/PROFILE.md). Nil metadata maps are sent as {}.
type User struct {
	UserID        string         `json:"user_id"`
	Email         string         `json:"email,omitempty"`
	EmailVerified bool           `json:"email_verified"`
	Username      string         `json:"username,omitempty"`
	PhoneNumber   string         `json:"phone_number,omitempty"`
	PhoneVerified bool           `json:"phone_verified"`
	Name          string         `json:"name,omitempty"`
	GivenName     string         `json:"given_name,omitempty"`
	FamilyName    string         `json:"family_name,omitempty"`
	Nickname      string         `json:"nickname,omitempty"`
	Picture       string         `json:"picture,omitempty"`
	Blocked       bool           `json:"blocked"`
	Identities    []Identity     `json:"identities"`
	UserMetadata  map[string]any `json:"user_metadata"`
	AppMetadata   map[string]any `json:"app_metadata"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	LastLogin     time.Time      `json:"last_login,omitzero"`
	LoginsCount   int64          `json:"logins_count"`
}

// Identity is one upstream identity; the first is the primary one.
type Identity struct {
	Connection  string         `json:"connection"`
	Provider    string         `json:"provider"`
	UserID      string         `json:"user_id"`
	IsSocial    bool           `json:"is_social"`
	ProfileData map[string]any `json:"profile_data,omitempty"`
}

// Client is the application being logged in to.
type Client struct {
	ClientID string            `json:"client_id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// Connection is the connection used to authenticate.
type Connection struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Strategy string `json:"strategy"`
}

// Request describes the end user's HTTP request.
type Request struct {
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	Hostname  string `json:"hostname"`
}

// Transaction describes the authorization request.
type Transaction struct {
	Protocol        string   `json:"protocol"`
	RequestedScopes []string `json:"requested_scopes"`
	RedirectURI     string   `json:"redirect_uri"`
}

// Authorization is Auth0's event.authorization: the names of the user's
// roles (RBAC).
type Authorization struct {
	Roles []string `json:"roles"`
}

// Authentication is Auth0's event.authentication: the methods the user
// authenticated with in this session.
type Authentication struct {
	Methods []AuthenticationMethod `json:"methods"`
}

// AuthenticationMethod is one method of the login's AMR ("pwd", "fed",
// "otp", "mfa"…), with the time the user authenticated.
type AuthenticationMethod struct {
	Name      string    `json:"name"`
	Timestamp time.Time `json:"timestamp"`
}

// Stats holds login statistics.
type Stats struct {
	LoginsCount int64 `json:"logins_count"`
}

// RuleInfo identifies the running rule.
type RuleInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// normalize replaces nil maps and slices with empty ones, because the schema
// promises guests objects and arrays, never null.
func (e *Event) normalize() {
	if e.User.Identities == nil {
		e.User.Identities = []Identity{}
	}
	if e.User.UserMetadata == nil {
		e.User.UserMetadata = map[string]any{}
	}
	if e.User.AppMetadata == nil {
		e.User.AppMetadata = map[string]any{}
	}
	if e.Client.Metadata == nil {
		e.Client.Metadata = map[string]string{}
	}
	if e.Transaction.RequestedScopes == nil {
		e.Transaction.RequestedScopes = []string{}
	}
	if e.Secrets == nil {
		e.Secrets = map[string]string{}
	}
	if e.Authorization.Roles == nil {
		e.Authorization.Roles = []string{}
	}
	if e.Authentication.Methods == nil {
		e.Authentication.Methods = []AuthenticationMethod{}
	}
}
