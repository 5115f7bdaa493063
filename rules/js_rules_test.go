package rules

import (
	"strings"
	"testing"
)

// Legacy Auth0 Rules (function (user, context, callback)) on the real
// QuickJS runtime, through Engine.RunPipeline.

// TestJSRuleUserAndContext checks the user and context a Rule sees.
func TestJSRuleUserAndContext(t *testing.T) {
	e := newEngine(t, Config{})
	ev := loginEvent(t)
	ev.Authentication.Methods = append(ev.Authentication.Methods, AuthenticationMethod{Name: "mfa", Timestamp: ev.Authentication.Methods[0].Timestamp})
	res, err := runJSPipeline(t, e, ev, `function (user, context, callback) {
  context.idToken['https://t.example/user'] = {
    user_id: user.user_id, email: user.email, app_metadata: user.app_metadata, user_metadata: user.user_metadata,
    identities: user.identities.map(function (i) { return [i.provider, i.user_id, i.isSocial]; }),
  };
  context.idToken['https://t.example/context'] = {
    clientID: context.clientID, clientName: context.clientName, clientMetadata: context.clientMetadata,
    connection: context.connection, connectionStrategy: context.connectionStrategy, protocol: context.protocol,
    request: context.request, stats: context.stats, authorization: context.authorization,
    authentication: context.authentication, multifactor: typeof context.multifactor,
    configuration: configuration, global: typeof global, auth0: auth0.domain,
  };
  callback(null, user, context);
}`)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "user", res.IDTokenClaims["https://t.example/user"], `{
  "user_id": "auth0|01HV8Z6Q3K4M2N7P9R5T1W0XYZ", "email": "ada.lovelace@example.com",
  "app_metadata": {"roles": ["admin", "editor", "billing"], "plan": "enterprise", "tenant": "analytical-engines",
    "flags": {"beta": true, "mfa_enrolled": false}},
  "user_metadata": {"theme": "dark", "language": "en-GB", "newsletter": true},
  "identities": [["auth0", "01HV8Z6Q3K4M2N7P9R5T1W0XYZ", false], ["github", "1234567", true]]}`)
	wantJSON(t, "context", res.IDTokenClaims["https://t.example/context"], `{
  "clientID": "cli_01HV8Z7A0B1C2D3E4F5G6H7J8K", "clientName": "Difference Engine Console", "clientMetadata": {"tier": "internal"},
  "connection": "Username-Password-Authentication", "connectionStrategy": "auth0", "protocol": "oidc-basic-profile",
  "request": {"ip": "2001:db8::42", "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "hostname": "id.example.com", "query": {}, "body": {}, "geoip": {}},
  "stats": {"loginsCount": 42}, "authorization": {"roles": ["billing-admin", "editor"]},
  "authentication": {"methods": [{"name": "pwd", "timestamp": 1764100798000}, {"name": "mfa", "timestamp": 1764100798000}]},
  "multifactor": "undefined",
  "configuration": {"ALLOWED_DOMAINS": "example.com,example.org"}, "global": "object", "auth0": "id.example.com"}`)
}

func TestJSRuleOutcomes(t *testing.T) {
	e := newEngine(t, Config{})
	ev := loginEvent(t)

	t.Run("metadata: mutate then updateAppMetadata, deletions included", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `function (user, context, callback) {
  user.app_metadata.plan = 'platinum';
  delete user.app_metadata.tenant;
  user.app_metadata.flags.beta = false;
  user.app_metadata.roles = ['admin', 'editor', 'billing'];
  user.user_metadata.theme = null;
  user.user_metadata.added = { at: 1 };
  auth0.users.updateAppMetadata(user.user_id, user.app_metadata)
    .then(function () { return auth0.users.updateUserMetadata(user.user_id, user.user_metadata); })
    .then(function () { callback(null, user, context); })
    .catch(function (err) { callback(err); });
}`, `function (user, context, callback) {
  context.idToken['https://example.com/seen'] = [user.app_metadata.plan, user.app_metadata.tenant === undefined, user.user_metadata.added];
  callback(null, user, context);
}`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "app_metadata updates", res.AppMetadata, `{"plan": "platinum", "tenant": null, "flags": {"beta": false, "mfa_enrolled": false}}`)
		wantJSON(t, "user_metadata updates", res.UserMetadata, `{"theme": null, "added": {"at": 1}}`)
		wantJSON(t, "claims of the next rule", res.IDTokenClaims, `{"https://example.com/seen": ["platinum", true, {"at": 1}]}`)
	})

	t.Run("updateUserMetadata with a Node-style callback", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `function (user, context, callback) {
  user.user_metadata.language = 'fr';
  auth0.users.updateUserMetadata(user.user_id, user.user_metadata, function (err) {
    if (err) return callback(err);
    callback(null, user, context);
  });
}`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "user_metadata updates", res.UserMetadata, `{"language": "fr"}`)
	})

	t.Run("mutation without an update persists nothing", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `function (user, context, callback) {
  user.app_metadata.plan = 'free';
  callback(null, user, context);
}`)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.AppMetadata) != 0 {
			t.Fatalf("app_metadata updates = %v", res.AppMetadata)
		}
	})

	t.Run("claims, mfa, primary user, async rule", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `async function (user, context, callback) {
  await null;
  context.idToken['https://example.com/email'] = user.email;
  context.accessToken['https://example.com/cfg'] = configuration.ALLOWED_DOMAINS.split(',').length;
  context.accessToken.scope = 'ignored';
  context.multifactor = { provider: 'any', allowRememberBrowser: false };
  context.primaryUser = 'auth0|primary';
  return callback(null, user, context);
}`)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "id token claims", res.IDTokenClaims, `{"https://example.com/email": "ada.lovelace@example.com"}`)
		wantJSON(t, "access token claims", res.AccessTokenClaims, `{"https://example.com/cfg": 2}`)
		if !res.RequireMFA || res.LinkTo == nil || res.LinkTo.UserID != "auth0|primary" {
			t.Fatalf("RequireMFA = %v, LinkTo = %+v", res.RequireMFA, res.LinkTo)
		}
	})

	t.Run("UnauthorizedError denies", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `function (user, context, callback) {
  deny();
  function deny() { callback(new UnauthorizedError('Access denied for ' + user.email)); }
}`, `function (user, context, callback) { callback(new Error('must not run')); }`)
		if err != nil {
			t.Fatal(err)
		}
		if res.Deny == nil || res.Deny.Reason != "Access denied for ada.lovelace@example.com" || len(res.Runs) != 1 {
			t.Fatalf("deny = %+v, runs = %d", res.Deny, len(res.Runs))
		}
	})

	t.Run("the first callback wins", func(t *testing.T) {
		res, err := runJSPipeline(t, e, ev, `function (user, context, callback) {
  callback(null, user, context);
  callback(new UnauthorizedError('too late'));
  throw new Error('after the callback');
}`)
		if err != nil || res.Deny != nil {
			t.Fatalf("res = %+v, err = %v", res.Deny, err)
		}
	})

	t.Run("global is fresh per call", func(t *testing.T) {
		src := `function (user, context, callback) {
  global.count = (global.count || 0) + 1;
  context.idToken['https://example.com/count'] = global.count;
  callback(null, user, context);
}`
		for range 2 {
			res, err := runJSPipeline(t, e, ev, src)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/count": 1}`)
		}
	})

	t.Run("nothing reachable from a rule's arguments keeps a value for the next call", func(t *testing.T) {
		src := `function (user, context, callback) {
  context.idToken['https://example.com/walk'] = ` + leakWalk + `([user, context, callback, auth0, configuration,
    UnauthorizedError, global, require, console]);
  callback(null, user, context);
}`
		for range 2 {
			res, err := runJSPipeline(t, e, ev, src)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON(t, "claims", res.IDTokenClaims, `{"https://example.com/walk": {"found": [], "walked": true, "stashed": true}}`)
		}
	})

	failures := []struct{ name, src, want string }{
		{"callback(new Error)", `function (user, context, callback) { callback(new Error('failed: ' + user.email)); }`,
			"failed: ada.lovelace@example.com"},
		{"thrown", `function (user, context, callback) { throw new TypeError('thrown'); }`, "thrown"},
		{"async rejection", `async function (user, context, callback) { await null; throw new Error('async'); }`, "async"},
		{"rejected update", `function (user, context, callback) {
  auth0.users.updateAppMetadata('auth0|someone-else', {}).then(function () { callback(null, user, context); }, callback);
}`, "can only update the user who is logging in"},
		{"callback never called", `function (user, context, callback) { Promise.resolve().then(function () {}); }`,
			"callback was never called"},
		{"async, callback never called", `async function (user, context, callback) { await null; }`,
			"callback was never called"},
		{"require of a module that is not there", `function (user, context, callback) { var request = require('req' + 'uest'); }`,
			"require('request') is not available"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			_, err := runJSPipeline(t, e, ev, f.src)
			if msg := ruleFailure(t, err); !strings.Contains(msg, f.want) {
				t.Fatalf("failure = %q, want it to contain %q", msg, f.want)
			}
		})
	}
}
