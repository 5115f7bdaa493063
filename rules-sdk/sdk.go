// Package rulessdk carries the rules SDK (Go module and AssemblyScript
// package) and the rule and custom-database templates inside the authgraph
// binary, so that `authgraph rules init` writes a project that builds
// anywhere, without this repository or a published SDK.
//
// The files are in sdk.txtar, generated from this directory by
// `go generate ./rules-sdk` (TestArchiveIsCurrent fails when it is stale):
// the Go SDK and the Go templates are modules of their own, which go:embed
// cannot reach from the main module.
package rulessdk

//go:generate go run ./internal/gensdk -root . -o sdk.txtar

import (
	_ "embed"
	"io/fs"
	"sync"

	"golang.org/x/tools/txtar"
)

//go:embed sdk.txtar
var archive []byte

// FS returns the archived files by their path under rules-sdk/
// ("go/rules/api.go", "templates/go/roles-claim/main.go", …).
var FS = sync.OnceValues(func() (fs.FS, error) {
	return txtar.FS(txtar.Parse(archive))
})
