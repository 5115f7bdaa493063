package sysmem

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCgroupLimit(t *testing.T) {
	dir := t.TempDir()
	if cgroupLimit(dir) != 0 {
		t.Fatal("no cgroup files: want 0")
	}
	write(t, dir+"/v2/memory.max", "max\n")
	if cgroupLimit(dir+"/v2") != 0 {
		t.Fatal(`"max" is no limit`)
	}
	write(t, dir+"/v2/memory.max", "536870912\n")
	if got := cgroupLimit(dir + "/v2"); got != 512<<20 {
		t.Fatalf("v2: %d", got)
	}
	write(t, dir+"/v1/memory/memory.limit_in_bytes", "268435456\n")
	if got := cgroupLimit(dir + "/v1"); got != 256<<20 {
		t.Fatalf("v1: %d", got)
	}
}

func TestMemTotal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	write(t, p, "MemTotal:       24684312 kB\nMemFree:        21470000 kB\n")
	if got := memTotal(p); got != 24684312<<10 {
		t.Fatalf("MemTotal: %d", got)
	}
	if memTotal(p+"-missing") != 0 {
		t.Fatal("missing file: want 0")
	}
}

// TestLimitGOMEMLIMIT: a GOMEMLIMIT below the host's memory is the limit.
func TestLimitGOMEMLIMIT(t *testing.T) {
	old := debug.SetMemoryLimit(64 << 20)
	defer debug.SetMemoryLimit(old)
	if v, src := Limit(); v != 64<<20 || src != "GOMEMLIMIT" {
		t.Fatalf("Limit() = %d, %q", v, src)
	}
}
