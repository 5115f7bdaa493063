// Package webauthntest is a software WebAuthn authenticator for tests: it
// answers registration and assertion options the way a browser hands the
// result over (the JSON of a PublicKeyCredential), with "none"
// attestation and an ES256 key.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Key is one credential of a software authenticator.
type Key struct {
	t      testing.TB
	origin string
	rpID   string
	key    *ecdsa.PrivateKey
	CredID []byte
	aaguid []byte
	count  uint32
	// UV: the authenticator verifies the user; BE: the credential is
	// backup eligible (and backed up).
	UV, BE bool
	// Handle is the user handle, from the registration options.
	Handle []byte
}

// New returns a credential for the relying party rpID at origin.
func New(t testing.TB, origin, rpID string) *Key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &Key{t: t, origin: origin, rpID: rpID, key: k, CredID: id, aaguid: make([]byte, 16)}
}

var b64 = base64.RawURLEncoding

func (k *Key) flags(attested bool) byte {
	f := byte(0x01) // UP
	if k.UV {
		f |= 0x04
	}
	if k.BE {
		f |= 0x08 | 0x10 // BE, BS
	}
	if attested {
		f |= 0x40
	}
	return f
}

func (k *Key) authData(attested bool) []byte {
	h := sha256.Sum256([]byte(k.rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, k.flags(attested))
	out = binary.BigEndian.AppendUint32(out, k.count)
	if attested {
		out = append(out, k.aaguid...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.CredID)))
		out = append(out, k.CredID...)
		x, y := k.key.X.FillBytes(make([]byte, 32)), k.key.Y.FillBytes(make([]byte, 32))
		cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
		if err != nil {
			k.t.Fatal(err)
		}
		out = append(out, cose...)
	}
	return out
}

// challenge reads the challenge (and the user handle) from options.
func challenge(t testing.TB, options []byte) (string, []byte) {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	h, _ := b64.DecodeString(o.PublicKey.User.ID)
	return o.PublicKey.Challenge, h
}

func (k *Key) clientData(typ, chal string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": chal, "origin": k.origin, "crossOrigin": false})
	return b
}

// Create answers navigator.credentials.create.
func (k *Key) Create(options []byte) []byte {
	chal, handle := challenge(k.t, options)
	k.Handle = handle
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(true)})
	if err != nil {
		k.t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.CredID), "rawId": b64.EncodeToString(k.CredID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(k.clientData("webauthn.create", chal)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return out
}

// Get answers navigator.credentials.get, the count advanced by one.
func (k *Key) Get(options []byte) []byte {
	k.count++
	return k.GetAt(options, k.count)
}

// GetAt answers navigator.credentials.get with this sign count.
func (k *Key) GetAt(options []byte, count uint32) []byte {
	chal, _ := challenge(k.t, options)
	saved := k.count
	k.count = count
	ad := k.authData(false)
	k.count = saved
	cd := k.clientData("webauthn.get", chal)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	resp := map[string]any{
		"clientDataJSON":    b64.EncodeToString(cd),
		"authenticatorData": b64.EncodeToString(ad),
		"signature":         b64.EncodeToString(sig),
	}
	if k.Handle != nil {
		resp["userHandle"] = b64.EncodeToString(k.Handle)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.CredID), "rawId": b64.EncodeToString(k.CredID), "type": "public-key",
		"response": resp, "clientExtensionResults": map[string]any{},
	})
	return out
}
