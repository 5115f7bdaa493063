package rules

// API collects the commands of one rule invocation. Commands are declarative:
// the host applies them after the whole pipeline succeeded.
type API struct {
	res Result
}

// Deny fails the login with access_denied and reason as the description.
// Later rules do not run.
func (a *API) Deny(reason string) {
	a.res.Deny = &Deny{Reason: reason}
}

// SetIDTokenClaim adds a claim to the ID token. The name must be a URL or URN
// (https://example.com/roles); other names are dropped by the host.
func (a *API) SetIDTokenClaim(name string, value any) {
	a.res.IDTokenClaims = set(a.res.IDTokenClaims, name, value)
}

// SetAccessTokenClaim adds a claim to the access token (same naming rule as
// SetIDTokenClaim). It is ignored for the management API audience.
func (a *API) SetAccessTokenClaim(name string, value any) {
	a.res.AccessTokenClaims = set(a.res.AccessTokenClaims, name, value)
}

// SetAppMetadata sets a top-level app_metadata key; a nil value deletes it.
// Keys must not contain '.' or '$'.
func (a *API) SetAppMetadata(key string, value any) {
	a.res.AppMetadata = set(a.res.AppMetadata, key, value)
}

// SetUserMetadata sets a top-level user_metadata key; a nil value deletes it.
func (a *API) SetUserMetadata(key string, value any) {
	a.res.UserMetadata = set(a.res.UserMetadata, key, value)
}

// LinkTo asks the host to link this identity to the primary user userID.
// Reserved in ABI v1: the host reports it but may not act on it.
func (a *API) LinkTo(userID string) {
	a.res.LinkTo = &LinkTo{UserID: userID}
}

// RequireMFA asks for a second factor before the login completes (Auth0's
// api.multifactor.enable). Unless the user already passed one in this
// session (an "mfa" method in e.Authentication.Methods), the host sends
// them to the challenge, applies nothing the rules decided, and runs the
// rules again afterwards. Ignored at refresh; a deny wins.
func (a *API) RequireMFA() {
	a.res.RequireMFA = true
}

// AddRole gives the user the role named name for this login only: later
// rules see it in event.Authorization.Roles and the token's API scopes and
// permissions count it. Nothing is stored; an unknown name grants nothing.
func (a *API) AddRole(name string) {
	r := a.roles()
	r.Add = appendNew(r.Add, name)
	r.Remove = remove(r.Remove, name)
}

// RemoveRole takes the role named name from the user for this login only.
func (a *API) RemoveRole(name string) {
	r := a.roles()
	r.Remove = appendNew(r.Remove, name)
	r.Add = remove(r.Add, name)
}

func (a *API) roles() *Roles {
	if a.res.Roles == nil {
		a.res.Roles = &Roles{}
	}
	return a.res.Roles
}

func appendNew(a []string, s string) []string {
	for _, x := range a {
		if x == s {
			return a
		}
	}
	return append(a, s)
}

func remove(a []string, s string) []string {
	out := a[:0]
	for _, x := range a {
		if x != s {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Log writes a line to the rule's log. Lines are capped in size and number,
// and the rule's secret values are redacted by the host.
func (a *API) Log(msg string) {
	hostLog(msg)
}

// Result returns the commands collected so far.
func (a *API) Result() *Result {
	return &a.res
}

func set(m map[string]any, k string, v any) map[string]any {
	if m == nil {
		m = make(map[string]any)
	}
	m[k] = v
	return m
}
