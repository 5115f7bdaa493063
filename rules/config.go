package rules

import (
	"log/slog"
	"runtime"
	"time"
)

// Limits and defaults. Each default is a security choice: rules are
// untrusted code that runs inside every login.
const (
	// DefaultTimeout bounds one rule's wall-clock time. wazero has no
	// instruction metering, so time is the CPU bound.
	DefaultTimeout = time.Second
	// MaxTimeout is the largest per-rule timeout accepted (Auth0 Actions'
	// limit for a whole trigger).
	MaxTimeout = 20 * time.Second
	// DefaultMemoryLimit caps one instance's linear memory. Go guests need
	// about 8 MiB; AssemblyScript guests well under 1 MiB.
	DefaultMemoryLimit = 32 << 20
	// MaxModuleSize caps an uploaded module: a Go rule is about 3.5 MB.
	MaxModuleSize = 8 << 20
	// DefaultMaxOutput caps the result JSON one rule may return.
	DefaultMaxOutput = 256 << 10
	// DefaultMaxLogLines and DefaultMaxLogLineBytes cap what one invocation
	// may log; the excess is dropped and counted.
	DefaultMaxLogLines     = 100
	DefaultMaxLogLineBytes = 2 << 10
	// DefaultRecycleAfter retires an instance after this many calls, so that
	// guest heaps (and any state a rule keeps in globals) do not grow forever.
	DefaultRecycleAfter = 1000
	// MaxClaimsSize caps the custom claims of a whole pipeline (both tokens),
	// as Auth0 does.
	MaxClaimsSize = 100 << 10
	// MaxDenyReason caps the reason sent to the application.
	MaxDenyReason = 1024
	// MaxMetadataKey caps a metadata key's length in bytes.
	MaxMetadataKey = 255
)

// Config configures an Engine. The zero value is usable: every zero field
// takes the default documented on it.
type Config struct {
	// CacheDir holds wazero's compilation cache, so that a restart does not
	// recompile modules on the login path. Empty: in-memory cache only.
	CacheDir string
	// Timeout is the default wall-clock limit per rule (DefaultTimeout);
	// values above MaxTimeout are clamped.
	Timeout time.Duration
	// MemoryLimit is the linear memory cap per instance in bytes, rounded
	// down to 64 KiB pages (DefaultMemoryLimit).
	MemoryLimit uint32
	// MaxModuleSize caps a module's size in bytes (MaxModuleSize, which is
	// also the upper bound).
	MaxModuleSize int
	// MaxOutput caps a rule's result JSON in bytes (DefaultMaxOutput).
	MaxOutput int
	// MaxLogLines and MaxLogLineBytes cap logging per invocation.
	MaxLogLines     int
	MaxLogLineBytes int
	// MaxConcurrent caps rule executions running at once in the engine
	// (default GOMAXPROCS); further calls queue outside their rule's timer.
	// It also bounds the instances in use.
	MaxConcurrent int
	// MaxIdle is the number of idle instances kept per rule version
	// (default GOMAXPROCS, at most MaxConcurrent).
	MaxIdle int
	// RecycleAfter retires an instance after that many calls
	// (DefaultRecycleAfter).
	RecycleAfter int
	// Now is the host clock for the event's "now" (default time.Now).
	Now func() time.Time
	// Logger receives engine diagnostics; never rule secrets (default
	// slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	c.Timeout = min(c.Timeout, MaxTimeout)
	if c.MemoryLimit < wasmPage {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.MaxModuleSize <= 0 || c.MaxModuleSize > MaxModuleSize {
		c.MaxModuleSize = MaxModuleSize
	}
	if c.MaxOutput <= 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	if c.MaxLogLines <= 0 {
		c.MaxLogLines = DefaultMaxLogLines
	}
	if c.MaxLogLineBytes <= 0 {
		c.MaxLogLineBytes = DefaultMaxLogLineBytes
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if c.MaxIdle <= 0 {
		c.MaxIdle = runtime.GOMAXPROCS(0)
	}
	c.MaxIdle = min(c.MaxIdle, c.MaxConcurrent)
	if c.RecycleAfter <= 0 {
		c.RecycleAfter = DefaultRecycleAfter
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

const wasmPage = 65536

// timeoutFor returns the effective limit for a rule.
func (c Config) timeoutFor(rv *RuleVersion) time.Duration {
	if rv.Timeout > 0 {
		return min(rv.Timeout, MaxTimeout)
	}
	return c.Timeout
}
