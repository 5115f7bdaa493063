package rulessdk

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/authgraph/authgraph/rules-sdk/internal/sdkarchive"
)

// TestArchiveIsCurrent fails when a file of the SDK or the templates changed
// without `go generate ./rules-sdk` (make generate).
func TestArchiveIsCurrent(t *testing.T) {
	want, err := sdkarchive.Collect(".")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(archive, want) {
		t.Fatal("rules-sdk/sdk.txtar is stale: run `go generate ./rules-sdk` (make generate) and commit it")
	}
}

func TestFS(t *testing.T) {
	fsys, err := FS()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go/go.mod", "go/rules/api.go", "assemblyscript/package.json", "templates/events/login.json",
		"templates/go/roles-claim/main.go", "templates/customdb/go/script/script.go", "templates/customdb/assemblyscript/mysql/index.ts"} {
		if _, err := fs.Stat(fsys, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"go/rules/codec_test.go", "templates/customdb/go/testdata/hostile/main.go", "templates/assemblyscript/node_modules"} {
		if _, err := fs.Stat(fsys, name); err == nil {
			t.Errorf("%s is archived", name)
		}
	}
}
