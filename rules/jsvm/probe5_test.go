package jsvm

import (
	"context"
	"testing"
	"time"
)

func TestProbeSpeed(t *testing.T) {
	ctx := context.Background()
	vm, err := New(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close(ctx)
	r, _ := vm.newRuntime(ctx, false)
	q := r.q
	for _, code := range []string{
		"let s=0; for (let i=0;i<1e6;i++) s+=i; s",
		"{let n=0; const seen=new Set(); const todo=[globalThis]; while(todo.length){const o=todo.pop(); if((typeof o!=='object'&&typeof o!=='function')||o===null||seen.has(o))continue; seen.add(o); todo.push(Object.getPrototypeOf(o)); for(const k of Reflect.ownKeys(o)){n++; const d=Object.getOwnPropertyDescriptor(o,k); if('value' in d) todo.push(d.value); else todo.push(d.get,d.set);}} String(seen.size)+' '+n}",
		"{let n=0; const seen=new Set(); const todo=[globalThis]; while(todo.length){const o=todo.pop(); if((typeof o!=='object'&&typeof o!=='function')||o===null||seen.has(o))continue; seen.add(o); Object.freeze(o); todo.push(Object.getPrototypeOf(o)); for(const k of Reflect.ownKeys(o)){n++; const d=Object.getOwnPropertyDescriptor(o,k); if('value' in d) todo.push(d.value); else todo.push(d.get,d.set);}} String(seen.size)+' '+n}",
	} {
		s := time.Now()
		v, err := q.eval("x.js", code, nil, 0)
		out, _ := q.toString(v)
		t.Logf("%v %v %q", time.Since(s), err, out)
	}
}
