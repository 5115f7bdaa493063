package jsvm

import (
	"context"
	"testing"
	"time"
)

func TestProbeTiming(t *testing.T) {
	ctx := context.Background()
	vm, err := New(ctx, Config{Prelude: `function entry(factory, input, host) { const m = {exports: {}}; factory(m.exports, m, null, console); return m.exports.run(input, host); }`})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close(ctx)
	for i := 0; i < 3; i++ {
		s := time.Now()
		r, err := vm.newRuntime(ctx, true)
		t.Logf("newRuntime %v %v", time.Since(s), err)
		s = time.Now()
		r.close()
		t.Logf("close %v", time.Since(s))
	}
	w := Wrap{Prefix: "(function (exports, module, require, console) {", Suffix: "\n})"}
	p, _ := vm.Compile(ctx, "a.js", "exports.run = (i) => { throw 42 }", w)
	ok, _ := vm.Compile(ctx, "b.js", "exports.run = (i) => 'ok'", w)
	for i := 0; i < 3; i++ {
		s := time.Now()
		_, err := vm.Run(ctx, p, "entry", "x", nil, time.Second)
		t.Logf("throw %v %v", time.Since(s), err)
		s = time.Now()
		_, err = vm.Run(ctx, ok, "entry", "x", nil, time.Second)
		t.Logf("ok %v %v", time.Since(s), err)
	}
	s := time.Now()
	for i := 0; i < 200; i++ {
		vm.Run(ctx, ok, "entry", "x", nil, time.Second)
	}
	t.Logf("pooled %v", time.Since(s)/200)
}
