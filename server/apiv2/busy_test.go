package apiv2_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
	"github.com/authgraph/authgraph/server"
)

// TestBusyPasswordHashing: while the node's password limiter is full (one
// slot, no queue wait), creating a user with a password or changing one is
// answered 503 server_busy with Retry-After through the REST API, and
// SERVICE_UNAVAILABLE with retryAfter through GraphQL; nothing is written,
// and the same requests succeed once a slot is free.
func TestBusyPasswordHashing(t *testing.T) {
	for _, b := range apitest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := apitest.StartWith(t, b.DSN(t), func(c *server.Config) {
				c.PasswordHashConcurrency, c.PasswordHashQueueTimeout = 1, -1
			})
			admin := s.AdminToken(t)
			create := map[string]any{"connection": "Username-Password-Authentication", "email": "busy@example.com", "password": "Busy-Passw0rd-2026"}
			ok := call(t, s, http.MethodPost, "/api/v2/users", admin, map[string]any{"connection": "Username-Password-Authentication",
				"email": "ok@example.com", "password": "Fine-Passw0rd-2026"})
			if ok.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", ok.Status, ok.Body)
			}
			var created struct {
				UserID string `json:"user_id"`
			}
			ok.decode(t, &created)

			release, err := s.Deps.Auth.Passwords.Reserve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r := call(t, s, http.MethodPost, "/api/v2/users", admin, create)
			r.expectError(t, http.StatusServiceUnavailable, "server_busy")
			if r.Header.Get("Retry-After") != "1" {
				t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
			}
			r = call(t, s, http.MethodPatch, "/api/v2/users/"+created.UserID, admin, map[string]any{"password": "Other-Passw0rd-2026"})
			r.expectError(t, http.StatusServiceUnavailable, "server_busy")
			if r.Header.Get("Retry-After") != "1" {
				t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
			}
			g := s.GraphQL(t, admin, `mutation { createUser(input: {connection: "Username-Password-Authentication", email: "gql@example.com", password: "Gql-Passw0rd-2026"}) { id } }`, nil)
			if len(g.Errors) != 1 || g.Errors[0].Code() != "SERVICE_UNAVAILABLE" || g.Errors[0].Extensions["retryAfter"] != float64(1) {
				t.Fatalf("GraphQL: %+v", g.Errors)
			}
			if n := s.Deps.DB.Ent.User.Query().CountX(authz.SystemContext(context.Background())); n != 1 {
				t.Fatalf("%d users after busy creations, want 1", n)
			}

			release()
			if r := call(t, s, http.MethodPost, "/api/v2/users", admin, create); r.Status != http.StatusCreated {
				t.Fatalf("create after release: %d %s", r.Status, r.Body)
			}
		})
	}
}
