package jsvm

import (
	"context"
	"testing"
	"time"
)

func TestProbeSetup(t *testing.T) {
	ctx := context.Background()
	vm, err := New(ctx, Config{Prelude: `function entry(factory, input, host) { const m = {exports: {}}; factory(m.exports, m, null, console); return m.exports.run(input, host); }`})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close(ctx)
	for i := 0; i < 3; i++ {
		s := time.Now()
		r, _ := vm.newRuntime(ctx, false)
		q := r.q
		t.Logf("inst %v", time.Since(s))
		s = time.Now()
		fn, err := q.eval("setup.js", setupJS, nil, evalTypeGlobal|evalFlagStrict)
		t.Logf("eval setup %v %v", time.Since(s), err)
		s = time.Now()
		rawHost := q.function(r.hostFunc)
		rawLog := q.function(r.logFunc)
		caps, err := q.invoke(fn, rawHost, rawLog)
		t.Logf("invoke setup %v %v", time.Since(s), err)
		lockdown := q.index(caps, 1)
		s = time.Now()
		_, err = q.eval("prelude.js", vm.cfg.Prelude, nil, 0)
		t.Logf("prelude %v %v", time.Since(s), err)
		s = time.Now()
		_, err = q.invoke(lockdown)
		t.Logf("lockdown %v %v", time.Since(s), err)
		s = time.Now()
		_, err = q.eval("d.js", "0", nil, 0)
		t.Logf("drain %v %v", time.Since(s), err)
		r.close()
	}
}
