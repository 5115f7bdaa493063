package rules

import "time"

// Event is the post-login event (rules-sdk/schema/event.schema.json).
type Event struct {
	User        User        `json:"user"`
	Client      Client      `json:"client"`
	Connection  Connection  `json:"connection"`
	Request     Request     `json:"request"`
	Transaction Transaction `json:"transaction"`
	Stats       Stats       `json:"stats"`
	// Authorization holds the user's roles (additive to ABI v1: empty from
	// hosts before it).
	Authorization Authorization `json:"authorization"`
	// Authentication is how the user authenticated (additive to ABI v1:
	// empty from hosts before it).
	Authentication Authentication    `json:"authentication"`
	Secrets        map[string]string `json:"secrets"`
	Now            time.Time         `json:"now"`
	Rule           RuleInfo          `json:"rule"`
}

// User is the normalized user profile.
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

// Identity is one upstream identity of the user; the first is the primary one.
type Identity struct {
	Connection  string         `json:"connection"`
	Provider    string         `json:"provider"`
	UserID      string         `json:"user_id"`
	IsSocial    bool           `json:"is_social"`
	ProfileData map[string]any `json:"profile_data,omitempty"`
}

// Client is the application the user is logging in to.
type Client struct {
	ClientID string            `json:"client_id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// Connection is the connection the user authenticated with.
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

// Stats holds login statistics.
type Stats struct {
	LoginsCount int64 `json:"logins_count"`
}

// Authorization is Auth0's event.authorization.
type Authorization struct {
	// Roles are the names of the user's roles, sorted, as the roles
	// commands of earlier rules left them.
	Roles []string `json:"roles"`
}

// Authentication is Auth0's event.authentication.
type Authentication struct {
	// Methods are how the user authenticated in this session: "pwd"
	// (password), "fed" (a federated connection), "otp", "mfa" (a second
	// factor was passed)… At refresh, those of the original login.
	Methods []AuthenticationMethod `json:"methods"`
}

// AuthenticationMethod is one authentication method of the session.
type AuthenticationMethod struct {
	Name string `json:"name"`
	// Timestamp is when the user authenticated.
	Timestamp time.Time `json:"timestamp"`
}

// HasMethod reports whether the user authenticated with the method named
// name in this session ("mfa": a second factor was passed).
func (a Authentication) HasMethod(name string) bool {
	for _, m := range a.Methods {
		if m.Name == name {
			return true
		}
	}
	return false
}

// RuleInfo identifies the running rule.
type RuleInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}
