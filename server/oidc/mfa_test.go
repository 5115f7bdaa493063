package oidc

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/clients"
	"github.com/authgraph/authgraph/ent/schema/pulid"
	"github.com/authgraph/authgraph/server/loginflow"
)

// fakeMFA stands in for the hosted second-factor page (server/login): the
// browser's session must be the one the request awaits; X-Test-MFA: pass
// records a passed factor on it and completes the request.
func (e *env) fakeMFA(w http.ResponseWriter, r *http.Request) {
	req, err := e.provider.Request(r.Context(), r.URL.Query().Get(loginflow.ParamRequestID))
	if err != nil || req.MFA == nil {
		http.Error(w, "not awaiting a second factor", http.StatusBadRequest)
		return
	}
	s, err := e.sessions.Current(r.Context(), r)
	if err != nil || s.ID != req.MFA.SessionID || s.UserRef != req.MFA.UserID {
		http.Error(w, "another session", http.StatusBadRequest)
		return
	}
	if r.Header.Get("X-Test-MFA") != "pass" {
		_, _ = io.WriteString(w, "challenge")
		return
	}
	amr, err := e.sessions.AddAMR(r.Context(), s.ID, loginflow.AMROTP, loginflow.AMRMFA)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	e.provider.Complete(w, r, req.ID, loginflow.Login{UserID: s.UserRef, SessionID: s.ID, AuthTime: s.AuthTime, AMR: amr, Connection: s.Connection})
}

// A rule's require_mfa and acr_values hold the code back until a factor is
// passed in the login's session; prompt=none gets interaction_required; the
// ID token then says how the user authenticated, at refresh too.
func testMFAHandoff(t *testing.T, e *env) {
	r := e.newRP(t, clients.TypeRegularWeb)
	u := e.newUser(t)
	var mu sync.Mutex
	var seen [][]string
	e.hook.Store(ClaimsHook(func(_ context.Context, ev *ClaimsEvent) (*CustomClaims, error) {
		if ev.Client.ClientID != r.cfg.ClientID || ev.Protocol != ProtocolOIDCBasicProfile {
			return nil, nil
		}
		mu.Lock()
		seen = append(seen, slices.Clone(ev.AMR))
		mu.Unlock()
		return &CustomClaims{RequireMFA: true}, nil
	}))
	defer e.hook.Store(ClaimsHook(nil))

	b := e.newBrowser(u)
	res, f := r.login(t, b, "openid offline_access")
	if !strings.HasPrefix(res.location, e.issuer+"login/mfa?req=") || res.params.Get("code") != "" {
		t.Fatalf("a rule's require_mfa did not hold the code back: %+v", res)
	}
	id := res.params.Get(loginflow.ParamRequestID)
	req, err := e.provider.Request(e.ctx, id)
	if err != nil || req.MFA == nil || req.MFA.UserID != u.ID || req.MFA.SessionID == "" {
		t.Fatalf("pending request's binding: %v %+v", err, req)
	}
	// Another browser (another session) cannot answer it.
	other := e.newBrowser(u)
	r.login(t, other, "openid")
	stolen, err := other.hc.Do(withHeader(mustReq(http.MethodGet, res.location), "X-Test-MFA", "pass"))
	if err != nil {
		t.Fatal(err)
	}
	stolen.Body.Close()
	if stolen.StatusCode != http.StatusBadRequest {
		t.Fatalf("another session answered the factor: %d", stolen.StatusCode)
	}
	// Silent SSO with the session that has not passed the factor.
	silent, _ := r.login(t, b, "openid", "prompt", "none")
	if silent.params.Get("error") != "interaction_required" || silent.params.Get("code") != "" {
		t.Fatalf("prompt=none skipped the factor: %+v", silent)
	}
	// The factor is passed: the rules run again, seeing it, and the code
	// is issued.
	resp, err := b.hc.Do(withHeader(mustReq(http.MethodGet, res.location), "X-Test-MFA", "pass"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("no code after the factor: %d %v", resp.StatusCode, loc)
	}
	mu.Lock()
	last := seen[len(seen)-1]
	mu.Unlock()
	if !slices.Equal(last, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("the rules saw amr %v after the factor", last)
	}
	tok, err := r.exchange(loc.Query().Get("code"), f)
	if err != nil {
		t.Fatal(err)
	}
	wantMFA := func(what string, raw string) {
		t.Helper()
		c := claimsOf(t, raw)
		if amr, _ := c["amr"].([]any); len(amr) != 3 || amr[0] != "pwd" || amr[1] != "otp" || amr[2] != "mfa" || c["acr"] != loginflow.MultiFactorACR {
			t.Errorf("%s ID token amr %v acr %v", what, c["amr"], c["acr"])
		}
	}
	wantMFA("login", tok.Extra("id_token").(string))
	next, err := r.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	wantMFA("refreshed", next.Extra("id_token").(string))
	// The session passed it: SSO, silent or not, issues codes at once.
	if again, _ := r.login(t, b, "openid", "prompt", "none", "acr_values", loginflow.MultiFactorACR); again.params.Get("code") == "" {
		t.Errorf("SSO after the factor: %+v", again)
	}

	// Without a rule, acr_values asks for a factor; without one, no acr.
	e.hook.Store(ClaimsHook(nil))
	fresh := e.newBrowser(u)
	_, plain := r.tokens(t, fresh, "openid")
	if amr, _ := plain["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" || plain["acr"] != nil {
		t.Errorf("password-only ID token amr %v acr %v", plain["amr"], plain["acr"])
	}
	asked, _ := r.login(t, fresh, "openid", "acr_values", loginflow.MultiFactorACR)
	if !strings.HasPrefix(asked.location, e.issuer+"login/mfa?req=") {
		t.Errorf("acr_values did not ask for a factor: %+v", asked)
	}
	// The binding is the database's too (another node finishes it).
	ar := e.db.Ent.AuthRequest.GetX(authz.SystemContext(e.ctx), pulid.ID(asked.params.Get(loginflow.ParamRequestID)))
	if ar.Done || ar.UserRef == nil || *ar.UserRef != u.ID || ar.SessionRef == nil {
		t.Errorf("stored binding: done %v user %v session %v", ar.Done, ar.UserRef, ar.SessionRef)
	}
}
