package passwords

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/authgraph/authgraph/internal/tracing"
)

// Admission control. Every hash computation holds memory for its duration
// (argon2id at today's parameters: 19 MiB; an imported scrypt or argon2
// hash up to 256 MiB) and one core: a login storm that started them all at
// once would exhaust the process's memory without finishing any sooner. A
// Limiter admits a bounded number at once, lets the others wait a short
// while in arrival order, and refuses the rest with ErrBusy, which the
// edges answer with 503 and Retry-After.
//
// The bound counts slots of one native verification's memory (MemoryKiB):
// a computation holds as many slots as its memory needs, at least one
// (bcrypt and PBKDF2 hold little memory, but a core), at most all of them
// (a hash above the whole budget runs alone). Imported memory-hard hashes
// thus share the one budget with native ones.

// ErrBusy: the Limiter's queue wait ran out before a slot freed. It says
// nothing about the password: the edges answer "try again shortly" (HTTP
// 503, Retry-After: BusyRetryAfter), and a busy login is no failed attempt.
var ErrBusy = errors.New("password hashing is busy, try again shortly")

// BusyRetryAfter is the Retry-After the edges send with ErrBusy. A
// computation takes tens of milliseconds, so by then the queue has turned
// over many times; a client that waits longer only waits.
const BusyRetryAfter = time.Second

// DefaultQueueTimeout is how long a computation waits for a slot when no
// timeout is configured: long enough to ride out a burst (with 2 slots and
// 25 ms per verification, 80 queued logins drain in a second), short
// enough that a client in a sustained storm is told to retry rather than
// held while its own timeout runs out.
const DefaultQueueTimeout = 2 * time.Second

// slotMemory is the memory one slot stands for: one native argon2id
// computation.
const slotMemory = int64(MemoryKiB) << 10

// footprint is the resident memory one native computation costs the
// process: its 19 MiB, twice, because the Go collector (GOGC=100) lets the
// heap grow to twice its live size before it collects, and each finished
// computation's 19 MiB is garbage waiting for that. (Measured: 8 logins at
// once took the process from 70 MB to a 377 MB peak, 38 MB each.)
const footprint = 2 * slotMemory

// DefaultConcurrency is the bound when none is configured:
//
//	max(1, min(procs, memLimit/4 / footprint))
//
// procs (GOMAXPROCS): argon2id with p=1 is one core's work, so more
// computations at once than cores add memory and latency, never
// throughput. memLimit (GOMEMLIMIT, else the cgroup's memory limit, else
// the host's RAM; 0 when unknown): hashing may take a quarter of it, the
// rest being the process's own. On 2 cores and plenty of RAM it is 2; in a
// 256 MiB container, 1.
func DefaultConcurrency(memLimit int64, procs int) int {
	n := max(procs, 1)
	if memLimit > 0 {
		n = min(n, int(memLimit/4/footprint))
	}
	return max(n, 1)
}

// Limiter bounds the hash computations running at once (see above). It is
// made once by the server (NewLimiter) and passed to whatever hashes or
// verifies passwords for a request. A nil *Limiter admits everything: for
// tools and tests, never for a server.
type Limiter struct {
	sem   *semaphore.Weighted
	slots int64
	wait  time.Duration
	// held is the slots held now, peak the most held at once (tests).
	held, peak atomic.Int64
}

// NewLimiter returns a Limiter of concurrency slots (below 1: 1) whose
// computations wait at most queueTimeout for a slot (0: not at all).
func NewLimiter(concurrency int, queueTimeout time.Duration) *Limiter {
	n := int64(max(concurrency, 1))
	return &Limiter{sem: semaphore.NewWeighted(n), slots: n, wait: max(queueTimeout, 0)}
}

// Concurrency is the number of native computations admitted at once.
func (l *Limiter) Concurrency() int {
	if l == nil {
		return 0
	}
	return int(l.slots)
}

// admit takes the slots of a computation holding mem bytes, waiting at
// most the queue timeout: ErrBusy beyond it, ctx's error when ctx ends
// first (the client left; it is not told to retry). Waiters are served in
// arrival order, so a large imported hash is not starved by small ones.
func (l *Limiter) admit(ctx context.Context, mem int64) (func(), error) {
	if l == nil {
		return func() {}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := l.slotsFor(mem)
	if l.sem.TryAcquire(n) {
		return l.took(n), nil
	}
	if l.wait == 0 {
		return nil, ErrBusy
	}
	wctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	if err := l.sem.Acquire(wctx, n); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrBusy
	}
	return l.took(n), nil
}

// slotsFor is the slots of a computation holding mem bytes.
func (l *Limiter) slotsFor(mem int64) int64 {
	return min(max((mem+slotMemory-1)/slotMemory, 1), l.slots)
}

func (l *Limiter) took(n int64) (release func()) {
	h := l.held.Add(n)
	for p := l.peak.Load(); h > p && !l.peak.CompareAndSwap(p, h); p = l.peak.Load() {
	}
	return func() {
		l.held.Add(-n)
		l.sem.Release(n)
	}
}

// Hash is Hash, admitted: ErrBusy (or ctx's error) when no slot freed in
// time.
func (l *Limiter) Hash(ctx context.Context, password string) (_ string, err error) {
	// The span covers the wait for a slot and the computation.
	ctx, span := tracing.Start(ctx, "password.hash")
	defer func() { tracing.End(span, err) }()
	release, err := l.admit(ctx, slotMemory)
	if err != nil {
		return "", err
	}
	defer release()
	return Hash(password), nil
}

// Verify is Verify, admitted: nil, ErrMismatch, ErrUnsupported (at once,
// without a slot), or ErrBusy or ctx's error when no slot freed in time.
func (l *Limiter) Verify(ctx context.Context, hash, password string) (err error) {
	ctx, span := tracing.Start(ctx, "password.verify")
	defer func() { endVerify(span, err) }()
	mem, verify, err := prepare(hash)
	if err != nil {
		return err
	}
	release, err := l.admit(ctx, mem)
	if err != nil {
		return err
	}
	defer release()
	return verify(password)
}

// VerifyDummy is VerifyDummy, admitted as a native verification is: an
// unknown user queues, and is refused as busy, exactly as a known one
// with a native hash. ErrMismatch, or ErrBusy or ctx's error.
func (l *Limiter) VerifyDummy(ctx context.Context, password string) (err error) {
	// Named as a real verification: a trace must not tell unknown users
	// from known ones either.
	ctx, span := tracing.Start(ctx, "password.verify")
	defer func() { endVerify(span, err) }()
	release, err := l.admit(ctx, slotMemory)
	if err != nil {
		return err
	}
	defer release()
	return VerifyDummy(password)
}

// Reserve holds one slot, as a native computation would, until release is
// called: for work the Limiter does not run itself, and for tests that
// fill it. ErrBusy or ctx's error as Verify.
func (l *Limiter) Reserve(ctx context.Context) (release func(), err error) {
	return l.admit(ctx, slotMemory)
}

// scryptMemory is the memory scrypt.Key allocates: 128·r·N for V, plus
// 128·r·p for B and the working block.
func scryptMemory(n, r, p int) int64 {
	return 128*int64(r)*int64(n) + 128*int64(r)*int64(p) + 256*int64(r)
}

// argonMemory is the memory an argon2 key derivation allocates: m KiB.
func argonMemory(mKiB uint32) int64 { return int64(mKiB) << 10 }

// endVerify ends a verification's span: a wrong password is an outcome,
// not a failure of the span.
func endVerify(span trace.Span, err error) {
	if errors.Is(err, ErrMismatch) {
		err = nil
	}
	tracing.End(span, err)
}
