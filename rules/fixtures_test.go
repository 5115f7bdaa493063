package rules

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authgraph/authgraph/internal/testenv"
)

// Fixtures are built by `make rules-fixtures` into testdata/build. Without
// them the engine tests skip locally and fail in CI, where a skip would hide
// a broken build.
const fixtureDir = "testdata/build"

func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	p := filepath.Join(fixtureDir, name+".wasm")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("fixture %s missing (CI must run `make rules-fixtures` first): %v", p, err)
		}
		tb.Skipf("fixture %s missing: run `make rules-fixtures` (%v)", p, err)
	}
	return b
}

func ruleFor(tb testing.TB, name string) RuleVersion {
	return RuleVersion{ID: "rul_" + name, Name: name, Version: "1", Module: fixture(tb, name)}
}

// loginEvent is the SDK's sample event (about 1.7 KB of JSON).
func loginEvent(tb testing.TB) Event {
	tb.Helper()
	b, err := os.ReadFile("../rules-sdk/templates/events/login.json")
	if err != nil {
		tb.Fatal(err)
	}
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		tb.Fatal(err)
	}
	return e
}

func newEngine(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	e, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// testCacheDir shares compiled fixtures between tests of one run, as a
// production restart would, and with the test servers of other packages,
// which load the same fixtures.
var testCacheDir = testenv.RulesCacheDir()

func ctxTimeout(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
