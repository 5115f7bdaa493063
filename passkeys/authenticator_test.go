package passkeys_test

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

// softKey is a software authenticator (packed "none" attestation, ES256)
// that answers the ceremonies the way a browser hands them over: the JSON
// of a PublicKeyCredential.
type softKey struct {
	t       *testing.T
	origin  string
	rpID    string
	key     *ecdsa.PrivateKey
	credID  []byte
	aaguid  []byte
	count   uint32
	uv, be  bool
	handle  []byte // user handle (resident credentials)
	created bool
}

func newSoftKey(t *testing.T, origin, rpID string) *softKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softKey{t: t, origin: origin, rpID: rpID, key: k, credID: id, aaguid: make([]byte, 16)}
}

var b64 = base64.RawURLEncoding

func (k *softKey) flags(attested bool) byte {
	f := byte(0x01) // UP
	if k.uv {
		f |= 0x04
	}
	if k.be {
		f |= 0x08 | 0x10 // BE, BS
	}
	if attested {
		f |= 0x40
	}
	return f
}

func (k *softKey) authData(attested bool) []byte {
	h := sha256.Sum256([]byte(k.rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, k.flags(attested))
	out = binary.BigEndian.AppendUint32(out, k.count)
	if attested {
		out = append(out, k.aaguid...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.credID)))
		out = append(out, k.credID...)
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
func challenge(t *testing.T, options []byte) (string, []byte) {
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

func (k *softKey) clientData(typ, chal string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": chal, "origin": k.origin, "crossOrigin": false})
	return b
}

// create answers navigator.credentials.create.
func (k *softKey) create(options []byte) []byte {
	chal, handle := challenge(k.t, options)
	k.handle = handle
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(true)})
	if err != nil {
		k.t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.credID), "rawId": b64.EncodeToString(k.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(k.clientData("webauthn.create", chal)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return out
}

// get answers navigator.credentials.get, the count advanced by one.
func (k *softKey) get(options []byte) []byte {
	k.count++
	return k.getAt(options, k.count)
}

func (k *softKey) getAt(options []byte, count uint32) []byte {
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
	if k.handle != nil {
		resp["userHandle"] = b64.EncodeToString(k.handle)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.credID), "rawId": b64.EncodeToString(k.credID), "type": "public-key",
		"response": resp, "clientExtensionResults": map[string]any{},
	})
	return out
}
