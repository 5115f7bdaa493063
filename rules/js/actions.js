// Auth0 post-login Actions: authgraph_action(factory, input, host) runs
// exports.onExecutePostLogin(event, api) on Auth0's event shape, built from
// the rules event JSON (input), and returns the rules result JSON its api
// calls amount to. factory(exports, module, require, console) is the
// Action's module body, evaluated fresh for this call.
(function () {
  'use strict';
  const ag = __authgraph;

  // The api's methods live on frozen prototypes shared by every call; each
  // call gets small objects holding its own state (st) under a symbol.
  // That is much cheaper than a set of closures per call.
  const S = Symbol('state');

  function notSupported(what, why) {
    return function () {
      throw new Error(what + ' is not supported: ' + why);
    };
  }

  function claimName(name, what) {
    if (typeof name !== 'string' || name === '') throw new TypeError(what + ': the claim name must be a non-empty string');
  }

  class IDToken {
    constructor(st) { this[S] = st; }
    setCustomClaim(name, value) {
      claimName(name, 'api.idToken.setCustomClaim');
      const st = this[S];
      (st.id || (st.id = {}))[name] = ag.jsonCopy(value, 'api.idToken.setCustomClaim value of "' + name + '"');
      return st.api;
    }
  }

  const noScopes = "an access token's scopes are the requested scopes the application and the user's roles allow; " +
    'set a custom claim instead';

  class AccessToken {
    constructor(st) { this[S] = st; }
    setCustomClaim(name, value) {
      claimName(name, 'api.accessToken.setCustomClaim');
      const st = this[S];
      (st.access || (st.access = {}))[name] = ag.jsonCopy(value, 'api.accessToken.setCustomClaim value of "' + name + '"');
      return st.api;
    }
  }
  AccessToken.prototype.addScope = notSupported('api.accessToken.addScope', noScopes);
  AccessToken.prototype.removeScope = notSupported('api.accessToken.removeScope', noScopes);

  class Access {
    constructor(st) { this[S] = st; }
    deny(reason) {
      const st = this[S];
      if (st.deny === undefined) st.deny = reason === undefined || reason === null ? '' : String(reason);
      return st.api;
    }
  }

  // setMetadata records a top-level key update (null deletes) and shows it
  // in event.user at once, as on Auth0.
  function setMetadata(st, bag, field, what, key, value) {
    if (typeof key !== 'string' || key === '') throw new TypeError(what + ': the key must be a non-empty string');
    let v = value === undefined || value === null ? null : ag.jsonCopy(value, what + ' value of "' + key + '"');
    if (v === undefined) v = null;
    bag[key] = v;
    const md = st.event.user[field];
    if (v === null) delete md[key];
    else md[key] = ag.jsonCopy(v, what);
    return st.api;
  }

  class User {
    constructor(st) { this[S] = st; }
    setAppMetadata(key, value) {
      const st = this[S];
      return setMetadata(st, st.app || (st.app = {}), 'app_metadata', 'api.user.setAppMetadata', key, value);
    }
    setUserMetadata(key, value) {
      const st = this[S];
      return setMetadata(st, st.usr || (st.usr = {}), 'user_metadata', 'api.user.setUserMetadata', key, value);
    }
  }

  class Multifactor {
    constructor(st) { this[S] = st; }
    // 'none' takes the requirement back; any other provider asks for a
    // second factor among the user's enrolled ones.
    enable(provider, options) {
      this[S].mfa = provider !== 'none';
      return this[S].api;
    }
  }

  const noEnroll = 'users enroll factors from their account; api.multifactor.enable asks for any enrolled factor';

  class Authentication {
    constructor(st) { this[S] = st; }
    setPrimaryUser(userId) {
      if (typeof userId !== 'string' || userId === '') {
        throw new TypeError('api.authentication.setPrimaryUser: the user id must be a non-empty string');
      }
      this[S].link = userId;
      return this[S].api;
    }
    challengeWith() {
      this[S].mfa = true;
      return this[S].api;
    }
    challengeWithAny() {
      this[S].mfa = true;
      return this[S].api;
    }
  }
  Authentication.prototype.enrollWith = notSupported('api.authentication.enrollWith', noEnroll);
  Authentication.prototype.enrollWithAny = notSupported('api.authentication.enrollWithAny', noEnroll);
  Authentication.prototype.recordMethod = notSupported('api.authentication.recordMethod', 'there are no redirects to resume from');

  // api.cache lasts one call: Auth0's cache may drop any entry at any
  // time, so code written for it already copes with misses.
  class Cache {
    constructor() { this[S] = new Map(); }
    get(key) {
      return this[S].has(key) ? { value: this[S].get(key) } : undefined;
    }
    set(key, value) {
      this[S].set(key, String(value));
      return { type: 'success' };
    }
    delete(key) {
      this[S].delete(key);
      return { type: 'success' };
    }
  }

  const noRedirect = 'JavaScript rules cannot redirect the user during the login';
  const redirect = {
    sendUserTo: notSupported('api.redirect.sendUserTo', noRedirect),
    encodeToken: notSupported('api.redirect.encodeToken', noRedirect),
    validateToken: notSupported('api.redirect.validateToken', noRedirect),
  };
  const noSaml = 'logins here are OpenID Connect only';
  const samlResponse = {};
  for (const k of ['setAttribute', 'setAudience', 'setIssuer', 'setEncryptionPublicKey', 'setRecipient',
    'setCreateUpnClaim', 'setPassthroughClaimsWithNoMapping', 'setMapUnknownClaimsAsIs', 'setMapIdentities',
    'setDestination', 'setLifetimeInSeconds', 'setSignResponse', 'setNameIdentifierFormat',
    'setNameIdentifierProbes', 'setAuthnContextClassRef', 'setSigningCert', 'setIncludeAttributeNameFormat',
    'setTypedAttributes', 'setEncryptionCert', 'setCert', 'setKey', 'setSignatureAlgorithm', 'setDigestAlgorithm']) {
    samlResponse[k] = notSupported('api.samlResponse.' + k, noSaml);
  }

  for (const C of [IDToken, AccessToken, Access, User, Multifactor, Authentication, Cache]) ag.deepFreeze(C);
  ag.deepFreeze(redirect);
  ag.deepFreeze(samlResponse);

  // The api's parts are made on first use, once per call: an Action
  // usually touches one or two of them, and every object QuickJS allocates
  // here costs about a microsecond.
  function part(api, key, C) {
    const st = api[S];
    return st[key] || (st[key] = new C(st));
  }

  class API {
    constructor(st) {
      this[S] = st;
      st.api = this;
    }
    get access() { return part(this, 'pAccess', Access); }
    get idToken() { return part(this, 'pIDToken', IDToken); }
    get accessToken() { return part(this, 'pAccessToken', AccessToken); }
    get user() { return part(this, 'pUser', User); }
    get multifactor() { return part(this, 'pMultifactor', Multifactor); }
    get authentication() { return part(this, 'pAuthentication', Authentication); }
    get cache() { return part(this, 'pCache', Cache); }
    get redirect() { return redirect; }
    get samlResponse() { return samlResponse; }
  }
  ag.deepFreeze(API);

  // event is Auth0's event, made from the parsed input (this call's own).
  function event(ev) {
    const u = ag.user(ev);
    const c = ev.client || {};
    const cn = ev.connection || {};
    const rq = ev.request || {};
    const tx = ev.transaction || {};
    if (!c.metadata) c.metadata = {};
    if (!tx.requested_scopes) tx.requested_scopes = [];
    return {
      user: u,
      client: c,
      connection: { id: cn.id, name: cn.name, strategy: cn.strategy, metadata: {} },
      request: { ip: rq.ip, user_agent: rq.user_agent, hostname: rq.hostname, query: {}, body: {}, geoip: {} },
      transaction: tx,
      authentication: { methods: ag.methods(ev, false) },
      authorization: { roles: (ev.authorization && ev.authorization.roles) || [] },
      stats: { logins_count: ev.stats ? ev.stats.logins_count : u.logins_count },
      secrets: ev.secrets || {},
    };
  }

  function result(st) {
    if (st.deny !== undefined) return ag.result({ deny: { reason: st.deny } });
    const r = {};
    // Each is made by the first call that sets something in it.
    if (st.id) r.id_token_claims = st.id;
    if (st.access) r.access_token_claims = st.access;
    if (st.app) r.app_metadata = st.app;
    if (st.usr) r.user_metadata = st.usr;
    if (st.link) r.link_to = { user_id: st.link };
    if (st.mfa) r.require_mfa = true;
    return ag.result(r);
  }

  const STALLED = ag.errorResult(new Error('onExecutePostLogin never finished: it awaits a promise that nothing can settle'));

  function authgraph_action(factory, input, host) {
    try {
      // This call's state: what the api calls amount to (id and access
      // token claims, metadata updates, deny, link, mfa) and the api's
      // parts, all made on first use.
      const st = {
        id: undefined, access: undefined, app: undefined, usr: undefined,
        deny: undefined, link: undefined, mfa: false, api: null, event: null,
        pAccess: undefined, pIDToken: undefined, pAccessToken: undefined, pUser: undefined,
        pMultifactor: undefined, pAuthentication: undefined, pCache: undefined,
      };
      st.event = event(JSON.parse(input));
      const module = { exports: {} };
      factory(module.exports, module, ag.require, ag.console);
      const handler = module.exports && module.exports.onExecutePostLogin;
      if (typeof handler !== 'function') {
        return ag.errorResult(new Error('the Action does not export onExecutePostLogin: ' +
          'set exports.onExecutePostLogin = async (event, api) => { … }'));
      }
      const ret = handler(st.event, new API(st));
      if (!ret || typeof ret.then !== 'function') return result(st);
      return ag.pending(ret, () => result(st), ag.errorResult, STALLED);
    } catch (err) {
      return ag.errorResult(err);
    }
  }

  Object.defineProperty(globalThis, 'authgraph_action', { value: authgraph_action, enumerable: false });
})();
