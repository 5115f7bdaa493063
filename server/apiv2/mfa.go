package apiv2

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/authgraph/authgraph/mfa"
)

// Auth0's Guardian endpoints and users' authentication methods, over
// mfa.Manager (the use cases the GraphQL API calls, with the same scopes
// and audit entries). docs/MFA.md.

// AuthenticationMethod is one of a user's second factors, in Auth0's shape.
type AuthenticationMethod struct {
	ID         string     `json:"id" doc:"The authenticator's id (mfa_…)."`
	Type       string     `json:"type" doc:"totp, email, recovery-code or webauthn-roaming."`
	Confirmed  bool       `json:"confirmed" doc:"False while the enrollment waits for its first code."`
	Name       string     `json:"name,omitempty" doc:"A label: the app, or the masked email address."`
	CreatedAt  time.Time  `json:"created_at" doc:"When the enrollment started."`
	LastAuthAt *time.Time `json:"last_auth_at,omitempty" doc:"When it last answered a challenge."`
}

// RecoveryCode is POST /users/{id}/recovery-code-regeneration's answer.
// Auth0 keeps one recovery code per user; Authgraph keeps
// mfa.RecoveryCodeCount, each usable once, and returns them all.
type RecoveryCode struct {
	RecoveryCode  string   `json:"recovery_code" doc:"The new recovery code (the first of recovery_codes), as Auth0 returns it."`
	RecoveryCodes []string `json:"recovery_codes" doc:"Authgraph's: all the new recovery codes (10), each usable once. Show them all to the user."`
}

// EnrollmentTicketBody is POST /guardian/enrollments/ticket's body, as
// go-auth0's CreateEnrollmentTicket sends it.
type EnrollmentTicketBody struct {
	UserID string `json:"user_id" doc:"The user (user_id or node id). Required."`
	// SendMail, Email, EmailLocale, Factor and AllowMultipleEnrollments are
	// Auth0 options not served: their empty values are accepted.
	SendMail                 bool   `json:"send_mail,omitempty" doc:"Not supported: only false is accepted (hand the link to the user yourself)."`
	Email                    string `json:"email,omitempty" doc:"Not supported: only an empty value is accepted."`
	EmailLocale              string `json:"email_locale,omitempty" doc:"Accepted and ignored."`
	Factor                   string `json:"factor,omitempty" doc:"Not supported: the user picks among the enabled factors."`
	AllowMultipleEnrollments bool   `json:"allow_multiple_enrollments,omitempty" doc:"Accepted; users may always enroll several factors."`
}

// EnrollmentTicket is a created enrollment ticket.
type EnrollmentTicket struct {
	TicketID  string `json:"ticket_id" doc:"The ticket (the value of the link's ticket parameter)."`
	TicketURL string `json:"ticket_url" doc:"The single-use enrollment link: {issuer}login/mfa/enroll?ticket=…"`
}

// Factor is one Guardian factor and whether it is enabled.
type Factor struct {
	Name         string `json:"name" doc:"Auth0's factor name."`
	Enabled      bool   `json:"enabled" doc:"Whether users may enroll and use it."`
	TrialExpired bool   `json:"trial_expired" doc:"Always false."`
}

// FactorBody is PUT /guardian/factors/{name}'s body and answer.
type FactorBody struct {
	Enabled *bool `json:"enabled" doc:"Enable or disable the factor. Required."`
}

// factorNames maps Auth0's factor names to package mfa's; the others Auth0
// lists exist only as disabled.
var factorNames = map[string]mfa.Factor{
	"otp": mfa.FactorTOTP, "email": mfa.FactorEmail, "recovery-code": mfa.FactorRecoveryCode,
	"webauthn-roaming": mfa.FactorWebAuthn,
}

// factorOrder is Auth0's order of GET /guardian/factors.
var factorOrder = []string{"push-notification", "sms", "email", "duo", "otp", "webauthn-roaming", "webauthn-platform", "recovery-code"}

// methodTypes are Auth0's authentication method types (which differ from
// its factor names: a TOTP app is factor "otp", method "totp").
var methodTypes = map[mfa.Factor]string{
	mfa.FactorTOTP: "totp", mfa.FactorEmail: "email", mfa.FactorRecoveryCode: "recovery-code",
	mfa.FactorWebAuthn: "webauthn-roaming",
}

func methodType(f mfa.Factor) string {
	if t, ok := methodTypes[f]; ok {
		return t
	}
	return string(f)
}

// policyNames are GET/PUT /guardian/policies' values. "opt-in" is
// Authgraph's: Auth0 has no policy for it ([] there means never).
const (
	policyAll   = "all-applications"
	policyOptIn = "opt-in"
)

func policiesOf(p mfa.Policy) []string {
	switch p {
	case mfa.PolicyAlways:
		return []string{policyAll}
	case mfa.PolicyOptIn:
		return []string{policyOptIn}
	}
	return []string{}
}

func (a *API) mfaRoutes() []*Route {
	return []*Route{
		{
			Method: http.MethodGet, Path: "/users/{id}/authentication-methods", Scopes: []string{mfa.ScopeReadAuthenticators},
			Summary: "Get a list of authentication methods",
			Description: "Lists the user's second factors, oldest first; the recovery codes are one entry. Secrets are " +
				"never returned. Auth0 asks read:authentication_methods; Authgraph asks read:users.",
			Query: PageQuery{}, Response: []AuthenticationMethod{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r, "page", "per_page", "include_totals"); err != nil {
					return nil, err
				}
				p, err := r.Paging()
				if err != nil {
					return nil, err
				}
				as, err := a.cfg.MFA.Manager().Authenticators(r.Ctx(), r.Param("id"))
				if err != nil {
					return nil, err
				}
				items := []AuthenticationMethod{}
				for i := p.Offset(); i < len(as) && i < p.Offset()+p.PerPage; i++ {
					items = append(items, AuthenticationMethod{ID: as[i].ID, Type: methodType(as[i].Type),
						Confirmed: as[i].Confirmed, Name: as[i].Name, CreatedAt: as[i].CreatedAt, LastAuthAt: as[i].LastUsedAt})
				}
				return List(p, "authenticators", items, len(as)), nil
			},
		},
		{
			Method: http.MethodDelete, Path: "/users/{id}/authentication-methods/{method_id}", Scopes: []string{mfa.ScopeUpdateAuthenticators},
			Summary: "Delete an authentication method by ID",
			Description: "Removes one second factor of the user (for recovery codes, all of them); remembered browsers " +
				"must pass the challenge again. Audited as deleteAuthenticator.",
			Status: http.StatusNoContent,
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				return nil, a.cfg.MFA.Manager().Delete(r.Ctx(), "deleteAuthenticator", r.Param("id"), r.Param("method_id"))
			},
		},
		{
			Method: http.MethodDelete, Path: "/users/{id}/authentication-methods", Scopes: []string{mfa.ScopeUpdateAuthenticators},
			Summary: "Delete all authentication methods",
			Description: "Removes every second factor and recovery code of the user, their enrollment tickets and MFA " +
				"lockout. Audited as resetMfa.",
			Status: http.StatusNoContent,
			Handle: a.resetMFA,
		},
		{
			Method: http.MethodDelete, Path: "/users/{id}/authenticators", Scopes: []string{mfa.ScopeUpdateAuthenticators},
			Summary:     "Delete all authenticators",
			Description: "The same as DELETE /users/{id}/authentication-methods. Audited as resetMfa.",
			Status:      http.StatusNoContent,
			Handle:      a.resetMFA,
		},
		{
			Method: http.MethodPost, Path: "/users/{id}/recovery-code-regeneration", Scopes: []string{mfa.ScopeUpdateAuthenticators},
			Summary: "Generate new multi-factor authentication recovery codes",
			Description: "Replaces the user's recovery codes with new ones, returned once; the earlier codes stop working. " +
				"Auth0 returns one code in recovery_code; Authgraph keeps 10, each usable once: recovery_code is the first " +
				"and recovery_codes lists them all. A user with no confirmed factor: 404 inexistent_enrollment. Takes no " +
				"body (one sent is ignored). Audited as regenerateRecoveryCode.",
			Response: RecoveryCode{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				codes, err := a.cfg.MFA.Manager().RegenerateRecoveryCodes(r.Ctx(), "regenerateRecoveryCode", r.Param("id"))
				if errors.Is(err, mfa.ErrNotFound) {
					return nil, notFound("enrollment")
				}
				if err != nil {
					return nil, err
				}
				return RecoveryCode{RecoveryCode: codes[0], RecoveryCodes: codes}, nil
			},
		},
		{
			Method: http.MethodPost, Path: "/users/{id}/multifactor/actions/invalidate-remember-browser", Scopes: []string{mfa.ScopeUpdateAuthenticators},
			Summary: "Invalidate all remembered browsers for all authentication factors",
			Description: "Every browser in which the user chose \"remember this browser\" must pass the second factor " +
				"again at its next login; the user's factors and sessions are kept. Takes no body (one sent is ignored). " +
				"Audited as invalidateRememberBrowser.",
			Status: http.StatusNoContent,
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				return nil, a.cfg.MFA.Manager().ForgetBrowsers(r.Ctx(), "invalidateRememberBrowser", r.Param("id"))
			},
		},
		{
			Method: http.MethodPost, Path: "/guardian/enrollments/ticket", Scopes: []string{mfa.ScopeCreateTickets},
			Summary: "Create a multi-factor authentication enrollment ticket",
			Description: "Returns a single-use link (5 days) with which the user enrolls a factor without signing in " +
				"first. Only the user's newest ticket works. No email is sent. Audited as createMfaEnrollmentTicket.",
			Body: EnrollmentTicketBody{}, Response: EnrollmentTicket{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				var b EnrollmentTicketBody
				if err := r.Decode(&b); err != nil {
					return nil, err
				}
				switch {
				case b.UserID == "":
					return nil, badRequest("Missing required property: user_id")
				case b.SendMail:
					return nil, badRequest("send_mail is not supported: hand the ticket_url to the user")
				case b.Email != "":
					return nil, badRequest("email is not supported")
				case b.Factor != "":
					return nil, badRequest("factor is not supported")
				}
				link, _, err := a.cfg.MFA.Manager().EnrollmentTicket(r.Ctx(), "createMfaEnrollmentTicket", b.UserID, 0)
				if err != nil {
					return nil, err
				}
				u, err := url.Parse(link)
				if err != nil {
					return nil, err
				}
				return EnrollmentTicket{TicketID: u.Query().Get("ticket"), TicketURL: link}, nil
			},
		},
		{
			Method: http.MethodGet, Path: "/guardian/factors", Scopes: []string{mfa.ScopeReadSettings},
			Summary: "Retrieve factors and their enabled states",
			Description: "Lists Auth0's factors; otp, email, webauthn-roaming (security keys and passkeys) and recovery-code " +
				"can be enabled here.",
			Response: []Factor{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				st, err := a.cfg.MFA.Manager().Settings(r.Ctx())
				if err != nil {
					return nil, err
				}
				out := make([]Factor, 0, len(factorOrder))
				for _, name := range factorOrder {
					f, ok := factorNames[name]
					out = append(out, Factor{Name: name, Enabled: ok && st.Enabled(f)})
				}
				return out, nil
			},
		},
		{
			Method: http.MethodPut, Path: "/guardian/factors/{name}", Scopes: []string{mfa.ScopeUpdateSettings},
			Summary: "Update a factor",
			Description: "Enables or disables a factor (otp, email, recovery-code). Disabling every factor a policy " +
				"other than never needs is refused. Audited as updateMfaSettings.",
			Body: FactorBody{}, Response: FactorBody{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				name := r.Param("name")
				f, known := factorNames[name]
				if !known && !slices.Contains(factorOrder, name) {
					return nil, &httpError{Status: http.StatusNotFound, ErrorCode: "inexistent_factor", Message: "The factor does not exist."}
				}
				var b FactorBody
				if err := r.Decode(&b); err != nil {
					return nil, err
				}
				if b.Enabled == nil {
					return nil, badRequest("Missing required property: enabled")
				}
				if !known {
					if *b.Enabled {
						return nil, badRequest("the %s factor is not supported", name)
					}
					return b, nil // disabled, as it always is
				}
				_, err := a.cfg.MFA.Manager().UpdateSettings(r.Ctx(), "updateMfaSettings", func(st *mfa.Settings) {
					st.Factors = slices.DeleteFunc(st.Factors, func(g mfa.Factor) bool { return g == f })
					if *b.Enabled {
						st.Factors = append(st.Factors, f)
					}
				})
				if err != nil {
					return nil, err
				}
				return b, nil
			},
		},
		{
			Method: http.MethodGet, Path: "/guardian/policies", Scopes: []string{mfa.ScopeReadSettings},
			Summary: "Get the multi-factor authentication policies",
			Description: "[] when MFA is never required, [\"all-applications\"] when it always is, and Authgraph's " +
				"[\"opt-in\"] when users who enrolled a factor are challenged.",
			Response: []string{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				st, err := a.cfg.MFA.Manager().Settings(r.Ctx())
				if err != nil {
					return nil, err
				}
				return policiesOf(st.Policy), nil
			},
		},
		{
			Method: http.MethodPut, Path: "/guardian/policies", Scopes: []string{mfa.ScopeUpdateSettings},
			Summary: "Set the multi-factor authentication policies",
			Description: "Takes [] (never), [\"all-applications\"] (always) or [\"opt-in\"]; confidence-score is not " +
				"supported. Audited as updateMfaSettings.",
			Body: []string{}, Response: []string{},
			Handle: func(r *Request) (any, error) {
				if err := refuseUnknownQuery(r); err != nil {
					return nil, err
				}
				var b []string
				if err := r.Decode(&b); err != nil {
					return nil, err
				}
				p := mfa.PolicyNever
				switch {
				case len(b) > 1:
					return nil, badRequest("at most one policy is supported")
				case len(b) == 0:
				case b[0] == policyAll:
					p = mfa.PolicyAlways
				case b[0] == policyOptIn:
					p = mfa.PolicyOptIn
				default:
					return nil, badRequest("policy %q is not supported", b[0])
				}
				st, err := a.cfg.MFA.Manager().UpdateSettings(r.Ctx(), "updateMfaSettings", func(st *mfa.Settings) { st.Policy = p })
				if err != nil {
					return nil, err
				}
				return policiesOf(st.Policy), nil
			},
		},
	}
}

func (a *API) resetMFA(r *Request) (any, error) {
	if err := refuseUnknownQuery(r); err != nil {
		return nil, err
	}
	return nil, a.cfg.MFA.Manager().Reset(r.Ctx(), "resetMfa", r.Param("id"))
}
