// Runs first in every new runtime, before the prelude. It evaluates to a
// function that the host calls once with its private capabilities; the
// returned [run, lockdown] are never reachable from the global object.
(function (rawHost, rawLog) {
  'use strict';
  const g = globalThis;
  // QuickJS's libc helpers: file system, process, timers across calls,
  // host-side garbage collection. Dynamic import of qjs:std/qjs:os is
  // refused in untrusted source (compile) and code generation from strings
  // is tamed by lockdown, so these stay out of reach.
  for (const k of ['std', 'os', 'bjson', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval',
    'gc', 'navigator', 'print', 'scriptArgs', 'console', 'WeakRef', 'FinalizationRegistry']) {
    delete g[k];
  }

  const { defineProperty, getOwnPropertyDescriptor, getPrototypeOf, freeze, isFrozen, hasOwn } = Object;
  const { ownKeys, apply } = Reflect;
  const stringify = JSON.stringify;
  const ErrorCtor = Error;

  function format(v) {
    if (typeof v === 'string') return v;
    if (v instanceof ErrorCtor) {
      // The stack without the host's own frames.
      const frames = typeof v.stack === 'string' ? v.stack.split('\n').filter((l) => l.trim() !== '' &&
        !l.includes('(setup.js:') && !l.includes('(native)')) : [];
      return [String(v)].concat(frames).join('\n');
    }
    if (typeof v === 'object' && v !== null) {
      try {
        const s = stringify(v);
        if (s !== undefined) return s;
      } catch (e) {
        // cycles, BigInt: fall back to String
      }
    }
    try {
      return String(v);
    } catch (e) {
      return Object.prototype.toString.call(v);
    }
  }
  function logger(level) {
    return {
      [level](...args) {
        let line = '';
        for (let i = 0; i < args.length; i++) line += (i ? ' ' : '') + format(args[i]);
        rawLog(String(line));
      },
    }[level];
  }
  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) console[level] = logger(level);
  defineProperty(g, 'console', { value: console, writable: true, enumerable: false, configurable: true });

  // harden freezes an object, its properties (accessors included) and
  // prototypes, transitively. Before lockdown it only records its argument:
  // the intrinsics must be frozen after the prelude and in one pass.
  let locked = false;
  const pending = [];
  function freezeAll(root) {
    const seen = new Set();
    const todo = [root];
    while (todo.length) {
      const o = todo.pop();
      if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) continue;
      seen.add(o);
      freeze(o);
      todo.push(getPrototypeOf(o));
      for (const k of ownKeys(o)) {
        const d = getOwnPropertyDescriptor(o, k);
        if (!d) continue;
        if ('value' in d) todo.push(d.value);
        else todo.push(d.get, d.set);
      }
    }
  }
  function harden(o) {
    if (locked) freezeAll(o);
    else pending.push(o);
    return o;
  }
  defineProperty(g, 'harden', { value: harden, writable: true, enumerable: false, configurable: true });

  // Assigning to a property that a frozen prototype holds as a data
  // property fails (the "override mistake": `err.name = 'X'` on an Error,
  // `this.name = …` in a subclass, `o.toString = …`). These become
  // accessors that define the property on the receiver instead, as SES does.
  function enableOverride(proto, key) {
    const d = getOwnPropertyDescriptor(proto, key);
    if (!d || !('value' in d) || !d.configurable) return;
    const value = d.value;
    defineProperty(proto, key, {
      get() { return value; },
      set(v) {
        if (this === proto) throw new TypeError('Cannot assign to read only property \'' + String(key) + '\' of a shared prototype');
        if (hasOwn(this, key)) this[key] = v;
        else defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  }

  function throwing(what) {
    return function () {
      throw new TypeError(what + ' is not available: code generation from strings is disabled');
    };
  }

  // lockdown runs once, after the prelude: it removes code generation from
  // strings and freezes every intrinsic reachable from the global object or
  // from syntax, and the global object itself.
  function lockdown() {
    const AsyncFunction = getPrototypeOf(async function () {}).constructor;
    const GeneratorFunction = getPrototypeOf(function* () {}).constructor;
    const AsyncGeneratorFunction = getPrototypeOf(async function* () {}).constructor;
    const hidden = [
      AsyncFunction, GeneratorFunction, AsyncGeneratorFunction,
      getPrototypeOf(function* () {}()), // %GeneratorPrototype%
      getPrototypeOf(async function* () {}()),
      getPrototypeOf(getPrototypeOf(function* () {}())), // %IteratorPrototype%
      getPrototypeOf(getPrototypeOf(async function* () {}())),
      getPrototypeOf([][Symbol.iterator]()),
      getPrototypeOf(''[Symbol.iterator]()),
      getPrototypeOf(new Map()[Symbol.iterator]()),
      getPrototypeOf(new Set()[Symbol.iterator]()),
      getPrototypeOf(/x/[Symbol.matchAll]('')),
      getPrototypeOf(Uint8Array),
      getOwnPropertyDescriptor(Function.prototype, 'caller'),
      getOwnPropertyDescriptor(Function.prototype, 'arguments'),
      (function () { return arguments; }()),
    ];
    if (typeof Iterator === 'function') {
      hidden.push(getPrototypeOf([].values().map((x) => x)));
      hidden.push(getPrototypeOf(Iterator.from({ next() { return { done: true }; } })));
    }
    // Code generation from strings: eval, Function and its siblings.
    for (const C of [Function, AsyncFunction, GeneratorFunction, AsyncGeneratorFunction]) {
      const T = throwing(C.name);
      defineProperty(T, 'prototype', { value: C.prototype, writable: false, enumerable: false, configurable: false });
      defineProperty(T, 'name', { value: C.name });
      defineProperty(C.prototype, 'constructor', { value: T, writable: true, enumerable: false, configurable: true });
      if (C === Function) defineProperty(g, 'Function', { value: T, writable: true, enumerable: false, configurable: true });
    }
    defineProperty(g, 'eval', { value: throwing('eval'), writable: true, enumerable: false, configurable: true });

    // Error.stackTraceLimit and Error.prepareStackTrace are accessors over
    // the context's own state: frozen, their setters would still work.
    for (const k of ['stackTraceLimit', 'prepareStackTrace']) {
      const d = getOwnPropertyDescriptor(Error, k);
      if (d && !('value' in d)) {
        const v = d.get ? apply(d.get, Error, []) : undefined;
        defineProperty(Error, k, { value: v, writable: false, enumerable: d.enumerable, configurable: false });
      }
    }
    const errors = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];
    if (typeof AggregateError === 'function') errors.push(AggregateError);
    for (const E of errors) for (const k of ['constructor', 'message', 'name', 'toString']) enableOverride(E.prototype, k);
    for (const k of ['constructor', 'toString', 'valueOf', 'toLocaleString', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable']) {
      enableOverride(Object.prototype, k);
    }
    for (const k of ['constructor', 'toString', 'push', 'concat', 'join', Symbol.iterator]) enableOverride(Array.prototype, k);
    for (const k of ['constructor', 'bind', 'toString', 'call', 'apply']) enableOverride(Function.prototype, k);
    for (const k of ['constructor', 'then', 'catch', 'finally']) enableOverride(Promise.prototype, k);
    enableOverride(getPrototypeOf(getPrototypeOf(function* () {}())), 'toString');

    locked = true;
    freezeAll(g);
    for (const h of hidden) freezeAll(h);
    for (const p of pending) freezeAll(p);
    pending.length = 0;
  }

  // run returns the entry's result: a string, or a promise of one that the
  // host awaits (not an async function: that would add promise jobs to
  // every call, and each costs microseconds here).
  function run(entry, factory, input, gen) {
    // rawHost answers "1" + result or "0" + error message.
    const host = (name, arg) => {
      const r = rawHost(gen, String(name), String(arg));
      if (r[0] !== '1') throw new Error(r.slice(1));
      return r.slice(1);
    };
    freeze(host);
    const f = g[entry];
    if (typeof f !== 'function') throw new TypeError('the prelude defines no function ' + entry);
    return apply(f, undefined, [factory, input, host]);
  }

  return [run, lockdown, freezeAll];
})
