package reencrypt_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/internal/testenv"
	"github.com/authgraph/authgraph/reencrypt"
	"github.com/authgraph/authgraph/secretbox"
	"github.com/authgraph/authgraph/server"
)

// A master key rotation while the server serves: nodes restarted with
// "B,A" keep accepting what A sealed or bound (signing keys, machine
// tokens), token requests and management calls never fail while reencrypt
// runs, and after it a node with "B" alone serves.
func TestRotationWhileServing(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	b := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	issuer := ""
	// Nodes of one deployment: one issuer, their own master key list.
	withKey := func(k string) func(*server.Config) {
		return func(c *server.Config) {
			c.MasterKey = k
			if issuer != "" {
				c.Issuer = issuer
			}
		}
	}
	oldNode := apitest.StartWith(t, dsn, withKey(a))
	issuer = oldNode.Issuer
	seed(t, oldNode.Deps.DB, oldNode.Deps.Box, 100) // secrets of every kind sealed with A
	oldToken := oldNode.AdminToken(t)               // bound under A's derived key

	node := apitest.StartWith(t, dsn, withKey(b+","+a))
	var out struct {
		ResourceServers struct{ TotalCount int }
	}
	node.MustGraphQL(t, oldToken, `{ resourceServers { totalCount } }`, nil, &out)

	// Traffic during the re-encryption: token requests, and management
	// calls with a token issued before the rotation.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	var firstFailure atomic.Value
	fail := func(format string, args ...any) {
		failures.Add(1)
		firstFailure.CompareAndSwap(nil, fmt.Sprintf(format, args...))
	}
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				requests.Add(1)
				form := url.Values{"grant_type": {"client_credentials"}}
				req, _ := http.NewRequest(http.MethodPost, node.URL+"/oauth/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(node.AdminID, node.AdminSecret)
				resp, err := node.HTTP.Do(req)
				if err != nil {
					fail("token request: %v", err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					fail("token request: %d %s", resp.StatusCode, body)
				}
				r := node.GraphQL(t, oldToken, `{ resourceServers { totalCount } }`, nil)
				if len(r.Errors) > 0 {
					fail("management call with a pre-rotation token: %v", r.Codes())
				}
			}
		})
	}
	box, err := secretbox.NewKeys(mustKeys(t, b+","+a))
	if err != nil {
		t.Fatal(err)
	}
	counts, err := reencrypt.Run(context.Background(), node.Deps.DB.SQL, node.Deps.DB.Dialect, box, reencrypt.Options{BatchSize: 1})
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d of %d requests failed during the re-encryption; first: %v", f, requests.Load(), firstFailure.Load())
	}
	resealed := 0
	for _, c := range counts {
		resealed += c.Resealed
	}
	if resealed == 0 {
		t.Fatalf("nothing re-sealed: %+v", counts)
	}
	// "B" alone: the server starts (the signing key opens) and issues
	// tokens.
	newNode := apitest.StartWith(t, dsn, withKey(b))
	newNode.MustGraphQL(t, newNode.AdminToken(t), `{ resourceServers { totalCount } }`, nil, &out)
	if err := openAll(t, newNode.Deps.DB, newNode.Deps.Box); err != nil {
		t.Fatalf("B alone after reencrypt: %v", err)
	}
	t.Logf("%d requests during the re-encryption, %+v", requests.Load(), counts)
}

func mustKeys(t *testing.T, s string) [][]byte {
	t.Helper()
	keys, err := secretbox.ParseKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
