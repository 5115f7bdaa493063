package oidc

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authrequest"
	"github.com/authgraph/authgraph/server/loginflow"
)

// MFA is the tenant's second-factor policy (package mfa's Service), which
// authn.Finalize consults.
type MFA = authn.MFA

// awaitMFA leaves the request pending, bound to the user and session of
// login, and sends the browser to the second-factor page (authn.Finalize
// answered NeedMFA: a page may be shown and there is a session).
func (p *Provider) awaitMFA(w http.ResponseWriter, r *http.Request, ar *ent.AuthRequest, login loginflow.Login) {
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
