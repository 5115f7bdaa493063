package passwords

import "sync"

// Imported memory-hard hashes (scrypt, argon2 from an import) may each
// need up to 256 MiB while verified, and a login storm against such users
// would verify many at once: their verifications share a memory budget,
// each taking its hash's memory cost from it for its duration, and wait
// while the budget is spent. Native argon2id hashes (19 MiB) do not take
// from it; an imported hash is replaced by one at its user's first login.

// importedMemoryBudget is the memory the imported memory-hard
// verifications of one process may hold at once: two at the 256 MiB
// ceiling, eight at argon2's common 64 MiB.
const importedMemoryBudget = 512 << 20

// memGate is a weighted semaphore over bytes of memory.
type memGate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	budget int64
	held   int64
	// peak is the most held at once (tests).
	peak int64
}

func newMemGate(budget int64) *memGate {
	g := &memGate{budget: budget}
	g.cond = sync.NewCond(&g.mu)
	return g
}

var importedMemory = newMemGate(importedMemoryBudget)

// acquire waits until n bytes of the budget are free and takes them. A cost
// above the whole budget (not reachable under the import ceilings) takes
// the whole budget, alone.
func (g *memGate) acquire(n int64) int64 {
	n = min(n, g.budget)
	g.mu.Lock()
	for g.held+n > g.budget {
		g.cond.Wait()
	}
	g.held += n
	g.peak = max(g.peak, g.held)
	g.mu.Unlock()
	return n
}

func (g *memGate) release(n int64) {
	g.mu.Lock()
	g.held -= n
	g.mu.Unlock()
	g.cond.Broadcast()
}

// scryptMemory is the memory scrypt.Key allocates: 128·r·N for V, plus
// 128·r·p for B and the working block.
func scryptMemory(n, r, p int) int64 {
	return 128*int64(r)*int64(n) + 128*int64(r)*int64(p) + 256*int64(r)
}

// argonMemory is the memory an argon2 key derivation allocates: m KiB.
func argonMemory(mKiB uint32) int64 { return int64(mKiB) << 10 }
