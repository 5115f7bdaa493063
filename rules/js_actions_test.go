package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Auth0 post-login Actions on the real QuickJS runtime, through
// Engine.RunPipeline as a login runs them.

func runJSPipeline(tb testing.TB, e *Engine, ev Event, srcs ...string) (PipelineResult, error) {
	tb.Helper()
	var rs []RuleVersion
	for i, src := range srcs {
		rv := jsRule(fmt.Sprint("js", i), src)
		rv.Secrets = ev.Secrets
		rs = append(rs, rv)
	}
	return e.RunPipeline(ctxTimeout(tb, testJSTimeout), rs, ev)
}

// testJSTimeout bounds a test pipeline: the machine running the tests may be loaded.
const testJSTimeout = 60 * time.Second

// asJSON normalizes v through JSON so that results compare with literals.
func asJSON(tb testing.TB, v any) any {
	tb.Helper()
	var out any
	if err := json.Unmarshal(mustJSON(tb, v), &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

func wantJSON(tb testing.TB, what string, got any, want string) {
	tb.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("%s: bad expectation: %v", what, err)
	}
	if g := asJSON(tb, got); !reflect.DeepEqual(g, w) {
		tb.Fatalf("%s = %s\nwant %s", what, mustJSON(tb, g), mustJSON(tb, w))
	}
}

func ruleFailure(tb testing.TB, err error) string {
	tb.Helper()
	var re *RuleError
	if !errors.As(err, &re) || !errors.Is(err, ErrRuleFailed) {
		tb.Fatalf("err = %v, want a *RuleError", err)
	}
	return re.Err.Error()
}

// TestJSActionEvent checks the event an Action sees, member by member, on
// the SDK's sample login.
func TestJSActionEvent(t *testing.T) {
	e := newEngine(t, Config{})
	res, err := runJSPipeline(t, e, loginEvent(t), `exports.onExecutePostLogin = async (event, api) => {
  const u = event.user;
  api.idToken.setCustomClaim('https://t.example/user', {
    user_id: u.user_id, email: u.email, email_verified: u.email_verified, name: u.name, nickname: u.nickname,
    app_metadata: u.app_metadata, user_metadata: u.user_metadata, logins_count: u.logins_count,
    created_at: u.created_at, identities: u.identities,
  });
  api.idToken.setCustomClaim('https://t.example/rest', {
    client: event.client, connection: event.connection, request: event.request, transaction: event.transaction,
    authentication: event.authentication, authorization: event.authorization, stats: event.stats,
    secrets: event.secrets, organization: typeof event.organization,
  });
};`)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "event.user", res.IDTokenClaims["https://t.example/user"], `{
  "user_id": "auth0|01HV8Z6Q3K4M2N7P9R5T1W0XYZ", "email": "ada.lovelace@example.com", "email_verified": true,
  "name": "Ada Lovelace", "nickname": "ada",
  "app_metadata": {"roles": ["admin", "editor", "billing"], "plan": "enterprise", "tenant": "analytical-engines",
    "flags": {"beta": true, "mfa_enrolled": false}},
  "user_metadata": {"theme": "dark", "language": "en-GB", "newsletter": true},
  "logins_count": 42, "created_at": "2024-03-01T09:30:00Z",
  "identities": [
    {"connection": "Username-Password-Authentication", "provider": "auth0", "user_id": "01HV8Z6Q3K4M2N7P9R5T1W0XYZ",
     "userId": "01HV8Z6Q3K4M2N7P9R5T1W0XYZ", "isSocial": false},
    {"connection": "github", "provider": "github", "user_id": "1234567", "userId": "1234567", "isSocial": true,
     "profileData": {"login": "adal", "public_repos": 12}}
  ]}`)
	wantJSON(t, "event", res.IDTokenClaims["https://t.example/rest"], `{
  "client": {"client_id": "cli_01HV8Z7A0B1C2D3E4F5G6H7J8K", "name": "Difference Engine Console", "metadata": {"tier": "internal"}},
  "connection": {"id": "con_01HV8Z5XM4N3P2Q1R0S9T8U7V6", "name": "Username-Password-Authentication", "strategy": "auth0", "metadata": {}},
  "request": {"ip": "2001:db8::42", "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "hostname": "id.example.com", "query": {}, "body": {}, "geoip": {}},
  "transaction": {"protocol": "oidc-basic-profile", "requested_scopes": ["openid", "profile", "email", "offline_access"],
    "redirect_uri": "https://console.example.com/callback"},
  "authentication": {"methods": [{"name": "pwd", "timestamp": "2025-11-25T19:59:58Z"}]},
  "authorization": {"roles": ["billing-admin", "editor"]},
  "stats": {"logins_count": 42},
  "secrets": {"ALLOWED_DOMAINS": "example.com,example.org"},
  "organization": "undefined"}`)
}

// TestJSActionAPI covers every api member an Action may call and what it
// becomes in the pipeline's result.
func TestJSActionAPI(t *testing.T) {
	e := newEngine(t, Config{})
	ev := loginEvent(t)
	ev.Authentication.Methods[0].Name = "fed"

	t.Run("claims, metadata, mfa, primary user", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://example.com/plan', event.user.app_metadata.plan)
     .accessToken.setCustomClaim('https://example.com/roles', event.authorization.roles);
  api.idToken.setCustomClaim('https://example.com/when', new Date(Date.UTC(2025, 0, 2)));
  api.idToken.setCustomClaim('https://example.com/method', event.authentication.methods[0].name);
  api.idToken.setCustomClaim('sub', 'ignored: not namespaced');
  api.user.setAppMetadata('plan', 'pro');
  api.user.setAppMetadata('tenant', null);
  api.user.setUserMetadata('theme', undefined);
  api.user.setUserMetadata('prefs', { a: [1, 2] });
  api.idToken.setCustomClaim('https://example.com/seen', [event.user.app_metadata.plan, 'tenant' in event.user.app_metadata,
    'theme' in event.user.user_metadata, event.user.user_metadata.prefs]);
  api.multifactor.enable('duo', { allowRememberBrowser: false });
  api.authentication.setPrimaryUser('auth0|primary');
};`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "id token claims", res.IDTokenClaims, `{"https://example.com/plan": "enterprise",
  "https://example.com/when": "2025-01-02T00:00:00.000Z", "https://example.com/method": "federated",
  "https://example.com/seen": ["pro", false, false, {"a": [1, 2]}]}`)
		wantJSON(t, "access token claims", res.AccessTokenClaims, `{"https://example.com/roles": ["billing-admin", "editor"]}`)
		wantJSON(t, "app_metadata updates", res.AppMetadata, `{"plan": "pro", "tenant": null}`)
		wantJSON(t, "user_metadata updates", res.UserMetadata, `{"theme": null, "prefs": {"a": [1, 2]}}`)
		if !res.RequireMFA || res.LinkTo == nil || res.LinkTo.UserID != "auth0|primary" {
			t.Fatalf("RequireMFA = %v, LinkTo = %+v", res.RequireMFA, res.LinkTo)
		}
		if got := res.Runs[0].DroppedClaims; !reflect.DeepEqual(got, []string{"sub"}) {
			t.Fatalf("dropped claims = %v", got)
		}
		if res.User.AppMetadata["plan"] != "pro" || res.User.AppMetadata["tenant"] != nil {
			t.Fatalf("user app_metadata after the pipeline = %v", res.User.AppMetadata)
		}
	})

	t.Run("a module starting with a helper function", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `function isAdmin(event) {
  return event.authorization.roles.includes('billing-admin');
}
exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://example.com/admin', isAdmin(event));
};`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/admin": true}`)
	})

	t.Run("api parts made on first use", func(t *testing.T) {
		// The api's parts are made per call on first access: the same
		// object every time within a call, a new one in the next call,
		// usable destructured, and nothing in the result when unused.
		res, err := runJSPipeline(t, e, ev, `exports.onExecutePostLogin = async (event, api) => {
  const { idToken, cache } = api;
  cache.set('k', 'v');
  idToken.setCustomClaim('https://example.com/same', [api.idToken === idToken, api.cache === cache,
    api.cache.get('k'), typeof api.redirect.sendUserTo, 'idToken' in api]);
};`, `exports.onExecutePostLogin = async (event, api) => {
  api.accessToken.setCustomClaim('https://example.com/fresh', [api.cache.get('k') === undefined]);
};`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "id token claims", res.IDTokenClaims, `{"https://example.com/same": [true, true, {"value": "v"}, "function", true]}`)
		wantJSON(t, "access token claims", res.AccessTokenClaims, `{"https://example.com/fresh": [true]}`)
		res, err = runJSPipeline(t, e, ev, `exports.onExecutePostLogin = async (event, api) => { void api.user; void api.idToken; };`)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.IDTokenClaims)+len(res.AccessTokenClaims)+len(res.AppMetadata)+len(res.UserMetadata) != 0 {
			t.Fatalf("an Action that set nothing changed claims or metadata: %+v %+v %+v %+v",
				res.IDTokenClaims, res.AccessTokenClaims, res.AppMetadata, res.UserMetadata)
		}
	})

	t.Run("for await and async generators", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `async function* upper(list) { for (const r of list) { await null; yield r.toUpperCase(); } }
exports.onExecutePostLogin = async (event, api) => {
  const out = [];
  for await (const r of upper(event.authorization.roles)) out.push(r);
  for await (const p of [Promise.resolve('last')]) out.push(p);
  api.idToken.setCustomClaim('https://example.com/roles', out);
};`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/roles": ["BILLING-ADMIN", "EDITOR", "last"]}`)
	})

	t.Run("a long chain of awaits finishes", func(t *testing.T) {
		// Only a promise that can no longer settle is a stall, however
		// many turns of the queue the handler takes.
		res, err := runJSPipeline(t, e, ev, `exports.onExecutePostLogin = async (event, api) => {
  let n = 0;
  for (let i = 0; i < 5000; i++) n += await i;
  api.idToken.setCustomClaim('https://example.com/n', n);
};`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/n": 12497500}`)
	})

	t.Run("mfa none and cache", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `exports.onExecutePostLogin = async (event, api) => {
  api.multifactor.enable('any');
  api.multifactor.enable('none');
  api.cache.set('k', 'v');
  api.idToken.setCustomClaim('https://example.com/cache', [api.cache.get('k'), api.cache.get('missing') === undefined]);
};`)
		if err != nil {
			t.Fatal(err)
		}
		if res.RequireMFA {
			t.Fatal("multifactor.enable('none') left MFA required")
		}
		wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/cache": [{"value": "v"}, true]}`)
		res, err = runJSPipeline(t, e, ev, `exports.onExecutePostLogin = async (event, api) => {
  api.authentication.challengeWithAny([{ type: 'otp' }]);
};`)
		if err != nil || !res.RequireMFA {
			t.Fatalf("challengeWithAny: RequireMFA = %v, err = %v", res.RequireMFA, err)
		}
	})

	t.Run("deny stops the pipeline", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev,
			`exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('https://example.com/a', 1); };`,
			`exports.onExecutePostLogin = async (event, api) => {
  if (event.client.name === 'Difference Engine Console') return api.access.deny('Not here, ' + event.user.nickname);
};`,
			`exports.onExecutePostLogin = async (event, api) => { throw new Error('must not run'); };`)
		if err != nil {
			t.Fatal(err)
		}
		if res.Deny == nil || res.Deny.Reason != "Not here, ada" || res.Deny.RuleID != "rul_js1" || len(res.Runs) != 2 {
			t.Fatalf("deny = %+v, runs = %d", res.Deny, len(res.Runs))
		}
		if len(res.IDTokenClaims) != 0 {
			t.Fatalf("claims after a deny: %v", res.IDTokenClaims)
		}
	})

	t.Run("two actions see each other's metadata", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev,
			`exports.onExecutePostLogin = async (event, api) => {
  api.user.setAppMetadata('visits', (event.user.app_metadata.visits || 0) + 1);
  api.user.setUserMetadata('language', null);
};`,
			`exports.onExecutePostLogin = async (event, api) => {
  api.user.setAppMetadata('visits', event.user.app_metadata.visits * 10);
  api.idToken.setCustomClaim('https://example.com/language', event.user.user_metadata.language === undefined);
};`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "app_metadata updates", res.AppMetadata, `{"visits": 10}`)
		wantJSON(t, "user_metadata updates", res.UserMetadata, `{"language": null}`)
		wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/language": true}`)
	})

	t.Run("module state does not survive a call", func(t *testing.T) {
		// Each call tries to leave something behind for the next: module
		// state, a global, a changed module or prelude helper.
		src := `let calls = 0;
const util = require('util');
exports.onExecutePostLogin = async (event, api) => {
  calls++;
  const before = [calls, typeof globalThis.leak, util.format('%s', 'ok'), typeof util.extra, __authgraph.ALLOWED.length];
  for (const f of [() => { globalThis.leak = 1; }, () => { util.format = () => 'tampered'; }, () => { util.extra = 1; },
    () => { __authgraph.ALLOWED.push('fs'); }, () => { require('querystring').parse = null; }]) {
    try { f(); } catch (e) {}
  }
  api.idToken.setCustomClaim('https://example.com/calls', before);
};`
		for range 3 {
			res, err := runJSPipeline(t, e, ev, src)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/calls": [1, "undefined", "ok", "undefined", 2]}`)
		}
	})

	t.Run("nothing reachable from event and api keeps a value for the next call", func(t *testing.T) {
		// Each call walks everything it can reach from its arguments (own
		// properties, accessors' functions, prototypes, the api's parts)
		// and tries to stash a value on each object; the next call looks
		// for it. Only this call's own objects may take it.
		src := `exports.onExecutePostLogin = async (event, api) => {
  const parts = ['access', 'idToken', 'accessToken', 'user', 'multifactor', 'authentication', 'cache', 'redirect', 'samlResponse'];
  api.idToken.setCustomClaim('https://example.com/walk', ` + leakWalk + `([event, api, require, console, exports].concat(parts.map((k) => api[k]))));
};`
		for range 2 {
			res, err := runJSPipeline(t, e, ev, src)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/walk": {"found": [], "walked": true, "stashed": true}}`)
		}
	})

	t.Run("console lines are captured, secrets redacted", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `exports.onExecutePostLogin = async (event, api) => {
  console.log('hello %s, %d logins', event.user.nickname, event.stats.logins_count);
  console.warn('secret', event.secrets.ALLOWED_DOMAINS);
};`)
		if err != nil {
			t.Fatal(err)
		}
		logs := strings.Join(res.Runs[0].Logs, "\n")
		if !strings.Contains(logs, "hello ada, 42 logins") || strings.Contains(logs, "example.com,example.org") ||
			!strings.Contains(logs, "[REDACTED]") {
			t.Fatalf("logs = %q", res.Runs[0].Logs)
		}
	})

	t.Run("require allowlist", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `const qs = require('querystring');
const util = require('node:util');
exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://example.com/r', [qs.parse('a=1&a=2&b=x%20y'), qs.stringify({ q: 'a b' }),
    util.format('%s=%d %j', 'n', 4, { x: 1 }), util.isDeepStrictEqual({ a: [1] }, { a: [1] })]);
};`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/r": [{"a": ["1", "2"], "b": "x y"}, "q=a%20b", "n=4 {\"x\":1}", true]}`)
		// Every module the upload check allows loads at run time.
		for _, m := range jsRequireAllowlist {
			src := fmt.Sprintf("exports.onExecutePostLogin = async () => { require(%q); require('node:' + %q); };", m, m)
			if _, err := runJSPipeline(t, e, ev, src); err != nil {
				t.Fatalf("require(%q): %v", m, err)
			}
		}
	})

	failures := []struct{ name, src, want string }{
		{"thrown error", `exports.onExecutePostLogin = async (event, api) => { throw new Error('boom: ' + event.user.nickname); };`,
			"boom: ada"},
		{"thrown before any await", `exports.onExecutePostLogin = (event, api) => { null.x; };`, "cannot read property"},
		{"rejected promise", `exports.onExecutePostLogin = (event, api) => Promise.reject(new TypeError('rejected'));`, "rejected"},
		{"rejection after awaits", `exports.onExecutePostLogin = async () => { await null; await Promise.resolve(); throw 'plain string'; };`,
			"plain string"},
		{"never settles", `exports.onExecutePostLogin = async () => { await new Promise(() => {}); };`,
			"onExecutePostLogin never finished"},
		{"no handler", `exports.onContinuePostLogin = async () => {};`, "does not export onExecutePostLogin"},
		{"throws at load", `throw new Error('top level');`, "top level"},
		{"dynamic require", `exports.onExecutePostLogin = async () => { const m = 'ax' + 'ios'; require(m); };`,
			"require('axios') is not available"},
		{"redirect", `exports.onExecutePostLogin = async (event, api) => { api.redirect.sendUserTo('https://x.example'); };`,
			"api.redirect.sendUserTo is not supported"},
		{"enroll with", `exports.onExecutePostLogin = async (event, api) => { api.authentication.enrollWith({ type: 'otp' }); };`,
			"api.authentication.enrollWith is not supported"},
		{"saml", `exports.onExecutePostLogin = async (event, api) => { api.samlResponse.setAttribute('a', 'b'); };`,
			"api.samlResponse.setAttribute is not supported"},
		{"add scope", `exports.onExecutePostLogin = async (event, api) => { api.accessToken.addScope('admin'); };`,
			"api.accessToken.addScope is not supported"},
		{"claim that is not JSON", `exports.onExecutePostLogin = async (event, api) => { const o = {}; o.o = o; api.idToken.setCustomClaim('https://x.example/c', o); };`,
			"is not JSON-serializable"},
		{"no fetch", `exports.onExecutePostLogin = async () => { await fetch('https://example.com'); };`, "fetch"},
		{"bad metadata key", `exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('a.b', 1); };`,
			"invalid metadata update"},
		{"secret in the message", `exports.onExecutePostLogin = async (event) => { throw new Error(event.secrets.ALLOWED_DOMAINS); };`,
			"[REDACTED]"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			res, err := runJSPipeline(t, e, ev, f.src)
			msg := ruleFailure(t, err)
			if !strings.Contains(msg, f.want) {
				t.Fatalf("failure = %q, want it to contain %q", msg, f.want)
			}
			if len(res.IDTokenClaims)+len(res.AppMetadata) != 0 {
				t.Fatalf("a failed pipeline kept %v %v", res.IDTokenClaims, res.AppMetadata)
			}
		})
	}
	// The runtime goes on serving after failures.
	if _, err := runJSPipeline(t, e, ev, `exports.onExecutePostLogin = async () => {};`); err != nil {
		t.Fatal(err)
	}
}

// TestValidateJavaScriptShapes checks the upload checks through the engine.
func TestValidateJavaScriptShapes(t *testing.T) {
	e := newEngine(t, Config{})
	ctx := context.Background()
	for src, want := range map[string]string{
		"const axios = require('axios');\nexports.onExecutePostLogin = async () => {};": "line 1, column 15: require('axios') is not available",
		"exports.onContinuePostLogin = async () => {};":                                 "exports.onExecutePostLogin",
		"function (user, context) { }":                                                  "takes 2 parameters",
	} {
		err := e.ValidateJavaScript(ctx, src)
		if err == nil || !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), want) {
			t.Fatalf("ValidateJavaScript(%q) = %v, want %q", src, err, want)
		}
	}
	if err := e.ValidateJavaScript(ctx, benchAction); err != nil {
		t.Fatal(err)
	}
}

// leakWalk is a JavaScript function expression: called with a rule's
// arguments, it walks everything reachable from them (own properties,
// accessors' functions, prototypes), reports any value an earlier call left
// there, and tries to leave one on each object for the next call.
const leakWalk = `(function (roots) {
  const todo = roots.slice();
  const seen = new Set();
  const found = [];
  let stashed = 0;
  while (todo.length) {
    const o = todo.pop();
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
    seen.add(o);
    if (Object.prototype.hasOwnProperty.call(o, '__left')) found.push(String(o.__left));
    try { o.__left = 'from an earlier call'; if (o.__left === 'from an earlier call') stashed++; } catch (e) {}
    todo.push(Object.getPrototypeOf(o));
    for (const k of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (!d) continue;
      if ('value' in d) todo.push(d.value);
      else todo.push(d.get, d.set);
    }
  }
  return { found, walked: seen.size > 50, stashed: stashed > 0 };
})`
