package chaos

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// authgraphBin is the real binary, built once: the tests run it as separate
// processes so that a node can be killed like a real one.
var authgraphBin string

// duration is the load's length; 0 picks the short variant unless
// AUTHGRAPH_CHAOS=long.
var duration = flag.Duration("chaos.duration", 0, "length of the chaos load (default: short, or 2m with AUTHGRAPH_CHAOS=long)")

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "authgraph-chaos")
	if err != nil {
		panic(err)
	}
	authgraphBin = filepath.Join(dir, "authgraph")
	// Built as the container image builds it (no cgo), like the other tests
	// that build the binary (cmd/authgraph, deploy): one compile in the
	// build cache serves all three.
	build := exec.Command("go", "build", "-o", authgraphBin, "../cmd/authgraph")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building authgraph: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		return m.Run()
	}()
	os.Exit(code)
}

// long reports whether the long variant runs, and its load duration.
func long() (bool, time.Duration) {
	if *duration > 0 {
		return true, *duration
	}
	if os.Getenv("AUTHGRAPH_CHAOS") == "long" {
		return true, 2 * time.Minute
	}
	return false, 0
}
