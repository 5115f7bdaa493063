// Package secretbox seals secrets at rest (connection secrets, signing keys,
// upstream tokens) with the master key, using AES-256-GCM from the standard
// library. The associated data binds a sealed value to where it is stored, so
// a ciphertext copied into another row or column does not open.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the master key length: 32 bytes (AES-256).
const KeySize = 32

// ErrOpen is returned when a sealed value cannot be opened: wrong master key,
// tampered data, or data sealed for another place.
var ErrOpen = errors.New("secretbox: cannot open sealed value (wrong master key or tampered data)")

// version prefixes every sealed value so the format can change later.
const version byte = 1

// Box seals with its current master key and opens with the current key or
// any previous one, so the master key can be replaced without downtime: the
// nodes run with "NEW,OLD", `authgraph keys reencrypt` re-seals what OLD
// sealed, then the nodes run with "NEW" alone. It is safe for concurrent
// use.
//
// The sealed format carries no key id: the version-1 format is unchanged, so
// a node of an older release still opens what a newer one sealed (rolling
// upgrades and downgrades). Open tries the current key first; a failed
// AES-GCM open costs about a microsecond, and only values not yet
// re-encrypted pay it.
type Box struct{ aeads []cipher.AEAD }

// New returns a Box for a 32-byte key, followed by any previous keys that
// still open (but never seal).
func New(key []byte, previous ...[]byte) (*Box, error) {
	b := &Box{}
	for i, k := range append([][]byte{key}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: master key %d must be %d bytes, got %d", i+1, KeySize, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		b.aeads = append(b.aeads, aead)
	}
	return b, nil
}

// NewKeys returns a Box for keys[0] (which seals) and keys[1:] (which only
// open); keys must not be empty.
func NewKeys(keys [][]byte) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("secretbox: no master key")
	}
	return New(keys[0], keys[1:]...)
}

// ParseKeys decodes AUTHGRAPH_MASTER_KEY: one base64 key, or the current key
// followed by previous ones, comma-separated. A key listed twice is refused
// (a typo would otherwise go unnoticed until the old key is dropped).
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		key, err := ParseKey(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		for _, k := range keys {
			if subtle.ConstantTimeCompare(k, key) == 1 {
				return nil, fmt.Errorf("key %d is listed twice", i+1)
			}
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// ParseKey decodes a master key given as standard base64 (AUTHGRAPH_MASTER_KEY).
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("master key is not standard base64: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key must decode to %d bytes, got %d", KeySize, len(key))
	}
	return key, nil
}

// NewKey returns a fresh random master key.
func NewKey() []byte {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return key
}

// Seal encrypts plaintext bound to ad (for example "connection:con_…").
func (b *Box) Seal(plaintext []byte, ad string) []byte {
	aead := b.aeads[0]
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = version
	nonce := out[1:]
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return aead.Seal(out, nonce, plaintext, []byte(ad))
}

// Open decrypts a value sealed with any of the box's keys and the same ad.
func (b *Box) Open(sealed []byte, ad string) ([]byte, error) {
	plain, _, err := b.open(sealed, ad)
	return plain, err
}

// open returns the plaintext and the index of the key that opened it.
func (b *Box) open(sealed []byte, ad string) ([]byte, int, error) {
	for i, aead := range b.aeads {
		n := aead.NonceSize()
		if len(sealed) < 1+n+aead.Overhead() || sealed[0] != version {
			return nil, 0, ErrOpen
		}
		plain, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(ad))
		if err == nil {
			return plain, i, nil
		}
	}
	return nil, 0, ErrOpen
}

// Reseal returns sealed re-encrypted with the current key, or changed false
// when the current key already sealed it (nothing to do). ErrOpen when no key
// of the box opens it.
func (b *Box) Reseal(sealed []byte, ad string) (out []byte, changed bool, err error) {
	plain, i, err := b.open(sealed, ad)
	if err != nil {
		return nil, false, err
	}
	if i == 0 {
		return sealed, false, nil
	}
	return b.Seal(plain, ad), true, nil
}

// Keys returns how many master keys the box holds (the current one first).
func (b *Box) Keys() int { return len(b.aeads) }
