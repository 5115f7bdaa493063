package apiv2_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

// ruleFixture reads a wasm fixture built by `make rules-fixtures`: skipped
// locally when missing, a failure in CI.
func ruleFixture(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("..", "..", "rules", "testdata", "build", name+".wasm")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture %s missing (CI must run `make rules-fixtures` first): %v", p, err)
		}
		t.Skipf("fixture %s missing: run `make rules-fixtures` (%v)", p, err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
