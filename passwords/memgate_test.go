package passwords

import (
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/scrypt"
)

// TestImportedMemoryBounded verifies many imported argon2 and scrypt
// hashes at once under a small budget: the memory their verifications hold
// at once stays within it, and every one still succeeds.
func TestImportedMemoryBounded(t *testing.T) {
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
	old := importedMemory
	importedMemory = newMemGate(9 << 20) // two 4 MiB verifications at a time
	defer func() { importedMemory = old }()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := argonStored
			if i%2 == 1 {
				h = scryptStored
			}
			if err := Verify(h, pw); err != nil {
				t.Errorf("verification %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	g := importedMemory
	if g.peak > g.budget || g.peak < 4<<20 || g.held != 0 {
		t.Fatalf("peak %d held %d, budget %d", g.peak, g.held, g.budget)
	}
}
