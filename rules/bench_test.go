package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// The benchmarks measure per-call cost with every limit on (the deadline
// enforced by fuel checks, memory cap, log caps) on the SDK sample event
// (about 1.7 KB). Each rule does the same work: copy app_metadata.roles into
// a namespaced ID token claim.
//
//	make rules-bench   (or: go test -run '^$' -bench . -benchmem ./rules/)

// BenchmarkInvoke is one rule call: event bytes in, result bytes out.
func BenchmarkInvoke(b *testing.B) {
	payload := mustJSON(b, loginEvent(b))
	for _, name := range []string{"as-roles", "go-roles"} {
		b.Run(name, func(b *testing.B) {
			e := newEngine(b, Config{CacheDir: testCacheDir})
			rv := ruleFor(b, name)
			ctx := context.Background()
			if _, err := e.Invoke(ctx, &rv, payload); err != nil { // compile + instantiate
				b.Fatal(err)
			}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Invoke(ctx, &rv, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The same logic as native Go: decode the event, build and encode the
	// result. This is the floor a sandboxed rule is compared with.
	b.Run("native-go", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			var ev Event
			if err := json.Unmarshal(payload, &ev); err != nil {
				b.Fatal(err)
			}
			res := Result{IDTokenClaims: map[string]any{"https://example.com/roles": ev.User.AppMetadata["roles"]}}
			if _, err := json.Marshal(res); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPipeline is what rules add to a login: event encoding per rule,
// the calls, result decoding, claim filtering and metadata merging.
func BenchmarkPipeline(b *testing.B) {
	for _, c := range []struct {
		name  string
		rules []string
	}{
		{"as-1", []string{"as-roles"}},
		{"go-1", []string{"go-roles"}},
		{"as-5", []string{"as-roles", "as-counter", "tpl-as-deny-unverified", "tpl-as-first-login", "tpl-as-strategy-claim"}},
		{"go-5", []string{"go-roles", "go-counter", "tpl-go-deny-unverified", "tpl-go-first-login", "tpl-go-strategy-claim"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b, Config{CacheDir: testCacheDir})
			var rs []RuleVersion
			for i, n := range c.rules {
				rv := ruleFor(b, n)
				rv.ID = fmt.Sprint("rul_", i)
				rs = append(rs, rv)
			}
			ev := loginEvent(b)
			ctx := context.Background()
			if _, err := e.RunPipeline(ctx, rs, ev); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.RunPipeline(ctx, rs, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
