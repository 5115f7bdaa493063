package oidc

import (
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authgraph/authgraph/internal/testenv"
)

// BenchmarkSignAccessToken measures one access token signature per
// algorithm an API can choose (the key is cached: no database access), on a
// typical RFC 9068 payload.
func BenchmarkSignAccessToken(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b), "")
	now := time.Now().Unix()
	payload, _ := json.Marshal(map[string]any{
		"iss": e.issuer, "sub": "auth0|0123456789abcdef01234567", "aud": "https://api.example.com/",
		"exp": now + 86400, "iat": now, "jti": "grt_01JEXAMPLE0000000000000000.abcdefghijklmnopqrstuv",
		"client_id": "abcdefghijklmnopqrstuvwxyz012345", "scope": "read:orders write:orders",
	})
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		b.Run(string(alg), func(b *testing.B) {
			if _, err := e.provider.signPayloadAlg(e.ctx, alg, typeAccessToken, payload); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.provider.signPayloadAlg(e.ctx, alg, typeAccessToken, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
