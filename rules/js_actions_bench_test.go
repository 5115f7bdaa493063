package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// JavaScript rules on QuickJS (sandboxed, pooled runtimes) compared with
// goja running the same preludes and Action in-process, unsandboxed.
//
//	go test -run '^$' -bench 'JS' -benchmem ./rules/

// benchAction is a typical Action: two claims from app_metadata.
const benchAction = `exports.onExecutePostLogin = async (event, api) => {
  const md = event.user.app_metadata;
  api.idToken.setCustomClaim('https://example.com/plan', md.plan);
  api.accessToken.setCustomClaim('https://example.com/roles', md.roles);
};`

// benchPipeline are five Actions of a login: claims, a deny check that
// passes, a first-login metadata update, an MFA policy that does not
// apply, and an email claim.
var benchPipeline = []string{
	benchAction,
	`exports.onExecutePostLogin = async (event, api) => {
  if (!event.user.email_verified) api.access.deny('verify your email');
};`,
	`exports.onExecutePostLogin = async (event, api) => {
  if (!event.user.app_metadata.first_seen) api.user.setAppMetadata('first_seen', event.user.created_at);
};`,
	`exports.onExecutePostLogin = async (event, api) => {
  const mfa = event.authentication.methods.some((m) => m.name === 'mfa');
  if (!mfa && event.authorization.roles.includes('superuser')) api.multifactor.enable('any');
};`,
	`exports.onExecutePostLogin = async (event, api) => {
  api.accessToken.setCustomClaim('https://example.com/email', event.user.email);
};`,
}

func BenchmarkJSAction(b *testing.B) {
	ev := loginEvent(b)
	payload := mustJSON(b, ev)
	b.Run("quickjs", func(b *testing.B) {
		e := newEngine(b, Config{CacheDir: testCacheDir})
		rv := jsRule("bench_action", benchAction)
		ctx := context.Background()
		if _, err := e.Invoke(ctx, &rv, payload); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := e.Invoke(ctx, &rv, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goja", func(b *testing.B) {
		g := newGojaShim(b)
		p := g.compile(b, benchAction)
		in := string(payload)
		if out := g.run(b, p, in); !strings.Contains(out, "https://example.com/plan") {
			b.Fatalf("goja result %s", out)
		}
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			g.run(b, p, in)
		}
	})
}

func BenchmarkJSPipeline(b *testing.B) {
	ev := loginEvent(b)
	b.Run("quickjs-5", func(b *testing.B) {
		e := newEngine(b, Config{CacheDir: testCacheDir})
		var rs []RuleVersion
		for i, src := range benchPipeline {
			rs = append(rs, jsRule(fmt.Sprint("bench", i), src))
		}
		ctx := context.Background()
		res, err := e.RunPipeline(ctx, rs, ev)
		if err != nil || res.Deny != nil || len(res.AccessTokenClaims) != 2 {
			b.Fatalf("RunPipeline = %+v, %v", res, err)
		}
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := e.RunPipeline(ctx, rs, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goja-5", func(b *testing.B) {
		// The pipeline's own work (event encoding per rule, result decoding
		// and merging) is the same for both engines; this measures the five
		// calls only.
		g := newGojaShim(b)
		var ps []*goja.Program
		for _, src := range benchPipeline {
			ps = append(ps, g.compile(b, src))
		}
		in := string(mustJSON(b, ev))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			for _, p := range ps {
				g.run(b, p, in)
			}
		}
	})
}

// gojaShim is the reference: one goja runtime with the same preludes,
// reused for every call (as a pooled runtime is), the Action's wrapper
// re-evaluated per call as on QuickJS.
type gojaShim struct {
	vm    *goja.Runtime
	entry goja.Callable
}

func newGojaShim(tb testing.TB) *gojaShim {
	tb.Helper()
	names, err := filepath.Glob("js/*.js")
	if err != nil || len(names) == 0 {
		tb.Fatalf("preludes: %v", err)
	}
	sort.Strings(names)
	var src strings.Builder
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		src.Write(b)
		src.WriteByte('\n')
	}
	vm := goja.New()
	// The preludes log through the runtime's console.
	con := vm.NewObject()
	for _, k := range []string{"log", "info", "warn", "error", "debug"} {
		_ = con.Set(k, func(goja.FunctionCall) goja.Value { return goja.Undefined() })
	}
	_ = vm.Set("console", con)
	if _, err := vm.RunString(src.String()); err != nil {
		tb.Fatalf("prelude on goja: %v", err)
	}
	entry, ok := goja.AssertFunction(vm.Get(entryAction))
	if !ok {
		tb.Fatal("no authgraph_action on goja")
	}
	return &gojaShim{vm: vm, entry: entry}
}

func (g *gojaShim) compile(tb testing.TB, src string) *goja.Program {
	w, _ := wrapFor(KindAction)
	p, err := goja.Compile("action.js", w.Prefix+src+w.Suffix, false)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func (g *gojaShim) run(tb testing.TB, p *goja.Program, input string) string {
	f, err := g.vm.RunProgram(p)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := g.entry(goja.Undefined(), f, g.vm.ToValue(input), goja.Undefined())
	if err != nil {
		tb.Fatal(err)
	}
	if pr, ok := v.Export().(*goja.Promise); ok {
		if pr.State() != goja.PromiseStateFulfilled {
			tb.Fatalf("goja promise %v: %v", pr.State(), pr.Result())
		}
		v = pr.Result()
	}
	return v.String()
}

// reportCPU adds the process CPU time per operation (user + system, GC
// included) to a benchmark's figures: on a machine shared with other work
// the wall time per operation overstates the cost, the CPU time does not.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N)/float64(time.Microsecond), "cpu-µs/op")
		}
	}
}
