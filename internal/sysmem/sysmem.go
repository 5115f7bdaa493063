// Package sysmem tells how much memory this process may use: the limit
// that sizes memory-bound defaults (the password hashing bound).
package sysmem

import (
	"bufio"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Limit returns the smallest of the memory limits that apply to the
// process, and which it is: GOMEMLIMIT ("GOMEMLIMIT"), the cgroup's memory
// limit ("cgroup", v2 memory.max or v1 memory.limit_in_bytes) and the
// host's RAM ("ram", /proc/meminfo). 0 and "" when none is known (not
// Linux and no GOMEMLIMIT).
func Limit() (int64, string) {
	best, source := int64(0), ""
	take := func(v int64, s string) {
		if v > 0 && (best == 0 || v < best) {
			best, source = v, s
		}
	}
	if v := debug.SetMemoryLimit(-1); v != math.MaxInt64 {
		take(v, "GOMEMLIMIT")
	}
	take(cgroupLimit("/sys/fs/cgroup"), "cgroup")
	take(memTotal("/proc/meminfo"), "ram")
	return best, source
}

// cgroupLimit reads the memory limit of the cgroup mounted at root: v2's
// memory.max ("max" when unlimited), else v1's memory.limit_in_bytes (a
// huge number when unlimited, which the RAM then undercuts). 0 when none.
func cgroupLimit(root string) int64 {
	for _, f := range []string{root + "/memory.max", root + "/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && v > 0 {
			return v
		}
		return 0 // "max"
	}
	return 0
}

// memTotal reads MemTotal (kB) from a meminfo file; 0 when unreadable.
func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
