// Auth0 post-login Actions: authgraph_action(factory, input, host) runs
// exports.onExecutePostLogin(event, api) on Auth0's event shape, built from
// the rules event JSON (input), and returns the rules result JSON its api
// calls amount to. factory(exports, module, require, console) is the
// Action's module body, evaluated fresh for this call.
(function () {
  'use strict';
  const ag = __authgraph;

  function notSupported(what, why) {
    return function () {
      throw new Error(what + ' is not supported: ' + why);
    };
  }

  function event(ev) {
    const u = ag.user(ev);
    const c = ev.client || {};
    const cn = ev.connection || {};
    const rq = ev.request || {};
    const tx = ev.transaction || {};
    return {
      user: u,
      client: { client_id: c.client_id, name: c.name, metadata: c.metadata || {} },
      connection: { id: cn.id, name: cn.name, strategy: cn.strategy, metadata: {} },
      request: { ip: rq.ip, user_agent: rq.user_agent, hostname: rq.hostname, query: {}, body: {}, geoip: {} },
      transaction: {
        protocol: tx.protocol,
        requested_scopes: tx.requested_scopes || [],
        redirect_uri: tx.redirect_uri,
      },
      authentication: { methods: ag.methods(ev, false) },
      authorization: { roles: (ev.authorization && ev.authorization.roles) || [] },
      stats: { logins_count: ev.stats ? ev.stats.logins_count : u.logins_count },
      secrets: ev.secrets || {},
    };
  }

  // api records what the Action asks for in st; metadata updates show in
  // event.user at once, as on Auth0.
  function api(st, e) {
    const a = {};
    const claim = (bag, what) => function (name, value) {
      if (typeof name !== 'string' || name === '') throw new TypeError(what + ': the claim name must be a non-empty string');
      bag[name] = ag.jsonCopy(value, what + ' value of "' + name + '"');
      return a;
    };
    const metadata = (bag, field, what) => function (key, value) {
      if (typeof key !== 'string' || key === '') throw new TypeError(what + ': the key must be a non-empty string');
      const v = value === undefined || value === null ? null : ag.jsonCopy(value, what + ' value of "' + key + '"');
      bag[key] = v === undefined ? null : v;
      if (bag[key] === null) delete e.user[field][key];
      else e.user[field][key] = ag.jsonCopy(v, what);
      return a;
    };
    a.access = {
      deny(reason) {
        if (st.deny === undefined) st.deny = reason === undefined || reason === null ? '' : String(reason);
        return a;
      },
    };
    a.idToken = { setCustomClaim: claim(st.id, 'api.idToken.setCustomClaim') };
    a.accessToken = {
      setCustomClaim: claim(st.access, 'api.accessToken.setCustomClaim'),
      addScope: notSupported('api.accessToken.addScope', "an access token's scopes are the requested scopes the " +
        "application and the user's roles allow; set a custom claim instead"),
      removeScope: notSupported('api.accessToken.removeScope', "an access token's scopes are the requested scopes " +
        "the application and the user's roles allow; set a custom claim instead"),
    };
    a.user = {
      setAppMetadata: metadata(st.app, 'app_metadata', 'api.user.setAppMetadata'),
      setUserMetadata: metadata(st.usr, 'user_metadata', 'api.user.setUserMetadata'),
    };
    a.multifactor = {
      enable(provider, options) {
        // 'none' turns the requirement off; any other provider asks for a
        // second factor among the user's enrolled ones.
        st.mfa = provider !== 'none';
        return a;
      },
    };
    a.authentication = {
      setPrimaryUser(userId) {
        if (typeof userId !== 'string' || userId === '') {
          throw new TypeError('api.authentication.setPrimaryUser: the user id must be a non-empty string');
        }
        st.link = userId;
        return a;
      },
      challengeWith() {
        st.mfa = true;
        return a;
      },
      challengeWithAny() {
        st.mfa = true;
        return a;
      },
      enrollWith: notSupported('api.authentication.enrollWith', 'users enroll factors from their account; ' +
        'api.multifactor.enable asks for any enrolled factor'),
      enrollWithAny: notSupported('api.authentication.enrollWithAny', 'users enroll factors from their account; ' +
        'api.multifactor.enable asks for any enrolled factor'),
      recordMethod: notSupported('api.authentication.recordMethod', 'there are no redirects to resume from'),
    };
    const noRedirect = 'JavaScript rules cannot redirect the user during the login';
    a.redirect = {
      sendUserTo: notSupported('api.redirect.sendUserTo', noRedirect),
      encodeToken: notSupported('api.redirect.encodeToken', noRedirect),
      validateToken: notSupported('api.redirect.validateToken', noRedirect),
    };
    a.samlResponse = new Proxy({}, {
      get: (t, k) => (typeof k === 'string' ? notSupported('api.samlResponse.' + k, 'logins here are OpenID Connect only') : undefined),
    });
    // api.cache lives for this one call: Auth0's cache may drop any entry at
    // any time, so code written for it already copes with misses.
    const cache = new Map();
    a.cache = {
      get(key) {
        return cache.has(key) ? { value: cache.get(key) } : undefined;
      },
      set(key, value) {
        cache.set(key, String(value));
        return { type: 'success' };
      },
      delete(key) {
        cache.delete(key);
        return { type: 'success' };
      },
    };
    return a;
  }

  function result(st) {
    if (st.deny !== undefined) return ag.result({ deny: { reason: st.deny } });
    const r = {};
    if (Object.keys(st.id).length) r.id_token_claims = st.id;
    if (Object.keys(st.access).length) r.access_token_claims = st.access;
    if (Object.keys(st.app).length) r.app_metadata = st.app;
    if (Object.keys(st.usr).length) r.user_metadata = st.usr;
    if (st.link) r.link_to = { user_id: st.link };
    if (st.mfa) r.require_mfa = true;
    return ag.result(r);
  }

  function authgraph_action(factory, input, host) {
    let st;
    try {
      const ev = JSON.parse(input);
      st = { id: {}, access: {}, app: {}, usr: {}, deny: undefined, link: undefined, mfa: false };
      const e = event(ev);
      const module = { exports: {} };
      factory(module.exports, module, ag.require, ag.console);
      const handler = module.exports && module.exports.onExecutePostLogin;
      if (typeof handler !== 'function') {
        return ag.errorResult(new Error('the Action does not export onExecutePostLogin: ' +
          'set exports.onExecutePostLogin = async (event, api) => { … }'));
      }
      const ret = handler(e, api(st, e));
      if (!ret || typeof ret.then !== 'function') return result(st);
      return ag.waitFor(ret, 'onExecutePostLogin never finished: it awaits a promise that nothing can settle')
        .then(() => result(st), ag.errorResult);
    } catch (err) {
      return ag.errorResult(err);
    }
  }

  Object.defineProperty(globalThis, 'authgraph_action', { value: authgraph_action, enumerable: false });
})();
