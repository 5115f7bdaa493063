package jsvm

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// stashJS tries every place a call could leave the user's email for the
// next call to find, and reports what its own module state looked like.
const stashJS = `
let moduleVar = 'fresh';
const factory = arguments.callee;
exports.run = (input, host) => {
  const email = JSON.parse(input).email;
  const before = moduleVar;
  const attempt = (f) => { try { f(); } catch (e) { /* frozen: refused */ } };
  attempt(() => { moduleVar = email; });
  attempt(() => { globalThis.stash = email; });
  attempt(() => { Object.defineProperty(globalThis, 'stash2', { value: email }); });
  attempt(() => { Object.setPrototypeOf(globalThis, { stash3: email }); });
  attempt(() => { Object.prototype.stash = email; });
  attempt(() => { Object.prototype.toString = () => email; });
  attempt(() => { Array.prototype.stash = email; });
  attempt(() => { Array.prototype.push = () => email; });
  attempt(() => { Function.prototype.stash = email; });
  attempt(() => { String.prototype.trim = () => email; });
  attempt(() => { JSON.stash = email; });
  attempt(() => { JSON.stringify = () => email; });
  attempt(() => { Math.random = () => email; });
  attempt(() => { Date.prototype.stash = email; });
  attempt(() => { Error.stackTraceLimit = email.length; });
  attempt(() => { Error.prepareStackTrace = () => email; });
  attempt(() => { Error.prototype.stash = email; });
  attempt(() => { Promise.prototype.then = function () { return email; }; });
  attempt(() => { Promise.prototype.stash = email; });
  attempt(() => { Object.getPrototypeOf(async function () {}).stash = email; });
  attempt(() => { Object.getPrototypeOf(function* () {}).stash = email; });
  attempt(() => { Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())).stash = email; });
  attempt(() => { Object.getPrototypeOf(Uint8Array).stash = email; });
  attempt(() => { Object.getPrototypeOf(new Map().entries()).stash = email; });
  attempt(() => { Symbol.for(email); });
  attempt(() => { console.stash = email; });
  attempt(() => { console.log = () => email; });
  attempt(() => { harden.stash = email; });
  attempt(() => { factory.stash = email; });
  attempt(() => { host.stash = email; });
  attempt(() => { /(.+)@(.+)/.exec(email); });
  attempt(() => { new Promise(() => {}).then(() => console.log('pending ' + email)); });
  attempt(() => {
    let n = 0;
    const next = () => (n++ < 100 ? Promise.resolve().then(next) : console.log('late ' + email));
    next();
  });
  return JSON.stringify({ before });
};
`

// probeJS looks for anything of another call in the places stashJS tried.
const probeJS = `
exports.run = () => {
  const seen = {};
  const look = (name, f) => { try { seen[name] = String(f()); } catch (e) { seen[name] = 'threw ' + e; } };
  look('global', () => globalThis.stash);
  look('global2', () => globalThis.stash2);
  look('global3', () => globalThis.stash3);
  look('Object.prototype', () => ({}).stash);
  look('toString', () => ({}).toString());
  look('Array.prototype', () => [].stash);
  look('push', () => [].push(1));
  look('Function.prototype', () => (function () {}).stash);
  look('trim', () => ' x '.trim());
  look('JSON', () => JSON.stash + JSON.stringify({ a: 1 }));
  look('random', () => typeof Math.random());
  look('Date', () => new Date(0).stash);
  look('stackTraceLimit', () => Error.stackTraceLimit);
  look('prepareStackTrace', () => Error.prepareStackTrace);
  look('Error', () => new Error('e').stash);
  look('then', () => typeof Promise.resolve().then(() => 1));
  look('Promise', () => Promise.resolve().stash);
  look('AsyncFunction', () => (async function () {}).stash);
  look('GeneratorFunction', () => (function* () {}).stash);
  look('iterator', () => [][Symbol.iterator]().stash);
  look('TypedArray', () => new Uint8Array(1).stash);
  look('map iterator', () => new Map().entries().stash);
  look('console', () => console.stash);
  look('harden', () => harden.stash);
  look('RegExp.$1', () => RegExp.$1 + RegExp.lastMatch + RegExp.input);
  console.log('probe');
  return JSON.stringify(seen);
};
`

// One call's data must not reach the next call in the same runtime.
func TestJSIsolationBetweenCalls(t *testing.T) {
	vm := newVM(t, Config{MaxConcurrent: 1, MaxIdle: 1})
	stash, probe := compile(t, vm, stashJS), compile(t, vm, probeJS)
	ctx := context.Background()
	call := func(p *Program, input string) Output {
		t.Helper()
		out, err := vm.Run(ctx, p, "entry", input, nil, 0)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		return out
	}
	baseline := call(probe, `{"email":"bob@example.org"}`)
	if strings.Contains(baseline.Result, "@") {
		t.Fatalf("baseline: %s", baseline.Result)
	}
	first := call(stash, `{"email":"alice@example.com"}`)
	if !strings.Contains(first.Result, `"fresh"`) {
		t.Errorf("first stash call: %s", first.Result)
	}
	// The job chain it left ran within its own call.
	if len(first.Logs) != 1 || first.Logs[0] != "late alice@example.com" {
		t.Errorf("stash call logs: %q", first.Logs)
	}
	after := call(probe, `{"email":"bob@example.org"}`)
	if after.Result != baseline.Result {
		var b, a map[string]string
		_ = json.Unmarshal([]byte(baseline.Result), &b)
		_ = json.Unmarshal([]byte(after.Result), &a)
		for k := range a {
			if a[k] != b[k] {
				t.Errorf("%s: %q before, %q after another user's call", k, b[k], a[k])
			}
		}
	}
	if strings.Join(after.Logs, "|") != "probe" {
		t.Errorf("the next call's logs: %q", after.Logs)
	}
	again := call(stash, `{"email":"carol@example.net"}`)
	if !strings.Contains(again.Result, `"fresh"`) {
		t.Errorf("module state survived: %s", again.Result)
	}
	// All of it ran in one runtime.
	r := <-vm.idle
	if r.calls != 4 {
		t.Errorf("%d calls in the pooled runtime, want 4", r.calls)
	}
	vm.idle <- r
}

// A host function kept by one call answers nothing in the next.
func TestJSHostBoundToItsCall(t *testing.T) {
	vm := newVM(t, Config{MaxConcurrent: 1, MaxIdle: 1})
	p := compile(t, vm, `
exports.run = (input, host) => {
  const r = host('get', '');
  return r;
};`)
	for _, user := range []string{"alice", "bob"} {
		out, err := vm.Run(context.Background(), p, "entry", "", func(context.Context, string, string) (string, error) { return user, nil }, 0)
		if err != nil || out.Result != user {
			t.Errorf("%s: %q, %v", user, out.Result, err)
		}
	}
}
