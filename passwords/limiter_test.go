package passwords

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// TestLimiterBound runs many native, bcrypt and imported memory-hard
// verifications and hashes at once through a Limiter of 2: the slots held
// at once never exceed 2, they are all returned, and every computation
// still gives the right answer.
func TestLimiterBound(t *testing.T) {
	const pw = "storm-password"
	salt := []byte("0123456789abcdef")
	argonStored, err := FromAuth0Custom([]byte(fmt.Sprintf(`{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=4096,t=1,p=1$%s$%s"}}`,
		b64raw(salt), b64raw(argon2.IDKey([]byte(pw), salt, 1, 4096, 1, 32)))))
	if err != nil {
		t.Fatal(err)
	}
	skey, _ := scrypt.Key([]byte(pw), salt, 4096, 8, 1, 32) // 4 MiB
	scryptStored, err := FromAuth0Custom([]byte(fmt.Sprintf(`{"algorithm":"scrypt","hash":{"value":%q,"encoding":"hex"},"salt":{"value":%q},"keylen":32,"cost":4096,"blockSize":8,"parallelization":1}`,
		hex.EncodeToString(skey), salt)))
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte(pw), 4)
	hashes := []string{Hash(pw), argonStored, scryptStored, string(bc)}

	l := NewLimiter(2, time.Minute)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			switch i % 6 {
			case 4:
				h, err := l.Hash(ctx, pw)
				if err != nil || Verify(h, pw) != nil {
					t.Errorf("hash %d: %v", i, err)
				}
			case 5:
				if err := l.VerifyDummy(ctx, pw); !errors.Is(err, ErrMismatch) {
					t.Errorf("dummy %d: %v", i, err)
				}
			default:
				h := hashes[i%6]
				if err := l.Verify(ctx, h, pw); err != nil {
					t.Errorf("verification %d: %v", i, err)
				}
				if err := l.Verify(ctx, h, pw+"x"); !errors.Is(err, ErrMismatch) {
					t.Errorf("wrong password %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	if p, h := l.peak.Load(), l.held.Load(); p != 2 || h != 0 {
		t.Fatalf("peak %d slots, %d still held; want a peak of 2 and none held", p, h)
	}
}

// TestLimiterSlots: a computation holds the slots its memory needs, at
// least one, at most all.
func TestLimiterSlots(t *testing.T) {
	l := NewLimiter(4, 0)
	for _, c := range []struct {
		mem  int64
		want int64
	}{
		{0, 1}, {4 << 20, 1}, {argonMemory(MemoryKiB), 1}, {argonMemory(MemoryKiB) + 1, 2},
		{argonMemory(64 << 10), 4}, {argonMemory(256 << 10), 4},
	} {
		if got := l.slotsFor(c.mem); got != c.want {
			t.Errorf("slotsFor(%d) = %d, want %d", c.mem, got, c.want)
		}
	}
	if NewLimiter(0, 0).Concurrency() != 1 || NewLimiter(-3, 0).Concurrency() != 1 {
		t.Fatal("a concurrency below 1 must be 1")
	}
}

// TestLimiterBusy: with its slot held, a computation waits the queue
// timeout and then fails with ErrBusy; with no queue timeout it fails at
// once; an unsupported hash fails as unsupported without queueing; once
// the slot is free, computations run again.
func TestLimiterBusy(t *testing.T) {
	ctx := context.Background()
	h := Hash("pw")
	const wait = 150 * time.Millisecond
	l := NewLimiter(1, wait)
	release, err := l.admit(ctx, slotMemory)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := l.Verify(ctx, h, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Verify with the slot held: %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < wait {
		t.Fatalf("ErrBusy after %v, before the queue timeout %v", d, wait)
	}
	if _, err := l.Hash(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with the slot held: %v, want ErrBusy", err)
	}
	if err := l.VerifyDummy(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("VerifyDummy with the slot held: %v, want ErrBusy", err)
	}
	if err := l.Verify(ctx, "plain", "pw"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unsupported hash: %v", err)
	}

	now := NewLimiter(1, 0)
	r2, _ := now.admit(ctx, slotMemory)
	start = time.Now()
	if err := now.Verify(ctx, h, "pw"); !errors.Is(err, ErrBusy) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("no queue timeout: %v after %v, want ErrBusy at once", err, time.Since(start))
	}
	r2()

	release()
	if err := l.Verify(ctx, h, "pw"); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if l.held.Load() != 0 {
		t.Fatal("slot not returned")
	}
}

// TestLimiterQueueServes: a computation queued while the slot is held runs
// as soon as it is released, within the queue timeout.
func TestLimiterQueueServes(t *testing.T) {
	ctx := context.Background()
	h := Hash("pw")
	l := NewLimiter(1, time.Minute)
	release, _ := l.admit(ctx, slotMemory)
	done := make(chan error, 1)
	go func() { done <- l.Verify(ctx, h, "pw") }()
	select {
	case err := <-done:
		t.Fatalf("ran with the slot held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLimiterCancel: a queued computation whose request ends returns the
// context's error (not ErrBusy) at once, and takes no slot.
func TestLimiterCancel(t *testing.T) {
	l := NewLimiter(1, time.Minute)
	release, _ := l.admit(context.Background(), slotMemory)
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Verify(ctx, Hash("pw"), "pw") }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrBusy) {
			t.Fatalf("cancelled wait: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled wait did not return")
	}
	if _, err := l.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context: %v", err)
	}
	if l.held.Load() != 1 {
		t.Fatalf("held %d slots, want only the test's", l.held.Load())
	}
}

func TestNilLimiterAdmitsEverything(t *testing.T) {
	var l *Limiter
	h, err := l.Hash(context.Background(), "pw")
	if err != nil || l.Verify(context.Background(), h, "pw") != nil {
		t.Fatal(err)
	}
}

func TestDefaultConcurrency(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		mem   int64
		procs int
		want  int
	}{
		{0, 2, 2},          // memory unknown: the cores
		{0, 0, 1},          // nothing known
		{24 << 30, 2, 2},   // plenty of RAM: the cores
		{24 << 30, 64, 64}, // 64 cores, 6 GiB for hashing (161 fit)
		{1 << 30, 64, 6},   // 1 GiB: 256 MiB for hashing, 38 MiB each
		{256 * mib, 4, 1},  // a small container
		{64 * mib, 4, 1},   // never below one
		{512 * mib, 8, 3},  // 128 MiB / 38 MiB
		{2 << 30, 1, 1},    // one core
		{-1, 4, 4},         // unknown
		{int64(^uint64(0) >> 1), 8, 8},
	} {
		if got := DefaultConcurrency(c.mem, c.procs); got != c.want {
			t.Errorf("DefaultConcurrency(%d, %d) = %d, want %d", c.mem, c.procs, got, c.want)
		}
	}
}
