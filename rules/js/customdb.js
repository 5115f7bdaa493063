// Auth0 custom-database scripts (docs/CUSTOM_DATABASE.md, "JavaScript scripts").
//
// authgraph_customdb(factory, input, host) runs one operation: input is the
// script input JSON of WebAssembly scripts ({op, args, connection} and, when
// the connection has one, configuration); the returned Promise resolves to
// the script result JSON of WebAssembly scripts ({"result": …} or
// {"error": {code, message, email}}). factory(require, console, configuration,
// db, bcrypt) returns the uploaded function (the wrapper makes the source one
// function expression, whatever its name). The database and bcrypt modules
// Auth0's scripts require, and the db global, are shims over the synchronous
// host calls db_query, db_exec, bcrypt_verify and bcrypt_hash: whatever
// connection string or credentials a script gives, it reaches the
// connection's own database.
//
// Everything is inside one function so that no name collides with the other
// preludes, which share the global scope.
(function () {
  'use strict';

  // Auth0's error classes, global as in Auth0's sandbox. Another prelude may
  // already define some of them (UnauthorizedError for rules): the first
  // definition stays, and the mapping below goes by name.
  function defineError(name, init) {
    if (typeof globalThis[name] === 'function') return;
    const C = function () {
      if (!(this instanceof C)) return new C(...arguments);
      init.apply(this, arguments);
      this.name = name;
      const stack = new Error(this.message).stack;
      if (stack) this.stack = stack;
    };
    Object.defineProperty(C, 'name', { value: name });
    C.prototype = Object.create(Error.prototype, { constructor: { value: C, writable: true, configurable: true } });
    Object.defineProperty(globalThis, name, { value: C, writable: false, configurable: false });
  }
  defineError('WrongUsernameOrPasswordError', function (email, message) {
    this.email = email;
    this.message = message === undefined ? 'Wrong email or password.' : String(message);
  });
  defineError('ValidationError', function (code, message) {
    this.code = code;
    this.message = message === undefined ? String(code) : String(message);
  });
  defineError('UnauthorizedError', function (message) {
    this.message = message === undefined ? 'Unauthorized' : String(message);
  });

  // Arguments of each operation, in Auth0's order (the callback follows).
  const ARGS = {
    login: (a) => [a.username, a.password],
    get_user: (a) => [a.email],
    create: (a, input) => [Object.assign({}, a.user, { connection: input.connection })],
    verify: (a) => [a.email],
    change_password: (a) => [a.email, a.new_password],
    delete: (a) => [a.id],
    change_email: (a) => [a.email, a.new_email, a.verified],
  };

  // Callbacks run as jobs, never inside the call that schedules them, as in
  // Node.js (code after client.query(…) runs before its callback).
  let report = null; // the running call's error reporter (one call per runtime at a time)
  function later(fn) {
    Promise.resolve().then(() => {
      try {
        fn();
      } catch (e) {
        if (report) report(e);
      }
    });
  }

  function hostCall(host, name, arg) {
    let out;
    try {
      out = JSON.parse(host(name, JSON.stringify(arg)));
    } catch (e) {
      throw e instanceof Error ? e : new Error(String(e));
    }
    if (out && typeof out.error === 'string') {
      const err = new Error(out.error);
      // node-postgres and mysql name unique violations; create scripts test for them.
      if (/duplicate key|unique constraint/i.test(out.error)) err.code = '23505';
      else if (/Duplicate entry/i.test(out.error)) err.code = 'ER_DUP_ENTRY';
      throw err;
    }
    return out;
  }

  // Statements that return rows go to db_query, the others to db_exec.
  function returnsRows(sql) {
    const s = String(sql)
      .replace(/^(\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)+/, '')
      .replace(/^\(+\s*/, '');
    return /^(select|with|show|values|table|explain|describe|desc)\b/i.test(s) || /\breturning\b/i.test(s);
  }

  function run(host, sql, params) {
    if (returnsRows(sql)) {
      const out = hostCall(host, 'db_query', { sql: String(sql), params: params });
      return { rows: out.rows || [], affected: (out.rows || []).length, query: true };
    }
    const out = hostCall(host, 'db_exec', { sql: String(sql), params: params });
    return { rows: [], affected: Number(out.rows_affected) || 0, query: false };
  }

  function param(v) {
    if (v === undefined) return null;
    if (v instanceof Date) return v.toISOString();
    return v;
  }

  // callbackOrPromise calls cb(err, fn()) in a later job, or returns a
  // promise of fn() without a callback: Node's two conventions.
  function callbackOrPromise(fn, cb) {
    if (typeof cb === 'function') {
      let res, err = null;
      try {
        res = fn();
      } catch (e) {
        err = e;
      }
      later(() => cb(err, res));
      return undefined;
    }
    return new Promise((resolve) => resolve(fn()));
  }

  // ---- bcrypt (the host hashes and verifies; a generated salt only carries
  // its cost, the host draws the salt itself).
  function bcryptModule(host) {
    const cost = (rounds) => {
      if (typeof rounds === 'string') {
        const m = /^\$2[abxy]?\$(\d\d)\$/.exec(rounds);
        if (!m) throw new Error('Invalid salt. Salt: ' + rounds);
        return Number(m[1]);
      }
      return rounds === undefined ? 10 : Number(rounds);
    };
    const compareSync = (password, hash) =>
      hostCall(host, 'bcrypt_verify', { password: String(password), hash: String(hash) }).match === true;
    const hashSync = (password, rounds) => hostCall(host, 'bcrypt_hash', { password: String(password), cost: cost(rounds) }).hash;
    const genSaltSync = (rounds) => {
      const r = rounds === undefined ? 10 : Number(rounds);
      return '$2b$' + (r < 10 ? '0' : '') + r + '$' + 'a'.repeat(22);
    };
    return {
      compareSync,
      hashSync,
      genSaltSync,
      getRounds: (hash) => cost(String(hash)),
      compare: (password, hash, cb) => callbackOrPromise(() => compareSync(password, hash), cb),
      hash: (password, rounds, cb) => callbackOrPromise(() => hashSync(password, rounds), cb),
      genSalt: (rounds, cb) => {
        if (typeof rounds === 'function') return callbackOrPromise(() => genSaltSync(), rounds);
        return callbackOrPromise(() => genSaltSync(rounds), cb);
      },
    };
  }

  // ---- pg (node-postgres): $1… placeholders, as the host expects for
  // PostgreSQL; results {rows, rowCount, command}.
  function pgModule(host) {
    function query(text, values, cb) {
      if (text && typeof text === 'object') {
        if (typeof values === 'function') cb = values;
        values = text.values;
        text = text.text;
      } else if (typeof values === 'function') {
        cb = values;
        values = undefined;
      }
      const exec = () => {
        const params = (values || []).map(param);
        const r = run(host, text, params);
        const command = (/^\s*(\w+)/.exec(String(text)) || ['', ''])[1].toUpperCase();
        return { rows: r.rows, rowCount: r.affected, command: command, fields: [] };
      };
      return callbackOrPromise(exec, cb);
    }
    function connected(cb, args) {
      if (typeof cb === 'function') {
        later(() => cb.apply(null, [null].concat(args)));
        return undefined;
      }
      return Promise.resolve(args[0]);
    }
    function Client() {
      if (!(this instanceof Client)) return new Client();
    }
    Client.prototype.connect = function (cb) {
      return connected(cb, [this]);
    };
    Client.prototype.query = query;
    Client.prototype.end = function (cb) {
      return connected(cb, []);
    };
    Client.prototype.release = function () {};
    Client.prototype.on = function () {
      return this;
    };
    function Pool() {
      if (!(this instanceof Pool)) return new Pool();
    }
    Pool.prototype.connect = function (cb) {
      const client = new Client();
      return connected(cb, [client, () => {}]);
    };
    Pool.prototype.query = query;
    Pool.prototype.end = Client.prototype.end;
    Pool.prototype.on = Client.prototype.on;
    // pg.connect(conString, cb) (node-postgres before 7), also called as
    // pg(conString, cb) by some of Auth0's templates.
    const pg = function (conString, cb) {
      return pg.connect(conString, cb);
    };
    pg.connect = function (conString, cb) {
      if (typeof conString === 'function') cb = conString;
      const client = new Client();
      return connected(cb, [client, () => {}]);
    };
    pg.Client = Client;
    pg.Pool = Pool;
    pg.end = function () {};
    pg.defaults = {};
    pg.types = { setTypeParser: function () {} };
    return pg;
  }

  // ---- mysql: ? and ?? placeholders expanded as the mysql module does
  // (arrays to lists, objects to `key` = value pairs), values sent as
  // parameters, never spliced into the SQL.
  function mysqlModule(host) {
    const ident = (name) => '`' + String(name).replace(/`/g, '``') + '`';
    function format(sql, values) {
      if (values === undefined || values === null) return { sql: String(sql), params: [] };
      if (!Array.isArray(values)) values = [values];
      const params = [];
      let i = 0;
      const expand = (v) => {
        if (Array.isArray(v)) {
          return v.map((x) => (Array.isArray(x) ? '(' + expand(x) + ')' : expand(x))).join(', ');
        }
        if (v && typeof v === 'object' && !(v instanceof Date)) {
          return Object.keys(v)
            .filter((k) => typeof v[k] !== 'function')
            .map((k) => {
              params.push(param(v[k]));
              return ident(k) + ' = ?';
            })
            .join(', ');
        }
        params.push(param(v));
        return '?';
      };
      const out = String(sql).replace(/\?\??/g, (m) => {
        if (i >= values.length) return m;
        const v = values[i++];
        if (m === '??') return Array.isArray(v) ? v.map(ident).join(', ') : ident(v);
        return expand(v);
      });
      return { sql: out, params: params };
    }
    function query(sql, values, cb) {
      if (sql && typeof sql === 'object') {
        if (typeof values === 'function') cb = values;
        else if (values === undefined) values = sql.values;
        sql = sql.sql;
      }
      if (typeof values === 'function') {
        cb = values;
        values = undefined;
      }
      let res, err = null;
      try {
        const f = format(sql, values);
        const r = run(host, f.sql, f.params);
        if (r.query) {
          res = r.rows;
        } else {
          // An OkPacket; length is its affectedRows, so that scripts
          // testing results.length on an UPDATE see whether rows changed.
          res = { fieldCount: 0, affectedRows: r.affected, changedRows: r.affected, insertId: 0, warningCount: 0, message: '', length: r.affected };
        }
      } catch (e) {
        err = e;
      }
      if (typeof cb === 'function') later(() => cb(err, res, []));
      else if (err) later(() => { throw err; });
      return { on: function () { return this; } };
    }
    function Connection() {}
    Connection.prototype.connect = function (cb) {
      if (typeof cb === 'function') later(() => cb(null));
    };
    Connection.prototype.query = query;
    Connection.prototype.end = function (cb) {
      if (typeof cb === 'function') later(() => cb(null));
    };
    Connection.prototype.destroy = function () {};
    Connection.prototype.release = function () {};
    Connection.prototype.on = function () {
      return this;
    };
    Connection.prototype.escapeId = ident;
    function Pool() {}
    Pool.prototype.query = query;
    Pool.prototype.getConnection = function (cb) {
      later(() => cb(null, new Connection()));
    };
    Pool.prototype.end = Connection.prototype.end;
    Pool.prototype.on = Connection.prototype.on;
    return {
      createConnection: () => new Connection(),
      createPool: () => new Pool(),
      escapeId: ident,
      format: function (sql, values) {
        throw new Error('mysql.format splices values into SQL: pass them to query() instead');
      },
    };
  }

  // ---- db: the connection's database for scripts written here rather than
  // carried over from Auth0 (those require pg or mysql). Statements take
  // parameters only, in the database's own placeholders ($1… PostgreSQL,
  // ? MySQL); db.query gives the rows, db.exec {rowsAffected}.
  function dbObject(host) {
    function statement(what, sql, params) {
      if (typeof sql !== 'string' || sql.trim() === '') throw new TypeError(what + ': the statement must be a non-empty string');
      if (params !== undefined && params !== null && !Array.isArray(params)) {
        throw new TypeError(what + ': the parameters must be an array');
      }
      return { sql: sql, params: (params || []).map(param) };
    }
    return Object.freeze({
      query(sql, params, cb) {
        if (typeof params === 'function') {
          cb = params;
          params = undefined;
        }
        return callbackOrPromise(() => hostCall(host, 'db_query', statement('db.query', sql, params)).rows || [], cb);
      },
      exec(sql, params, cb) {
        if (typeof params === 'function') {
          cb = params;
          params = undefined;
        }
        return callbackOrPromise(() => {
          const out = hostCall(host, 'db_exec', statement('db.exec', sql, params));
          return { rowsAffected: Number(out.rows_affected) || 0 };
        }, cb);
      },
    });
  }

  const MODULES = { bcrypt: bcryptModule, pg: pgModule, mysql: mysqlModule };

  function makeRequire(host) {
    const cache = {};
    return function require(name) {
      const s = String(name);
      const at = s.lastIndexOf('@');
      const base = at > 0 ? s.slice(0, at) : s; // 'bcrypt@0.8.5' is bcrypt
      if (!Object.prototype.hasOwnProperty.call(MODULES, base)) {
        // The pure helpers of the other preludes (querystring, util).
        if (typeof __authgraph !== 'undefined') {
          try {
            return __authgraph.require(s);
          } catch (e) {
            // fall through to this script's message
          }
        }
        throw new Error("Cannot find module '" + s + "': custom-database scripts may require bcrypt, pg and mysql" +
          (typeof __authgraph !== 'undefined' ? ', ' + __authgraph.ALLOWED.join(', ') : ''));
      }
      if (!cache[base]) cache[base] = MODULES[base](host);
      return cache[base];
    };
  }

  function errorResult(err, op) {
    const name = err && (err.name || (err.constructor && err.constructor.name));
    const message = err && err.message !== undefined ? String(err.message) : String(err);
    if (name === 'WrongUsernameOrPasswordError') {
      const e = { code: 'wrong_credentials', message: message };
      if (err.email) e.email = String(err.email);
      return { error: e };
    }
    if (name === 'ValidationError') {
      const code = err.code === 'user_exists' ? 'user_exists' : 'validation';
      return { error: { code: code, message: message } };
    }
    if (name === 'UnauthorizedError') return { error: { code: 'wrong_credentials', message: message } };
    return { error: { code: 'system', message: message } };
  }

  // Auth0 accepts id for user_id, numbers for strings, and metadata for
  // app_metadata.
  function profile(p) {
    if (p === null || p === undefined) return null;
    if (typeof p !== 'object') throw new Error('the profile must be an object');
    const out = Object.assign({}, p);
    if ((out.user_id === undefined || out.user_id === null) && out.id !== undefined && out.id !== null) out.user_id = out.id;
    if (typeof out.user_id === 'number' || typeof out.user_id === 'bigint') out.user_id = String(out.user_id);
    if (out.app_metadata === undefined && out.metadata && typeof out.metadata === 'object') out.app_metadata = out.metadata;
    return out;
  }

  function success(op, value) {
    switch (op) {
      case 'login': {
        const p = profile(value);
        if (p === null) return { error: { code: 'wrong_credentials', message: 'Wrong email or password.' } };
        return { result: p };
      }
      case 'get_user':
        return { result: profile(value) };
      case 'create':
      case 'delete':
        return { result: null };
      default: // verify, change_password, change_email
        if (value !== null && typeof value === 'object') return { result: value };
        return { result: value === true };
    }
  }

  Object.defineProperty(globalThis, 'authgraph_customdb', {
    value: function authgraph_customdb(factory, input, host) {
      const req = JSON.parse(input);
      const op = req.op;
      const args = ARGS[op];
      if (!args) return JSON.stringify({ error: { code: 'system', message: 'unknown operation ' + op } });
      const configuration = Object.freeze(Object.assign({}, req.configuration || {}));
      return new Promise((resolve) => {
        let done = false;
        const finish = (out) => {
          if (done) return;
          done = true;
          report = null;
          resolve(JSON.stringify(out));
        };
        report = (e) => finish(errorResult(e, op));
        const callback = function (err, value) {
          if (done) return;
          if (err !== null && err !== undefined) return finish(errorResult(err, op));
          try {
            finish(success(op, value));
          } catch (e) {
            finish(errorResult(e, op));
          }
        };
        try {
          const con = typeof __authgraph !== 'undefined' ? __authgraph.console : globalThis.console;
          const require = makeRequire(host);
          const fn = factory(require, con, configuration, dbObject(host), require('bcrypt'));
          if (typeof fn !== 'function') throw new Error('the script is not a function');
          const ret = fn.apply(null, args(req.args || {}, req).concat([callback]));
          // An async function's rejection is the script's error too.
          if (ret && typeof ret.then === 'function') ret.then(undefined, (e) => callback(e === undefined || e === null ? new Error('rejected') : e));
        } catch (e) {
          finish(errorResult(e, op));
        }
      });
    },
    writable: false,
    configurable: false,
  });
})();
