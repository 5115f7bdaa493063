package oidc

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authrequest"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/mfa"
	"github.com/authgraph/authgraph/server/loginflow"
)

// MFA is what the provider asks of the second-factor service (package
// mfa's Service) to decide whether a login must pass a second factor
// before its code is issued.
type MFA interface {
	// Settings returns the tenant's policy.
	Settings(ctx context.Context) (mfa.Settings, error)
	// Enrolled reports whether the user has a factor that can answer a
	// challenge.
	Enrolled(ctx context.Context, userID pulid.ID) (bool, error)
	// Remembered reports whether a remember-browser cookie value is valid
	// for the user.
	Remembered(ctx context.Context, userID pulid.ID, value string) bool
}

// needsMFA decides, once the rules have run and before a code is issued,
// whether login must still pass a second factor. A factor is required by
// the tenant's policy (always; opt-in for enrolled users), by a rule
// (ruleRequires) or by the request (acr_values naming the multi-factor
// policy). It is satisfied by a factor passed in the login's session ("mfa"
// in its AMR) or, when only the policy asks, by the browser's
// remember-browser cookie for this user (valid under the current settings). Every completion goes through
// here, SSO included: a session never skips a factor it did not pass.
func (p *Provider) needsMFA(ctx context.Context, r *http.Request, ar *ent.AuthRequest, login loginflow.Login, ruleRequires bool) (bool, error) {
	if slices.Contains(login.AMR, loginflow.AMRMFA) {
		return false, nil
	}
	forced := slices.Contains(ar.AcrValues, loginflow.MultiFactorACR)
	required := forced || ruleRequires
	if !required && p.mfa != nil {
		set, err := p.mfa.Settings(ctx)
		if err != nil {
			return false, err
		}
		switch set.Policy {
		case mfa.PolicyAlways:
			required = true
		case mfa.PolicyOptIn:
			if required, err = p.mfa.Enrolled(ctx, login.UserID); err != nil {
				return false, err
			}
		}
	}
	if !required {
		return false, nil
	}
	// A remembered browser answers the tenant's policy only: not a
	// request that asks for a factor, nor a rule that does (a rule asks
	// for a reason a cookie from another day cannot know; Auth0's
	// allowRememberBrowser is off by default for the same reason).
	if !forced && !ruleRequires && p.mfa != nil {
		if c, err := r.Cookie(loginflow.RememberBrowserCookie); err == nil && c.Value != "" && len(c.Value) <= 512 &&
			p.mfa.Remembered(ctx, login.UserID, c.Value) {
			return false, nil
		}
	}
	return true, nil
}

// awaitMFA leaves the request pending, bound to the user and session of
// login, and sends the browser to the second-factor page; prompt=none gets
// interaction_required instead (no page may be shown).
func (p *Provider) awaitMFA(w http.ResponseWriter, r *http.Request, ar *ent.AuthRequest, login loginflow.Login) {
	if slices.Contains(ar.Prompt, oidc.PromptNone) {
		p.finish(w, r, ar, "interaction_required", "a second factor is required")
		return
	}
	if login.SessionID == "" {
		// Only a session can carry the factor on to the completion.
		p.finish(w, r, ar, "access_denied", "a second factor is required")
		return
	}
	// A transient write, as the request's creation: lost in a crash, the
	// login starts again.
	n, err := p.transient.AuthRequest.Update().
		Where(authrequest.ID(ar.ID), authrequest.Done(false)).
		SetUserRef(login.UserID).
		SetSessionRef(login.SessionID).
		Save(authz.SystemContext(r.Context()))
	if err != nil {
		p.requests.drop(string(ar.ID))
		p.serverErrorRedirect(w, r, targetOf(ar), "binding an auth request to its second factor", err)
		return
	}
	if n == 0 {
		p.requests.drop(string(ar.ID))
		p.handoffError(w, r, loginflow.ErrUnknownRequest)
		return
	}
	bound := *ar
	bound.UserRef, bound.SessionRef = &login.UserID, &login.SessionID
	p.requests.put(string(ar.ID), &bound, nil, ar.ExpiresAt, p.now())
	http.Redirect(w, r, p.MFAURL(string(ar.ID)), http.StatusFound)
}

// MFAURL is the second-factor page of an auth request:
// {issuer}login/mfa?req=<id>.
func (p *Provider) MFAURL(authRequestID string) string {
	return p.issuer + loginflow.MFAPath + "?" + loginflow.ParamRequestID + "=" + url.QueryEscape(authRequestID)
}

// mfaStep is the binding awaitMFA recorded on a pending request, nil when it
// awaits a login.
func mfaStep(ar *ent.AuthRequest) *loginflow.MFAStep {
	if ar.Done || ar.UserRef == nil || ar.SessionRef == nil {
		return nil
	}
	return &loginflow.MFAStep{UserID: *ar.UserRef, SessionID: *ar.SessionRef}
}

// acrOf is the ID token's acr: the multi-factor policy when a second factor
// was passed (Auth0 does the same), none otherwise.
func acrOf(amr []string) string {
	if slices.Contains(amr, loginflow.AMRMFA) {
		return loginflow.MultiFactorACR
	}
	return ""
}
