// Legacy Auth0 Rules: authgraph_rule(factory, input, host) calls the rule
// function (user, context, callback) with Auth0's rule user and context,
// built from the rules event JSON (input), and returns the rules result
// JSON its callback amounts to. factory(require, console, configuration,
// auth0, UnauthorizedError, global) returns the rule function; the
// parameters are the globals Auth0 gives rules, fresh for this call.
(function () {
  'use strict';
  const ag = __authgraph;

  // UnauthorizedError is the error a rule passes to its callback to deny
  // the login; its message becomes the deny reason.
  class UnauthorizedError extends Error {
    constructor(message) {
      super(message);
      this.name = 'UnauthorizedError';
    }
  }
  ag.deepFreeze(UnauthorizedError);

  function context(ev) {
    const c = ev.client || {};
    const cn = ev.connection || {};
    const rq = ev.request || {};
    const tx = ev.transaction || {};
    return {
      clientID: c.client_id,
      clientName: c.name,
      clientMetadata: c.metadata || {},
      connection: cn.name,
      connectionID: cn.id,
      connectionStrategy: cn.strategy,
      protocol: tx.protocol,
      request: {
        ip: rq.ip,
        userAgent: rq.user_agent,
        hostname: rq.hostname,
        query: {},
        body: {},
        geoip: {},
      },
      stats: { loginsCount: ev.stats ? ev.stats.logins_count : 0 },
      authentication: { methods: ag.methods(ev, true) },
      authorization: { roles: (ev.authorization && ev.authorization.roles) || [] },
      idToken: {},
      accessToken: {},
    };
  }

  // auth0 is Auth0's rule-side management client, reduced to what a rule
  // can do to the user who is logging in: update its metadata. An update
  // records the whole object; the result carries its top-level difference
  // from the metadata the rule started with, applied after the pipeline.
  function auth0(st, ev) {
    const update = (field, name) => function (userId, metadata, cb) {
      const p = new Promise((resolve) => {
        if (userId !== st.userId) {
          throw new Error(name + ' can only update the user who is logging in (' + st.userId + ')');
        }
        if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
          throw new TypeError(name + ': the metadata must be an object');
        }
        st[field] = ag.jsonCopy(metadata, name + ' metadata');
        resolve();
      });
      if (typeof cb === 'function') p.then(() => cb(null), cb);
      return p;
    };
    const host = (ev.request && ev.request.hostname) || '';
    return {
      users: {
        updateAppMetadata: update('app', 'auth0.users.updateAppMetadata'),
        updateUserMetadata: update('usr', 'auth0.users.updateUserMetadata'),
      },
      domain: host,
      baseUrl: host ? 'https://' + host + '/api/v2' : '',
    };
  }

  function claims(bag, what) {
    if (bag === null || typeof bag !== 'object') return undefined;
    const out = ag.jsonCopy(bag, what);
    return out && Object.keys(out).length ? out : undefined;
  }

  // outcome turns the callback's arguments into the result JSON.
  function outcome(st, err, ctx) {
    if (err) {
      if (err instanceof UnauthorizedError || (err && err.name === 'UnauthorizedError')) {
        return ag.result({ deny: { reason: ag.errorMessage(err) } });
      }
      return ag.errorResult(err);
    }
    const c = ctx !== null && typeof ctx === 'object' ? ctx : st.context;
    try {
      const r = {};
      const id = claims(c.idToken, 'context.idToken');
      const access = claims(c.accessToken, 'context.accessToken');
      if (id) r.id_token_claims = id;
      if (access) r.access_token_claims = access;
      if (st.app) r.app_metadata = ag.metadataDiff(st.appBefore, st.app);
      if (st.usr) r.user_metadata = ag.metadataDiff(st.usrBefore, st.usr);
      const mfa = c.multifactor;
      if (mfa && typeof mfa === 'object' && mfa.provider && mfa.provider !== 'none') r.require_mfa = true;
      if (typeof c.primaryUser === 'string' && c.primaryUser !== '') r.link_to = { user_id: c.primaryUser };
      return ag.result(r);
    } catch (e) {
      return ag.errorResult(e);
    }
  }

  const STALLED = ag.errorResult(new Error("the rule's callback was never called: " +
    'call callback(null, user, context) to continue or callback(error) to stop the login'));

  function authgraph_rule(factory, input, host) {
    let out;
    try {
      const ev = JSON.parse(input);
      const user = ag.user(ev);
      const st = {
        userId: user.user_id,
        appBefore: ag.jsonCopy(user.app_metadata),
        usrBefore: ag.jsonCopy(user.user_metadata),
        app: undefined,
        usr: undefined,
        context: context(ev),
      };
      const configuration = Object.assign({}, ev.secrets || {});
      const rule = factory(ag.require, ag.console, configuration, auth0(st, ev), UnauthorizedError, {});
      if (typeof rule !== 'function') {
        return ag.errorResult(new Error('the rule is not a function: a rule is function (user, context, callback) { … }'));
      }
      // A pending result (see __authgraph.pending) that the callback fills.
      const box = { result: STALLED };
      const callback = function (err, u, ctx) {
        if (out !== undefined) return;
        out = outcome(st, err, ctx);
        box.result = out;
      };
      const ret = rule(user, st.context, callback);
      if (out !== undefined) return out;
      // The rule goes on asynchronously: its callback, a rejection of the
      // promise an async rule returns, or a queue run dry ends it.
      if (ret && typeof ret.then === 'function') ret.then(undefined, (e) => callback(e));
      return box;
    } catch (err) {
      // A throw after the callback does not change what the rule decided.
      return out !== undefined ? out : ag.errorResult(err);
    }
  }

  Object.defineProperty(globalThis, 'authgraph_rule', { value: authgraph_rule, enumerable: false });
})();
