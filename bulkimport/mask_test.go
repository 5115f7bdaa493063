package bulkimport

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMaskMalformed checks that secrets never reach a stored error row,
// whatever the shape of the (malformed) row that carries them.
func TestMaskMalformed(t *testing.T) {
	const secret = "S3CRETVALUE"
	rows := []string{
		`{"email":"a@x.io","custom_password_hash":{"algorithm":"bcrypt","hash":"$2b$10$S3CRETVALUE"}}`,
		`{"email":"a@x.io","custom_password_hash":{"algorithm":"md5","hash":{"value":"S3CRETVALUE"},"salt":"S3CRETVALUE"}}`,
		`{"email":"a@x.io","custom_password_hash":{"algorithm":"hmac","hash":{"value":"x","key":"S3CRETVALUE"}}}`,
		`{"email":"a@x.io","custom_password_hash":{"algorithm":{"S3CRETVALUE":1}}}`,
		`{"email":"a@x.io","custom_password_hash":"S3CRETVALUE"}`,
		`{"email":"a@x.io","custom_password_hash":["S3CRETVALUE"]}`,
		`{"email":"a@x.io","password_hash":{"v":"S3CRETVALUE"}}`,
		`{"email":"a@x.io","mfa_factors":[{"totp":"S3CRETVALUE"}]}`,
		`{"email":"a@x.io","mfa_factors":[{"totp":{"secret":"S3CRETVALUE"}}]}`,
		`{"email":"a@x.io","mfa_factors":[{"totp":{"key":"S3CRETVALUE"}}]}`,
		`{"email":"a@x.io","mfa_factors":{"totp":{"secret":"S3CRETVALUE"}}}`,
		`{"email":"a@x.io","mfa_factors":["S3CRETVALUE"]}`,
		`{"email":"a@x.io","mfa_factors":"S3CRETVALUE"}`,
		`{"email":"a@x.io","password":"S3CRETVALUE"}`,
		`{"email":"a@x.io","passwordHash":{"value":"S3CRETVALUE"}}`,
	}
	for _, r := range rows {
		b, err := json.Marshal(mask(json.RawMessage(r)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("mask(%s) = %s: secret kept", r, b)
		}
		if !strings.Contains(string(b), "a@x.io") {
			t.Errorf("mask(%s) = %s: email lost", r, b)
		}
	}
	// The algorithm and the names of unknown properties stay, to explain the error.
	b, _ := json.Marshal(mask(json.RawMessage(`{"email":"a@x.io","password":"p","custom_password_hash":{"algorithm":"bcrypt","hash":"h"}}`)))
	if !strings.Contains(string(b), `"algorithm":"bcrypt"`) || !strings.Contains(string(b), `"password":"[REDACTED]"`) {
		t.Errorf("mask kept too little: %s", b)
	}
}
