package rules

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkJSInvoke is one JavaScript rule call through Engine.Invoke, with
// every limit on, on the SDK sample event:
//
//   - raw: a prelude whose entry only runs the module body and returns
//     "{}": the cost of the runtime itself (pool, call, job queue drain,
//     result copy);
//
//   - action: the real preludes and an Action that sets a claim from the
//     event (JSON in, Auth0's event and api objects, JSON out).
//
//     go test -run '^$' -bench JSInvoke -benchmem ./rules/
func BenchmarkJSInvoke(b *testing.B) {
	payload := mustJSON(b, loginEvent(b))
	for _, tc := range []struct {
		name, prelude, src string
	}{
		{"raw", `function authgraph_action(factory, input, host) { factory({}, { exports: {} }, undefined, console); return '{}'; }`,
			"exports.onExecutePostLogin = async () => {};"},
		{"action", "", `exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://example.com/roles', event.user.app_metadata.roles || []);
};`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.prelude != "" {
				saved := jsPreludeSource
				jsPreludeSource = func() (string, error) { return tc.prelude, nil }
				b.Cleanup(func() { jsPreludeSource = saved })
			}
			e := newEngine(b, Config{CacheDir: testCacheDir})
			rv := RuleVersion{ID: "rul_bench", Name: "bench", Version: "1", JavaScript: tc.src}
			ctx := context.Background()
			if _, err := e.Invoke(ctx, &rv, payload); err != nil { // QuickJS compile, program compile, runtime
				b.Fatal(err)
			}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := e.Invoke(ctx, &rv, payload); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time of the process per call: on a loaded machine it is
			// the figure wall time hides.
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
