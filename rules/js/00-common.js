// Shared helpers of the trusted preludes (actions.js, rules.js). They run
// once per runtime, before the runtime is frozen; everything reachable from
// here is frozen too, so that one call cannot leave something behind that
// changes the next. Per-call state lives only in objects each entry creates
// for its call.
const __authgraph = (function () {
  'use strict';

  // Modules `require` can load: pure helpers with no I/O, implemented here.
  // Keep in step with jsRequireAllowlist (rules/jsvalidate.go), which
  // refuses other literal require()s at upload.
  const ALLOWED = ['querystring', 'util'];

  function deepFreeze(o) {
    if ((typeof o === 'object' && o !== null) || typeof o === 'function') {
      if (Object.isFrozen(o)) return o;
      Object.freeze(o);
      for (const k of Reflect.ownKeys(o)) {
        const d = Object.getOwnPropertyDescriptor(o, k);
        if (!d) continue;
        if ('value' in d) {
          deepFreeze(d.value);
        } else {
          // An accessor's functions are objects a rule can reach (through
          // Object.getOwnPropertyDescriptor) and write to.
          deepFreeze(d.get);
          deepFreeze(d.set);
        }
      }
    }
    return o;
  }

  // JSON copy: what a value becomes once it leaves the rule (functions and
  // undefined members vanish, Dates become strings). A value JSON cannot
  // hold (a cycle, a BigInt) throws here, at the caller's line.
  function jsonCopy(v, what) {
    if (v === undefined) return undefined;
    let s;
    try {
      s = JSON.stringify(v);
    } catch (e) {
      throw new TypeError(what + ' is not JSON-serializable: ' + errorMessage(e));
    }
    return s === undefined ? undefined : JSON.parse(s);
  }

  // stableJSON is JSON with object keys sorted, to compare values whose
  // keys a rule may have reordered.
  function stableJSON(v) {
    if (Array.isArray(v)) return '[' + v.map(stableJSON).join(',') + ']';
    if (v !== null && typeof v === 'object') {
      return '{' + Object.keys(v).sort().filter((k) => v[k] !== undefined)
        .map((k) => JSON.stringify(k) + ':' + stableJSON(v[k])).join(',') + '}';
    }
    const s = JSON.stringify(v);
    return s === undefined ? 'null' : s;
  }

  // metadataDiff returns the top-level key updates that turn before into
  // after: changed or new keys with their value, removed keys (or keys set
  // to null) as null.
  function metadataDiff(before, after) {
    const out = {};
    let n = 0;
    for (const k of Object.keys(before)) {
      if (after[k] === undefined || after[k] === null) {
        out[k] = null;
        n++;
      }
    }
    for (const k of Object.keys(after)) {
      const v = after[k];
      if (v === undefined || v === null) continue;
      if (!Object.prototype.hasOwnProperty.call(before, k) || stableJSON(before[k]) !== stableJSON(v)) {
        out[k] = v;
        n++;
      }
    }
    return n ? out : undefined;
  }

  function errorMessage(e) {
    if (e instanceof Error) return e.message || e.name || 'Error';
    if (e !== null && typeof e === 'object') {
      if (typeof e.message === 'string' && e.message) return e.message;
      try {
        return JSON.stringify(e);
      } catch (_) {
        return String(e);
      }
    }
    return String(e);
  }

  // result serializes a rules.Result, or an error result when that fails.
  function result(r) {
    try {
      return JSON.stringify(r);
    } catch (e) {
      return JSON.stringify({ error: { message: 'the result is not JSON-serializable: ' + errorMessage(e) } });
    }
  }

  function errorResult(e) {
    return JSON.stringify({ error: { message: errorMessage(e) } });
  }

  // pending returns a pending result: an object whose result the host reads
  // once the job queue has run dry after the entry returned (a string: the
  // result JSON). It starts as stalledResult, what a call whose promise can
  // no longer settle amounts to (with no network and no timers, nothing is
  // left to settle it once the queue is empty), and p's outcome replaces it:
  // onValue(v) when p fulfils with v, onError(e) when it rejects with e.
  // One promise job, where awaiting p in the host and detecting a stall in
  // JavaScript took several (each costs microseconds here).
  function pending(p, onValue, onError, stalledResult) {
    const box = { result: stalledResult };
    p.then((v) => { box.result = onValue(v); }, (e) => { box.result = onError(e); });
    return box;
  }

  // ---- require: the allowlisted modules ----

  function qsEscape(s) {
    return encodeURIComponent(s);
  }

  function qsUnescape(s) {
    try {
      return decodeURIComponent(s);
    } catch (_) {
      return s.replace(/%([0-9a-fA-F]{2})/g, (m, h) => String.fromCharCode(parseInt(h, 16)));
    }
  }

  function qsStringifyPrim(v) {
    if (typeof v === 'string') return v;
    if ((typeof v === 'number' && isFinite(v)) || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
    return '';
  }

  const querystring = {
    escape: qsEscape,
    unescape: qsUnescape,
    // parse is Node's querystring.parse: repeated keys become arrays, '+'
    // is a space, maxKeys (default 1000) bounds the number of pairs.
    parse(str, sep, eq, options) {
      sep = sep || '&';
      eq = eq || '=';
      const maxKeys = options && typeof options.maxKeys === 'number' ? options.maxKeys : 1000;
      const decode = options && typeof options.decodeURIComponent === 'function' ? options.decodeURIComponent : qsUnescape;
      const out = Object.create(null);
      if (typeof str !== 'string' || str.length === 0) return out;
      let parts = str.split(sep);
      if (maxKeys > 0) parts = parts.slice(0, maxKeys);
      for (const part of parts) {
        if (part === '') continue;
        const i = part.indexOf(eq);
        const k = decode((i >= 0 ? part.slice(0, i) : part).replace(/\+/g, ' '));
        const v = i >= 0 ? decode(part.slice(i + eq.length).replace(/\+/g, ' ')) : '';
        if (!(k in out)) out[k] = v;
        else if (Array.isArray(out[k])) out[k].push(v);
        else out[k] = [out[k], v];
      }
      return out;
    },
    stringify(obj, sep, eq, options) {
      sep = sep || '&';
      eq = eq || '=';
      const encode = options && typeof options.encodeURIComponent === 'function' ? options.encodeURIComponent : qsEscape;
      if (obj === null || typeof obj !== 'object') return '';
      const out = [];
      for (const k of Object.keys(obj)) {
        const ks = encode(qsStringifyPrim(k)) + eq;
        const v = obj[k];
        if (Array.isArray(v)) for (const x of v) out.push(ks + encode(qsStringifyPrim(x)));
        else out.push(ks + encode(qsStringifyPrim(v)));
      }
      return out.join(sep);
    },
  };
  querystring.decode = querystring.parse;
  querystring.encode = querystring.stringify;

  function inspect(v, opts) {
    const depth = opts && typeof opts.depth === 'number' ? opts.depth : 2;
    const seen = [];
    function fmt(x, d) {
      switch (typeof x) {
        case 'string':
          return d === 0 ? x : "'" + x.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n') + "'";
        case 'function':
          return '[Function: ' + (x.name || '(anonymous)') + ']';
        case 'bigint':
          return String(x) + 'n';
        case 'symbol':
          return x.toString();
        case 'undefined':
          return 'undefined';
        case 'object':
          break;
        default:
          return String(x);
      }
      if (x === null) return 'null';
      if (x instanceof Error) return x.stack ? String(x.stack).split('\n')[0] : x.name + ': ' + x.message;
      if (x instanceof Date) return isNaN(x) ? 'Invalid Date' : x.toISOString();
      if (x instanceof RegExp) return String(x);
      if (seen.includes(x)) return '[Circular]';
      if (d > depth + 1) return Array.isArray(x) ? '[Array]' : '[Object]';
      seen.push(x);
      let s;
      if (Array.isArray(x)) {
        s = x.length === 0 ? '[]' : '[ ' + x.map((y) => fmt(y, d + 1)).join(', ') + ' ]';
      } else {
        const keys = Object.keys(x);
        s = keys.length === 0 ? '{}' : '{ ' + keys.map((k) =>
          (/^[A-Za-z_$][\w$]*$/.test(k) ? k : "'" + k + "'") + ': ' + fmt(x[k], d + 1)).join(', ') + ' }';
      }
      seen.pop();
      return s;
    }
    return fmt(v, 1);
  }

  // format is Node's util.format: %s %d %i %f %j %o %O %% placeholders,
  // extra arguments appended with spaces.
  function format(f, ...args) {
    if (typeof f !== 'string') return [f, ...args].map((a) => (typeof a === 'string' ? a : inspect(a))).join(' ');
    let i = 0;
    let s = f.replace(/%[sdifjoO%]/g, (m) => {
      if (m === '%%') return '%';
      if (i >= args.length) return m;
      const a = args[i++];
      switch (m) {
        case '%s':
          return typeof a === 'string' ? a : (typeof a === 'object' && a !== null ? inspect(a) : String(a));
        case '%d':
          return typeof a === 'object' ? 'NaN' : String(Number(a));
        case '%i':
          return String(parseInt(a, 10));
        case '%f':
          return String(parseFloat(a));
        case '%j':
          try {
            return JSON.stringify(a);
          } catch (_) {
            return '[Circular]';
          }
        default:
          return inspect(a);
      }
    });
    for (; i < args.length; i++) s += ' ' + (typeof args[i] === 'string' ? args[i] : inspect(args[i]));
    return s;
  }

  function isDeepStrictEqual(a, b) {
    if (Object.is(a, b)) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (a instanceof Date) return a.getTime() === b.getTime();
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && isDeepStrictEqual(a[k], b[k]));
  }

  function promisify(fn) {
    if (typeof fn !== 'function') throw new TypeError('The "original" argument must be of type function');
    return function (...args) {
      return new Promise((resolve, reject) => {
        fn.call(this, ...args, (err, value) => (err ? reject(err) : resolve(value)));
      });
    };
  }

  const util = {
    format,
    inspect,
    isDeepStrictEqual,
    promisify,
    types: {
      isDate: (v) => v instanceof Date,
      isRegExp: (v) => v instanceof RegExp,
      isPromise: (v) => v instanceof Promise,
    },
    isArray: Array.isArray,
  };

  // Frozen: a rule must not be able to change them for the calls after it.
  const modules = deepFreeze({ querystring, util });

  function require(name) {
    const id = typeof name === 'string' && name.startsWith('node:') ? name.slice(5) : name;
    if (typeof id === 'string' && ALLOWED.includes(id)) return modules[id];
    throw new Error("require('" + String(name) + "') is not available: JavaScript rules run without network or " +
      'file access and without npm packages; the modules available are ' + ALLOWED.join(', '));
  }

  // ---- console ----

  // The runtime's console (its lines are captured for the rule's logs),
  // with util.format's placeholders, as in Node.
  const sink = globalThis.console;
  function line(level) {
    const f = sink && (sink[level] || sink.log);
    return function (...args) {
      if (f) f.call(sink, format(...args));
    };
  }
  const console = {
    log: line('log'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    debug: line('debug'),
    trace: line('debug'),
    dir: (v, opts) => line('log')(inspect(v, opts)),
  };

  // ---- the shapes shared by Actions and Rules ----

  // Our AMR names that Auth0 spells differently in
  // event.authentication.methods.
  const METHOD_NAMES = { __proto__: null, fed: 'federated' };

  // methods returns the session's authentication methods in Auth0's
  // spelling; for Rules, timestamps are milliseconds since the epoch.
  function methods(ev, asNumber) {
    const ms = (ev.authentication && ev.authentication.methods) || [];
    for (const m of ms) {
      if (METHOD_NAMES[m.name]) m.name = METHOD_NAMES[m.name];
      if (asNumber) m.timestamp = Date.parse(m.timestamp);
    }
    return ms;
  }

  function identities(u) {
    return (u.identities || []).map((i) => {
      const out = { connection: i.connection, provider: i.provider, user_id: i.user_id, userId: i.user_id, isSocial: !!i.is_social };
      if (i.profile_data) out.profileData = i.profile_data;
      return out;
    });
  }

  // user turns the event's user (parsed for this call only, so changed in
  // place) into the Auth0 profile both shapes share: identities in Auth0's
  // spelling, metadata always objects.
  function user(ev) {
    const u = ev.user || (ev.user = {});
    u.identities = identities(u);
    if (!u.app_metadata) u.app_metadata = {};
    if (!u.user_metadata) u.user_metadata = {};
    return u;
  }

  return deepFreeze({
    ALLOWED, jsonCopy, metadataDiff, errorMessage, result, errorResult, pending, require, console, methods, user,
    deepFreeze,
  });
})();
