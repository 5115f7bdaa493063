package oidc

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/authgraph/authgraph/authn"
	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent"
	"github.com/authgraph/authgraph/ent/authrequest"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/server/loginflow"
	"github.com/authgraph/authgraph/sessions"
)

// Lifetimes of the authorization step.
const (
	// AuthRequestLifetime is how long a user has to finish logging in.
	AuthRequestLifetime = 30 * time.Minute
	// CodeLifetime is the authorization code lifetime (single use).
	CodeLifetime = 60 * time.Second
)

// maxAuthorizeBytes bounds an /authorize POST body.
const maxAuthorizeBytes = 64 << 10

// singleParams must not be repeated in an authorization request (RFC 6749
// §3.1).
var singleParams = []string{"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "id_token_hint", "login_hint", "claims", "audience"}

// target is where the authorization response goes.
type target struct {
	redirectURI string
	state       string
	formPost    bool
}

func targetOf(ar *ent.AuthRequest) *target {
	return &target{redirectURI: ar.RedirectURI, state: ar.State, formPost: ar.ResponseMode == string(oidc.ResponseModeFormPost)}
}

// serveAuthorize handles GET and POST /authorize. Until the client and its
// redirect_uri are known to be registered, errors are an error page (never a
// redirect); after that they go to the redirect_uri with `state`.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxAuthorizeBytes)
	}
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "The authorization request is malformed.")
		return
	}
	form := r.Form
	clientID := form.Get("client_id")
	if clientID == "" || len(form["client_id"]) > 1 {
		p.errorPage(w, http.StatusBadRequest, "The authorization request has no valid client_id.")
		return
	}
	app, err := p.clients.Get(ctx, clientID)
	if err != nil && p.unavailablePage(w, r, "authorize: loading client", err) {
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "oidc: authorize: loading client", slog.Any("error", err))
		p.errorPage(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	if app == nil {
		p.errorPage(w, http.StatusBadRequest, "Unknown client.")
		return
	}
	redirectURI := form.Get("redirect_uri")
	// A URI registered before the registration rules (clients/redirecturi.go)
	// that breaks them (javascript:, plain http to another host…) gets no
	// code either.
	if redirectURI == "" || len(form["redirect_uri"]) > 1 || !slices.Contains(app.RedirectUris, redirectURI) ||
		clients.ValidateRedirectURI(clients.FieldRedirectURIs, redirectURI) != nil {
		p.errorPage(w, http.StatusBadRequest, "The redirect_uri is missing or is not registered for this client.")
		return
	}

	// From here on the client's redirect_uri receives the errors.
	tgt := &target{redirectURI: redirectURI, state: form.Get("state")}
	switch form.Get("response_mode") {
	case "", string(oidc.ResponseModeQuery):
	case string(oidc.ResponseModeFormPost):
		tgt.formPost = true
	default:
		p.authError(w, r, tgt, "invalid_request", "unsupported response_mode (query and form_post are)")
		return
	}
	for _, name := range singleParams {
		if len(form[name]) > 1 {
			p.authError(w, r, tgt, "invalid_request", "parameter "+name+" is repeated")
			return
		}
	}
	if form.Has("request") {
		p.authError(w, r, tgt, "request_not_supported", "request objects are not supported")
		return
	}
	if form.Has("request_uri") {
		p.authError(w, r, tgt, "request_uri_not_supported", "request_uri is not supported")
		return
	}
	switch rt := form.Get("response_type"); rt {
	case "":
		p.authError(w, r, tgt, "invalid_request", "response_type missing")
		return
	case string(oidc.ResponseTypeCode):
	default:
		p.authError(w, r, tgt, "unsupported_response_type", "only response_type=code is supported")
		return
	}
	if !slices.Contains(app.GrantTypes, string(oidc.GrantTypeCode)) {
		p.authError(w, r, tgt, "unauthorized_client", "the client may not use the authorization code flow")
		return
	}
	var req oidc.AuthRequest
	if err := p.op.Decoder().Decode(&req, form); err != nil {
		p.authError(w, r, tgt, "invalid_request", "malformed authorization request")
		return
	}

	// prompt: none stands alone; unknown values are ignored.
	var prompts []string
	for _, v := range req.Prompt {
		switch v {
		case oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount:
			if !slices.Contains(prompts, v) {
				prompts = append(prompts, v)
			}
		}
	}
	if slices.Contains(prompts, oidc.PromptNone) && len(prompts) > 1 {
		p.authError(w, r, tgt, "invalid_request", "prompt=none must be the only prompt value")
		return
	}

	// PKCE: required (S256) for public clients; S256 only for everyone.
	if req.CodeChallenge == "" {
		if !clients.IsConfidential(string(app.Type)) {
			p.authError(w, r, tgt, "invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
			return
		}
		if req.CodeChallengeMethod != "" {
			p.authError(w, r, tgt, "invalid_request", "code_challenge_method without code_challenge")
			return
		}
	} else {
		if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
			p.authError(w, r, tgt, "invalid_request", "code_challenge_method must be S256")
			return
		}
		if !validPKCEValue(req.CodeChallenge, 43, 43) {
			p.authError(w, r, tgt, "invalid_request", "malformed code_challenge")
			return
		}
	}

	if len(req.Scopes) == 0 {
		p.authError(w, r, tgt, "invalid_request", "scope missing")
		return
	}
	audiences := append(slices.Clone(form["audience"]), form["resource"]...)
	if len(audiences) > 1 {
		p.authError(w, r, tgt, "invalid_target", "at most one audience may be requested")
		return
	}
	var api *API
	if len(audiences) == 1 {
		api, err = p.resolveAPI(ctx, audiences[0])
		if errors.Is(err, errUnknownAPI) {
			p.authError(w, r, tgt, "invalid_target", "unknown audience")
			return
		}
		if err != nil {
			p.serverErrorRedirect(w, r, tgt, "resolving an audience", err)
			return
		}
	}
	scopes := requestScopes(app, req.Scopes, api)

	cr := &claimsRequest{}
	if raw := form.Get("claims"); raw != "" {
		cr, err = parseClaimsParam(raw)
		if err != nil {
			p.authError(w, r, tgt, "invalid_request", err.Error())
			return
		}
	}
	hintSub := ""
	if req.IDTokenHint != "" {
		hintSub, err = p.idTokenHintSubject(ctx, req.IDTokenHint)
		if err != nil {
			if errors.Is(err, ErrKeysUnavailable) {
				p.serverErrorRedirect(w, r, tgt, "verifying id_token_hint", err)
				return
			}
			p.authError(w, r, tgt, "invalid_request", "id_token_hint is not a valid ID token of this issuer")
			return
		}
	}
	conns, err := p.connectionsFor(ctx, app.ClientID)
	if err != nil {
		p.serverErrorRedirect(w, r, tgt, "loading the client's connections", err)
		return
	}
	connName := form.Get("connection")
	if connName != "" && !slices.ContainsFunc(conns, func(c *ent.Connection) bool { return c.Name == connName }) {
		// Auth0's answer, whether or not the connection exists: the client
		// learns nothing about connections it may not use.
		p.authError(w, r, tgt, "invalid_request", "the connection is not enabled")
		return
	}
	var maxAge *int
	if req.MaxAge != nil {
		v := int(min(*req.MaxAge, 1<<31-1))
		maxAge = &v
	}
	var aud []string
	if api != nil {
		aud = []string{api.Identifier}
	}
	// A transient write (store/transient.go): lost in a crash, the request
	// simply cannot be completed.
	create := p.transient.AuthRequest.Create().
		SetClientID(app.ClientID).
		SetRedirectURI(redirectURI).
		SetResponseType(string(oidc.ResponseTypeCode)).
		SetResponseMode(string(req.ResponseMode)).
		SetScopes(scopes).
		SetState(req.State).
		SetNonce(req.Nonce).
		SetCodeChallenge(req.CodeChallenge).
		SetCodeChallengeMethod(string(req.CodeChallengeMethod)).
		SetPrompt(nonNilStrings(prompts)).
		SetNillableMaxAge(maxAge).
		SetLoginHint(truncate(req.LoginHint, 512)).
		SetUILocales(nonNilStrings(strings.Fields(form.Get("ui_locales")))).
		SetAcrValues(nonNilStrings(req.ACRValues)).
		SetIDTokenHintSubject(hintSub).
		SetAudience(nonNilStrings(aud)).
		SetConnection(connName).
		SetClaimsRequest(cr.toMap()).
		SetExpiresAt(p.now().Add(AuthRequestLifetime))
	ar, err := create.Save(authz.SystemContext(ctx))
	if err != nil {
		p.serverErrorRedirect(w, r, tgt, "storing an auth request", err)
		return
	}
	p.requests.put(string(ar.ID), ar, nil, ar.ExpiresAt, p.now())
	p.continueAuthorize(w, r, ar, app, conns)
}

// continueAuthorize uses the browser's SSO session when it satisfies the
// request (no prompt=login/select_account, max_age, id_token_hint's user,
// a connection enabled for the client and, with connection=, that one),
// answers login_required to prompt=none otherwise, and else sends the
// browser to the login page, which gets only requests needing a login.
func (p *Provider) continueAuthorize(w http.ResponseWriter, r *http.Request, ar *ent.AuthRequest, app *ent.Application, enabled []*ent.Connection) {
	ctx := r.Context()
	s, err := p.sessions.Current(ctx, r)
	if err != nil && !errors.Is(err, sessions.ErrNoSession) {
		p.serverErrorRedirect(w, r, targetOf(ar), "loading the session", err)
		return
	}
	usable := s != nil &&
		!slices.Contains(ar.Prompt, oidc.PromptLogin) &&
		!slices.Contains(ar.Prompt, oidc.PromptSelectAccount) &&
		(ar.MaxAge == nil || p.now().Sub(s.AuthTime) <= time.Duration(*ar.MaxAge)*time.Second) &&
		(ar.IDTokenHintSubject == "" || (s.Edges.User != nil && s.Edges.User.UserID == ar.IDTokenHintSubject)) &&
		sessionConnectionAllowed(s.Connection, ar.Connection, enabled)
	if usable {
		p.complete(w, r, ar, app, enabled, loginflow.Login{
			UserID: s.UserRef, SessionID: s.ID, AuthTime: s.AuthTime, AMR: s.Amr, Connection: s.Connection,
		})
		return
	}
	if slices.Contains(ar.Prompt, oidc.PromptNone) {
		p.finish(w, r, ar, "login_required", "the user must log in")
		return
	}
	http.Redirect(w, r, p.LoginURL(string(ar.ID)), http.StatusFound)
}

// sessionConnectionAllowed is authn.ConnectionAllowed for the client's
// connections.
func sessionConnectionAllowed(sessionConn, requested string, enabled []*ent.Connection) bool {
	names := make([]string, 0, len(enabled))
	for _, c := range enabled {
		names = append(names, c.Name)
	}
	return authn.ConnectionAllowed(sessionConn, requested, names)
}

// LoginURL is the hosted login page for an auth request:
// {issuer}login?req=<id>.
func (p *Provider) LoginURL(authRequestID string) string {
	return p.issuer + strings.TrimPrefix(LoginPath, "/") + "?" + loginflow.ParamRequestID + "=" + url.QueryEscape(authRequestID)
}

// pending loads an auth request that is waiting for a login.
func (p *Provider) pending(ctx context.Context, id string) (*ent.AuthRequest, error) {
	if !strings.HasPrefix(id, "arq_") || len(id) > 64 {
		return nil, loginflow.ErrUnknownRequest
	}
	if ar := p.requests.get(id, p.now()); ar != nil {
		return ar, nil
	}
	ar, err := p.db.AuthRequest.Query().
		Where(authrequest.ID(pulid.ID(id)), authrequest.Done(false), authrequest.ExpiresAtGT(p.now())).
		Only(authz.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, loginflow.ErrUnknownRequest
	}
	return ar, err
}

// Request implements loginflow.Handoff.
func (p *Provider) Request(ctx context.Context, id string) (*loginflow.Request, error) {
	ar, err := p.pending(ctx, id)
	if err != nil {
		return nil, err
	}
	app, err := p.clients.Get(ctx, ar.ClientID)
	if err != nil {
		return nil, err
	}
	if app == nil {
		return nil, loginflow.ErrUnknownRequest
	}
	conns, err := p.connectionsFor(ctx, app.ClientID)
	if err != nil {
		return nil, err
	}
	var enabled []loginflow.Connection
	for _, c := range conns {
		enabled = append(enabled, loginflow.Connection{Name: c.Name, Strategy: string(c.Strategy)})
	}
	return &loginflow.Request{
		ID:                 string(ar.ID),
		ClientID:           app.ClientID,
		ClientName:         app.Name,
		ClientType:         string(app.Type),
		RedirectURI:        ar.RedirectURI,
		Scopes:             slices.Clone(ar.Scopes),
		Audience:           slices.Clone(ar.Audience),
		Connection:         ar.Connection,
		LoginHint:          ar.LoginHint,
		Prompt:             slices.Clone(ar.Prompt),
		MaxAge:             ar.MaxAge,
		UILocales:          slices.Clone(ar.UILocales),
		IDTokenHintSubject: ar.IDTokenHintSubject,
		EnabledConnections: enabled,
		MFA:                mfaStep(ar),
	}, nil
}

// Complete implements loginflow.Handoff: it records the login and answers
// the browser with the authorization response (a redirect to the client, or
// the form_post page). An unknown or expired request gets an error page.
func (p *Provider) Complete(w http.ResponseWriter, r *http.Request, id string, login loginflow.Login) {
	ctx := r.Context()
	ar, err := p.pending(ctx, id)
	if err != nil {
		p.finalizer.Abandon(ctx, login)
		p.handoffError(w, r, err)
		return
	}
	app, err := p.clients.Get(ctx, ar.ClientID)
	if err == nil && app == nil {
		err = loginflow.ErrUnknownRequest
	}
	if err != nil {
		p.finalizer.Abandon(ctx, login)
		p.handoffError(w, r, err)
		return
	}
	// Whatever page did the login, it counts only through a connection the
	// client is enabled for (and the one connection= named, if any):
	// authn.Finalize checks, as for SSO sessions.
	conns, err := p.connectionsFor(ctx, app.ClientID)
	if err != nil {
		p.finalizer.Abandon(ctx, login)
		p.serverErrorRedirect(w, r, targetOf(ar), "loading the client's connections", err)
		return
	}
	p.complete(w, r, ar, app, conns, login)
}

// Fail implements loginflow.Handoff: the request ends with error code
// (login_required, access_denied…) sent to the client with its state.
func (p *Provider) Fail(w http.ResponseWriter, r *http.Request, id, code, description string) {
	ar, err := p.pending(r.Context(), id)
	if err != nil {
		p.handoffError(w, r, err)
		return
	}
	p.finish(w, r, ar, code, description)
}

func (p *Provider) handoffError(w http.ResponseWriter, r *http.Request, err error) {
	if p.unavailablePage(w, r, "login handoff", err) {
		return
	}
	if !errors.Is(err, loginflow.ErrUnknownRequest) && !ent.IsNotFound(err) {
		p.log.ErrorContext(r.Context(), "oidc: login handoff", slog.Any("error", err))
		p.errorPage(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	p.errorPage(w, http.StatusBadRequest, "This login request has expired or was already used. Go back to the application and sign in again.")
}

// finish ends a pending request with an error sent to the client.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, ar *ent.AuthRequest, code, description string) {
	n, err := p.db.AuthRequest.Update().
		Where(authrequest.ID(ar.ID), authrequest.Done(false)).
		SetDone(true).
		Save(authz.SystemContext(r.Context()))
	p.requests.drop(string(ar.ID))
	if err != nil {
		p.log.ErrorContext(r.Context(), "oidc: ending an auth request", slog.Any("error", err))
	}
	if err == nil && n == 0 {
		p.handoffError(w, r, loginflow.ErrUnknownRequest)
		return
	}
	p.authError(w, r, targetOf(ar), code, description)
}

// complete decides the login (authn.Finalize) for a pending request and
// answers the browser: the code, the second-factor page, or the error.
func (p *Provider) complete(w http.ResponseWriter, r *http.Request, ar *ent.AuthRequest, app *ent.Application, enabled []*ent.Connection, login loginflow.Login) {
	ctx := r.Context()
	sys := authz.SystemContext(ctx)
	tgt := targetOf(ar)
	req := &authn.Request{
		Client:             app,
		Connection:         ar.Connection,
		Scopes:             ar.Scopes,
		Audience:           first(ar.Audience),
		IDTokenHintSubject: ar.IDTokenHintSubject,
		RedirectURI:        ar.RedirectURI,
		PromptNone:         slices.Contains(ar.Prompt, oidc.PromptNone),
		ACRValues:          ar.AcrValues,
	}
	for _, c := range enabled {
		req.EnabledConnections = append(req.EnabledConnections, c.Name)
	}
	if c, err := r.Cookie(loginflow.RememberBrowserCookie); err == nil {
		req.RememberBrowser = c.Value
	}
	res, err := p.finalizer.Finalize(ctx, req, login)
	if err != nil {
		p.serverErrorRedirect(w, r, tgt, "deciding a login", err)
		return
	}
	if res.Session != nil {
		// The login was recorded with a new session: the browser gets it
		// whatever comes next (the second-factor page is bound to it).
		p.sessions.Open(ctx, w, r, res.Session)
	}
	login.SessionID = res.SessionID
	switch res.Outcome {
	case authn.Denied:
		if login.Pending != nil {
			// A new sign-in was refused: the browser keeps no session of
			// an earlier one (someone else's, on a shared browser).
			_, _ = p.sessions.End(ctx, w, r)
		}
		p.finish(w, r, ar, res.Error, res.Description)
		return
	case authn.NeedMFA:
		p.awaitMFA(w, r, ar, login)
		return
	}
	user, granted, authTime := res.User, res.Scopes, res.AuthTime
	cr := claimsRequestFrom(ar.ClaimsRequest)
	cr.CustomID, cr.CustomAccess = res.IDClaims, res.AccessClaims
	// Kept with the code so that the permissions computed at the exchange
	// apply the same change to the user's roles.
	cr.Roles = res.Roles

	claims := cr.toMap()
	code := newSecret()
	codeHash := hashToken(code)
	now := p.now()
	codeExpires := now.Add(CodeLifetime)
	// A transient write: a code whose issuance a crash loses cannot be
	// redeemed, and a redeemed one was made durable by the exchange.
	upd := p.transient.AuthRequest.Update().
		Where(authrequest.ID(ar.ID), authrequest.Done(false)).
		SetDone(true).
		SetUserRef(user.ID).
		SetAuthTime(authTime).
		SetAmr(nonNilStrings(login.AMR)).
		SetScopes(granted).
		SetClaimsRequest(claims).
		SetCodeHash(codeHash).
		SetCodeExpiresAt(codeExpires).
		// The row outlives the code by a little, so a late second
		// exchange is still recognised as reuse; the code exchange
		// extends it to the grant's lifetime.
		SetExpiresAt(now.Add(AuthRequestLifetime))
	if login.SessionID != "" {
		upd.SetSessionRef(login.SessionID)
	} else {
		// Not the session a second factor was awaited in.
		upd.ClearSessionRef()
	}
	n, err := upd.Save(sys)
	p.requests.drop(string(ar.ID))
	if err != nil {
		p.serverErrorRedirect(w, r, tgt, "storing the code", err)
		return
	}
	if n == 0 {
		p.handoffError(w, r, loginflow.ErrUnknownRequest)
		return
	}
	// The row as the update left it, for the code exchange (cache.go).
	issued := *ar
	issued.Done, issued.UserRef, issued.AuthTime, issued.Amr = true, &user.ID, &authTime, nonNilStrings(login.AMR)
	issued.Scopes, issued.ClaimsRequest, issued.CodeHash = granted, claims, &codeHash
	issued.CodeExpiresAt, issued.ExpiresAt = &codeExpires, now.Add(AuthRequestLifetime)
	issued.SessionRef = nil
	if login.SessionID != "" {
		issued.SessionRef = &login.SessionID
	}
	p.codes.put(codeHash, &issued, user, codeExpires, now)
	p.respond(w, r, tgt, url.Values{"code": {code}})
}

// requestScopes keeps the scopes the request may get: OIDC scopes, the
// API's own scopes, and offline_access only when the client may refresh and
// the API (if any) allows offline access. Unknown scopes are dropped, as
// Auth0 does.
func requestScopes(app *ent.Application, requested []string, api *API) []string {
	out := []string{}
	for _, s := range requested {
		if s == "" || slices.Contains(out, s) {
			continue
		}
		switch {
		case s == oidc.ScopeOfflineAccess:
			if !slices.Contains(app.GrantTypes, string(oidc.GrantTypeRefreshToken)) || (api != nil && !api.AllowOfflineAccess) {
				continue
			}
		case slices.Contains(oidcScopes, s):
		case api != nil && slices.Contains(api.Scopes, s):
		default:
			continue
		}
		out = append(out, s)
	}
	return out
}

// grantScopes splits the request's scopes into OIDC scopes (granted as
// requested) and API scopes: for an API that enforces policies, those among
// the user's permissions (computed with roles when not nil, see
// Authorization.Permissions); otherwise those UserAPIScopes decides.
func (p *Provider) grantScopes(ctx context.Context, user *ent.User, app *ent.Application, api *API, scopes, roles []string) ([]string, error) {
	var out, apiReq []string
	for _, s := range scopes {
		if slices.Contains(oidcScopes, s) {
			out = append(out, s)
		} else if api != nil && slices.Contains(api.Scopes, s) {
			apiReq = append(apiReq, s)
		}
	}
	if api != nil && len(apiReq) > 0 {
		var got []string
		var err error
		if p.enforced(api) {
			got, err = p.permissions(ctx, user, api, roles)
		} else {
			got, err = p.userAPIScopes(ctx, user, app, api, apiReq)
		}
		if err != nil {
			return nil, err
		}
		for _, s := range got {
			if slices.Contains(apiReq, s) && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return nonNilStrings(out), nil
}

var errUnknownAPI = errors.New("unknown API")

// enforced reports whether a user token's scopes for api are limited to the
// user's permissions (RBAC).
func (p *Provider) enforced(api *API) bool {
	return p.authorization != nil && api != nil && !api.Management && api.EnforcePolicies && api.ID != ""
}

// permissions returns the user's effective permissions on api, never nil;
// roles, when not nil, replace the user's stored roles.
func (p *Provider) permissions(ctx context.Context, user *ent.User, api *API, roles []string) ([]string, error) {
	perms, err := p.authorization.Permissions(ctx, user.ID, api.ID, roles)
	return nonNilStrings(perms), err
}

// roleNames returns the user's role names for the claims hook; nil without
// RBAC or without a hook.
func (p *Provider) roleNames(ctx context.Context, user *ent.User) ([]string, error) {
	if p.authorization == nil || p.claimsHook == nil {
		return nil, nil
	}
	roles, err := p.authorization.RoleNames(ctx, user.ID)
	return nonNilStrings(roles), err
}

// resolveAPI finds the API an audience names: a registered ResourceServer,
// or the built-in management API.
func (p *Provider) resolveAPI(ctx context.Context, identifier string) (*API, error) {
	rs, err := p.resourceServer(ctx, identifier)
	if err != nil {
		return nil, err
	}
	if identifier == p.managementAudience {
		api := &API{
			Identifier:    identifier,
			Scopes:        append(authz.ManagementScopes(), authz.SelfServiceScopes...),
			TokenLifetime: DefaultAccessTokenLifetime,
			Management:    true,
		}
		if rs != nil {
			api.AllowOfflineAccess = rs.AllowOfflineAccess
			api.TokenLifetime = time.Duration(rs.TokenLifetime) * time.Second
			api.ID = rs.ID
		}
		return api, nil
	}
	if rs == nil {
		return nil, errUnknownAPI
	}
	api := &API{
		Identifier:           rs.Identifier,
		AllowOfflineAccess:   rs.AllowOfflineAccess,
		TokenLifetime:        time.Duration(rs.TokenLifetime) * time.Second,
		ID:                   rs.ID,
		EnforcePolicies:      rs.EnforcePolicies,
		TokenDialect:         string(rs.TokenDialect),
		IntrospectionClients: rs.IntrospectionClients,
		SigningAlg:           rs.SigningAlg,
	}
	for _, s := range rs.Scopes {
		if v := s["value"]; v != "" {
			api.Scopes = append(api.Scopes, v)
		}
	}
	if api.TokenLifetime <= 0 {
		api.TokenLifetime = DefaultAccessTokenLifetime
	}
	return api, nil
}

// idTokenHintSubject verifies an id_token_hint (our signature and issuer;
// an expired token is still a valid hint) and returns its subject.
func (p *Provider) idTokenHintSubject(ctx context.Context, raw string) (string, error) {
	t, err := p.parseJWT(ctx, raw)
	if err != nil {
		return "", err
	}
	if t.typ == typeAccessToken || len(t.audiences()) == 0 {
		return "", errBadJWT
	}
	return t.str("sub"), nil
}

// respond sends the authorization response (code or error) to the client:
// the redirect_uri with the parameters in its query, or the form_post page.
// Every response carries `iss` (RFC 9207) and the request's `state`.
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, tgt *target, params url.Values) {
	if tgt.state != "" {
		params.Set("state", tgt.state)
	}
	params.Set("iss", p.issuer)
	w.Header().Set("Cache-Control", "no-store")
	if tgt.formPost {
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fields := make([]formField, 0, len(keys))
		for _, k := range keys {
			fields = append(fields, formField{Name: k, Value: params.Get(k)})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; form-action "+formAction(tgt.redirectURI))
		_ = formPostPage.Execute(w, struct {
			Action string
			Fields []formField
		}{tgt.redirectURI, fields})
		return
	}
	u, err := url.Parse(tgt.redirectURI)
	if err != nil {
		p.errorPage(w, http.StatusBadRequest, "The redirect_uri is invalid.")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// formAction is the CSP form-action source of a redirect URI (its origin).
func formAction(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Host == "" {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}

type formField struct{ Name, Value string }

var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Submit this form</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><button type="submit">Continue</button></noscript>
</form>
</body></html>
`))

// authError sends an OAuth error to the client's redirect_uri.
func (p *Provider) authError(w http.ResponseWriter, r *http.Request, tgt *target, code, description string) {
	v := url.Values{"error": {code}}
	if description != "" {
		v.Set("error_description", description)
	}
	p.respond(w, r, tgt, v)
}

func (p *Provider) serverErrorRedirect(w http.ResponseWriter, r *http.Request, tgt *target, what string, err error) {
	if oe := p.unavailableError(r.Context(), what, err); oe != nil {
		// RFC 6749 4.1.2.1: the client may retry later.
		p.authError(w, r, tgt, oe.Code, oe.Description)
		return
	}
	p.log.ErrorContext(r.Context(), "oidc: "+what, slog.Any("error", err))
	p.authError(w, r, tgt, "server_error", "internal error")
}

var errorPageTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head>
<body><main><h1>Sign-in error</h1><p>{{.}}</p></main></body></html>
`))

// errorPage answers the browser itself: used when the client cannot be
// trusted with a redirect (unknown client, unregistered redirect_uri).
func (p *Provider) errorPage(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	_ = errorPageTmpl.Execute(w, message)
}

// validPKCEValue checks a code_verifier or code_challenge: RFC 7636
// unreserved characters, length within [lo, hi].
func validPKCEValue(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
