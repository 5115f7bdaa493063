package jsvm

import (
	"context"
	"testing"
)

func TestProbeJS(t *testing.T) {
	ctx := context.Background()
	vm, err := New(ctx, Config{Prelude: `function entry(factory, input, host) { const m = {exports: {}}; factory(m.exports, m, null, console); return m.exports.run(input, host); }`})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close(ctx)
	w := Wrap{Prefix: "(function (exports, module, require, console) {", Suffix: "\n})"}
	for _, src := range []string{
		"exports.run = (i) => 'hi ' + i",
		"exports.run = (i) => { console.log('x', {a:1}); return 'v:' + typeof Function + typeof eval + typeof std + typeof os + typeof setTimeout + typeof harden }",
		"exports.run = async (i) => { await 0; return 'async ' + i }",
		"exports.run = (i) => 42",
		"exports.run = (i) => { throw new TypeError('boom') }",
		"exports.run = (i) => { throw 42 }",
		"exports.run = (i) => { function f(n) { return f(n+1)+1 } return f(0) }",
		"exports.run = (i) => { while(true){} }",
		"exports.run = async (i) => { while(true){ await 0 } }",
		"exports.run = (i) => { let s = 'x'; while(true) s += s; }",
		"exports.run = (i) => 'x'.repeat(1<<30)",
		"exports.run = (i) => { const a=[]; while(true) a.push({}); }",
		"exports.run = (i) => { return (()=>{}).constructor('return 1')() }",
		"exports.run = (i) => { return String(Object.isFrozen(globalThis)) + Object.isFrozen(Object.prototype) + Object.isFrozen(Object.getPrototypeOf(async function(){})) }",
		"exports.run = (i) => { const e = new Error('x'); e.name = 'Y'; class Z extends Error { constructor(){ super('m'); this.name = 'Z' } } const o = {}; o.toString = () => 'ts'; return e.name + new Z().name + o }",
		"exports.run = (i) => { Promise.resolve().then(function loop(){ return Promise.resolve().then(loop) }); return 'left a loop' }",
		"exports.run = (i) => 'after'",
		"exports.run = (i) => { var x = \n",
		"  exports.run = (i) => { var 1x = 2 }",
		"exports.run = (i) => \\u0069mport('qjs:os')",
		"exports.run = (i) => typeof arguments.callee",
		"exports.run = function (i) { return String(typeof this) }",
		"exports.run = function f(i) { try { return String(f.caller) } catch (e) { return 'caller: ' + e } }",
	} {
		p, err := vm.Compile(ctx, "rule.js", src, w)
		if err != nil {
			t.Logf("%q compile: %v", src, err)
			continue
		}
		out, err := vm.Run(ctx, p, "entry", "in", nil, 300*1e6)
		res := out.Result
		if len(res) > 100 {
			res = res[:100]
		}
		t.Logf("%q -> %q logs=%q err=%v (%v)", src, res, out.Logs, err, out.Duration)
	}
}
