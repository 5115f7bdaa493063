package oidc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/application"
	"github.com/authgraph/authgraph/ent/grant"
	"github.com/authgraph/authgraph/sessions"
)

// serveEndSession is RP-initiated logout (OpenID Connect RP-Initiated Logout
// 1.0). With a valid id_token_hint naming the browser's session user, the
// session ends at once; without one, the user confirms on a page (a POST
// carrying a token bound to the session, so another site cannot log the
// user out). Ending a session revokes its grants that lack offline_access
// (their access tokens stop working at /userinfo); offline grants survive
// by design. post_logout_redirect_uri must be registered in the client's
// logout_urls, and the client must be identified by id_token_hint or
// client_id; otherwise an error page is shown and nothing redirects.
func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxAuthorizeBytes)
	}
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "The logout request is malformed.")
		return
	}
	form := r.Form
	var hintSub, hintClient string
	if hint := form.Get("id_token_hint"); hint != "" {
		t, err := p.parseJWT(ctx, hint)
		if err != nil || t.typ == typeAccessToken {
			p.errorPage(w, http.StatusBadRequest, "The id_token_hint is not a valid ID token of this issuer.")
			return
		}
		hintSub = t.str("sub")
		hintClient = t.str("azp")
		if aud := t.audiences(); hintClient == "" && len(aud) == 1 {
			hintClient = aud[0]
		}
	}
	clientID := form.Get("client_id")
	if clientID != "" && hintClient != "" && clientID != hintClient {
		p.errorPage(w, http.StatusBadRequest, "client_id does not match the id_token_hint.")
		return
	}
	if clientID == "" {
		clientID = hintClient
	}
	var app *ent.Application
	if clientID != "" {
		var err error
		app, err = p.db.Application.Query().Where(application.ClientID(clientID)).Only(authz.SystemContext(ctx))
		if ent.IsNotFound(err) {
			p.errorPage(w, http.StatusBadRequest, "Unknown client.")
			return
		}
		if err != nil {
			p.logError(ctx, "end_session: loading a client", err)
			p.errorPage(w, http.StatusInternalServerError, "Internal error.")
			return
		}
	}
	postLogout := form.Get("post_logout_redirect_uri")
	// A URI registered before the registration rules (clients/redirecturi.go)
	// that breaks them is not used either.
	if postLogout != "" && (app == nil || !slices.Contains(app.LogoutUrls, postLogout) ||
		clients.ValidateRedirectURI(clients.FieldLogoutURLs, postLogout) != nil) {
		p.errorPage(w, http.StatusBadRequest, "The post_logout_redirect_uri is not registered for this client.")
		return
	}

	s, err := p.sessions.Current(ctx, r)
	if err != nil && !errors.Is(err, sessions.ErrNoSession) {
		p.logError(ctx, "end_session: loading the session", err)
		p.errorPage(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	end := false
	if s != nil {
		switch {
		case hintSub != "":
			// The hint names the RP's user; another user's session is
			// left alone.
			end = s.Edges.User != nil && s.Edges.User.UserID == hintSub
		case r.Method == http.MethodPost && form.Get("confirm") == "1":
			end = p.logoutTokenValid(form.Get("csrf"), string(s.ID))
		default:
			p.logoutConfirmPage(w, form, p.logoutToken(string(s.ID)))
			return
		}
	}
	if end {
		if _, err := p.sessions.End(ctx, w, r); err != nil && !errors.Is(err, sessions.ErrNoSession) {
			p.logError(ctx, "end_session: ending the session", err)
		}
		gs, err := p.db.Grant.Query().Where(grant.SessionRef(s.ID), grant.RevokedAtIsNil()).All(authz.SystemContext(ctx))
		if err != nil {
			p.logError(ctx, "end_session: loading grants", err)
		}
		for _, g := range gs {
			if !slices.Contains(g.Scopes, oidc.ScopeOfflineAccess) {
				if err := p.revokeGrant(ctx, g.ID, ReasonLogout); err != nil {
					p.logError(ctx, "end_session: revoking a grant", err)
				}
			}
		}
	}
	if postLogout != "" {
		u, err := url.Parse(postLogout)
		if err != nil {
			p.errorPage(w, http.StatusBadRequest, "The post_logout_redirect_uri is invalid.")
			return
		}
		if st := form.Get("state"); st != "" {
			q := u.Query()
			q.Set("state", st)
			u.RawQuery = q.Encode()
		}
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	_ = signedOutPage.Execute(w, nil)
}

// logoutToken binds a logout confirmation to the session (HMAC of its id
// under a key derived from the signing key set's process key).
func (p *Provider) logoutToken(sessionID string) string {
	return logoutMAC(p.logoutKeys[0], sessionID)
}

// logoutTokenValid checks a confirmation under the current key or a previous
// master key's (a page rendered before a master key rotation).
func (p *Provider) logoutTokenValid(token, sessionID string) bool {
	for _, k := range p.logoutKeys {
		if hmac.Equal([]byte(token), []byte(logoutMAC(k, sessionID))) {
			return true
		}
	}
	return false
}

func logoutMAC(key []byte, sessionID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("logout:" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (p *Provider) logoutConfirmPage(w http.ResponseWriter, form url.Values, csrf string) {
	fields := []formField{{Name: "confirm", Value: "1"}, {Name: "csrf", Value: csrf}}
	for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
		if v := form.Get(k); v != "" {
			fields = append(fields, formField{Name: k, Value: v})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	_ = logoutConfirmTmpl.Execute(w, struct {
		Action string
		Fields []formField
	}{p.URL(EndSessionPath), fields})
}

var logoutConfirmTmpl = template.Must(template.New("logout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign out</title></head>
<body><main><h1>Sign out?</h1>
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<button type="submit">Sign out</button>
</form></main></body></html>
`))

var signedOutPage = template.Must(template.New("signed_out").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head>
<body><main><h1>You are signed out.</h1></main></body></html>
`))
