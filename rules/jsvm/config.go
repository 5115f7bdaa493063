package jsvm

import (
	"log/slog"
	goruntime "runtime"
	"time"
)

// Config configures a VM. Zero fields take the defaults documented on them.
// MaxMemoryLimit is the largest heap a runtime may have (3.5 GiB).
const MaxMemoryLimit = 3584 << 20

type Config struct {
	// Prelude is trusted JavaScript run once in every new runtime, before
	// the runtime is locked down. It defines the entry functions Run calls.
	Prelude string
	// Timeout is the default wall-clock limit of one Run (1 s).
	Timeout time.Duration
	// MemoryLimit caps the QuickJS heap of one runtime in bytes (32 MiB).
	MemoryLimit int
	// MaxStackSize caps the JavaScript stack of one runtime in bytes
	// (256 KiB; at most maxStackSize, what the wasm build's own stack holds).
	MaxStackSize int
	// MaxConcurrent caps the Runs in progress (GOMAXPROCS); MaxIdle the idle
	// runtimes kept (GOMAXPROCS, at most MaxConcurrent).
	MaxConcurrent, MaxIdle int
	// RecycleAfter retires a runtime after that many Runs (1000).
	RecycleAfter int
	// MaxOutput caps the result string in bytes (256 KiB).
	MaxOutput int
	// MaxLogLines and MaxLogLineBytes cap console output per Run (100 lines
	// of 2 KiB); the excess is dropped and counted.
	MaxLogLines, MaxLogLineBytes int
	// CacheDir is wazero's compilation cache for the QuickJS module (empty:
	// in memory). Only the first VM of a process decides it.
	CacheDir string
	// Logger receives diagnostics, never script data (slog.Default()).
	Logger *slog.Logger
	// Instrument, when set, rewrites the QuickJS module before it is
	// compiled so that it calls the host import idp.__refuel () -> i64
	// whenever its fuel runs out; the VM answers with Refill more units
	// until the call's deadline has passed, then stops it. Without it the
	// deadline is enforced by wazero's WithCloseOnContextDone, which checks
	// at every loop header through a call into Go (QuickJS then runs about
	// 15 times slower).
	Instrument func(module []byte) ([]byte, error)
	// Refill is the fuel returned by idp.__refuel (100 000).
	Refill int64
}

// maxStackSize bounds Config.MaxStackSize. QuickJS's C stack lives in the
// wasm module's linear memory, below its data; QuickJS must report a stack
// overflow before that region is exhausted.
const maxStackSize = 1 << 20

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.MemoryLimit <= 0 {
		c.MemoryLimit = 32 << 20
	}
	// The linear memory (heap + 32 MiB) must stay below 4 GiB: at the full
	// 4 GiB a C stack pointer that wraps around lands inside memory and
	// corrupts the heap instead of trapping.
	c.MemoryLimit = min(c.MemoryLimit, MaxMemoryLimit)
	if c.MaxStackSize <= 0 {
		c.MaxStackSize = 256 << 10
	}
	c.MaxStackSize = min(c.MaxStackSize, maxStackSize)
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = goruntime.GOMAXPROCS(0)
	}
	if c.MaxIdle <= 0 {
		c.MaxIdle = goruntime.GOMAXPROCS(0)
	}
	c.MaxIdle = min(c.MaxIdle, c.MaxConcurrent)
	if c.RecycleAfter <= 0 {
		c.RecycleAfter = 1000
	}
	if c.MaxOutput <= 0 {
		c.MaxOutput = 256 << 10
	}
	if c.MaxLogLines <= 0 {
		c.MaxLogLines = 100
	}
	if c.MaxLogLineBytes <= 0 {
		c.MaxLogLineBytes = 2 << 10
	}
	if c.Refill <= 0 {
		c.Refill = 100_000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
