package jsvm

import (
	"context"
	"testing"
	"time"
)

func TestProbePhases(t *testing.T) {
	ctx := context.Background()
	vm, err := New(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close(ctx)
	for i := 0; i < 3; i++ {
		s := time.Now()
		r, err := vm.newRuntime(ctx, false)
		t.Logf("instantiate %v %v", time.Since(s), err)
		q := r.q
		for _, code := range []string{"0", "1+1", setupJS} {
			s = time.Now()
			_, err = q.eval("x.js", code, nil, 0)
			t.Logf("eval %d %v %v", len(code), time.Since(s), err)
		}
		r.close()
	}
}
