package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/authgraph/authgraph/authz"
	"github.com/authgraph/authgraph/internal/apitest"
)

// TestEveryWriteLogsOneSapi: each successful management write logs exactly
// one sapi event carrying the caller's client id (and the user for user
// writes); reads log nothing.
func TestEveryWriteLogsOneSapi(t *testing.T) {
	apitest.ForEachBackend(t, func(t *testing.T, s *apitest.Server) {
		tok := scopedToken(t, s, authz.ManagementScopes()...)
		caller := clientIDOf(t, tok)
		if caller == "" || caller == s.AdminID {
			t.Fatalf("caller client id %q", caller)
		}
		// state carries ids from one step to the next.
		state := map[string]string{}
		steps := []struct {
			name, operation, query string
			vars                   func() map[string]any
			userID                 func() string
			save                   func(data map[string]any)
		}{
			{name: "createUser", operation: "createUser",
				query: `mutation { createUser(input: {connection: "` + defaultConn + `", email: "audit@example.com", password: "audit-Passw0rd"}) { id userId } }`,
				save: func(d map[string]any) {
					u := d["createUser"].(map[string]any)
					state["user"], state["userId"] = u["id"].(string), u["userId"].(string)
				},
				userID: func() string { return state["userId"] }},
			{name: "updateUser", operation: "updateUser",
				query:  `mutation($id: ID!) { updateUser(id: $id, input: {name: "Audited", password: "other-Passw0rd", appMetadata: {plan: "x"}}) { id } }`,
				vars:   func() map[string]any { return map[string]any{"id": state["user"]} },
				userID: func() string { return state["userId"] }},
			{name: "createConnection", operation: "createConnection",
				query: `mutation { createConnection(input: {name: "audited", strategy: "oidc", options: {issuer: "https://idp.example.com/", client_id: "audit", client_secret: "audit-secret"}}) { id } }`,
				save:  func(d map[string]any) { state["conn"] = d["createConnection"].(map[string]any)["id"].(string) }},
			{name: "updateConnection", operation: "updateConnection",
				query: `mutation($id: ID!) { updateConnection(id: $id, input: {options: {scope: "openid"}}) { id } }`,
				vars:  func() map[string]any { return map[string]any{"id": state["conn"]} }},
			{name: "createClient", operation: "createClient",
				query: `mutation { createClient(input: {name: "audited", type: "regular_web", redirectUris: ["https://app.example.com/cb"]}) { client { id } clientSecret } }`,
				save: func(d map[string]any) {
					c := d["createClient"].(map[string]any)
					state["client"], state["secret"] = c["client"].(map[string]any)["id"].(string), c["clientSecret"].(string)
				}},
			{name: "updateClient", operation: "updateClient",
				query: `mutation($id: ID!) { updateClient(id: $id, input: {name: "audited 2"}) { id } }`,
				vars:  func() map[string]any { return map[string]any{"id": state["client"]} }},
			{name: "rotateClientSecret", operation: "rotateClientSecret",
				query: `mutation($id: ID!) { rotateClientSecret(id: $id) { clientSecret } }`,
				vars:  func() map[string]any { return map[string]any{"id": state["client"]} },
				save: func(d map[string]any) {
					state["secret2"] = d["rotateClientSecret"].(map[string]any)["clientSecret"].(string)
				}},
			{name: "deleteClient", operation: "deleteClient",
				query: `mutation($id: ID!) { deleteClient(id: $id) }`,
				vars:  func() map[string]any { return map[string]any{"id": state["client"]} }},
			{name: "deleteUser", operation: "deleteUser",
				query:  `mutation($id: ID!) { deleteUser(id: $id) }`,
				vars:   func() map[string]any { return map[string]any{"id": state["user"]} },
				userID: func() string { return state["userId"] }},
			{name: "deleteConnection", operation: "deleteConnection",
				query: `mutation($id: ID!) { deleteConnection(id: $id) }`,
				vars:  func() map[string]any { return map[string]any{"id": state["conn"]} }},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				before := sapiLogs(t, s)
				var vars map[string]any
				if st.vars != nil {
					vars = st.vars()
				}
				var data map[string]any
				s.MustGraphQL(t, tok, st.query, vars, &data)
				if st.save != nil {
					st.save(data)
				}
				after := sapiLogs(t, s)
				if len(after) != len(before)+1 {
					t.Fatalf("%d sapi events written, want 1", len(after)-len(before))
				}
				ev := after[0]
				if ev.Type != "sapi" || ev.ClientID != caller {
					t.Errorf("event %+v: want type sapi, clientId %s", ev, caller)
				}
				if op, _ := ev.Details["operation"].(string); op != st.operation {
					t.Errorf("details.operation %q, want %q", op, st.operation)
				}
				if st.userID != nil && ev.UserID != st.userID() {
					t.Errorf("userId %q, want %q", ev.UserID, st.userID())
				}
				// Entries never carry a password, secret or metadata.
				raw := js(ev)
				for _, secret := range []string{"Passw0rd", "audit-secret", state["secret"], state["secret2"], `"plan"`} {
					if secret != "" && strings.Contains(raw, secret) {
						t.Errorf("event carries %q: %s", secret, raw)
					}
				}
				if st.userID != nil {
					var byUser struct{ Logs struct{ TotalCount int } }
					s.MustGraphQL(t, s.AdminToken(t), `query($u: String) { logs(where: {type: "sapi", userId: $u}) { totalCount } }`,
						map[string]any{"u": st.userID()}, &byUser)
					if byUser.Logs.TotalCount == 0 {
						t.Error("logs(where: {userId}) does not find the event")
					}
				}
			})
		}

		t.Run("reads log nothing", func(t *testing.T) {
			before := sapiCount(t, s)
			for _, q := range []string{`{ users { totalCount } }`, `{ connections { totalCount } }`, `{ clients { totalCount } }`, `{ logs { totalCount } }`} {
				s.MustGraphQL(t, tok, q, nil, &map[string]any{})
			}
			if n := sapiCount(t, s) - before; n != 0 {
				t.Fatalf("reads logged %d sapi events", n)
			}
		})
		t.Run("one event per write in a multi-field mutation", func(t *testing.T) {
			before := sapiCount(t, s)
			var b strings.Builder
			b.WriteString("mutation {")
			for i := range 3 {
				fmt.Fprintf(&b, ` u%d: createUser(input: {connection: %q, email: "multi%d@example.com"}) { id }`, i, defaultConn, i)
			}
			b.WriteString(" }")
			s.MustGraphQL(t, tok, b.String(), nil, &map[string]any{})
			if n := sapiCount(t, s) - before; n != 3 {
				t.Fatalf("%d sapi events for 3 writes", n)
			}
		})
		t.Run("a failing field rolls the whole mutation back", func(t *testing.T) {
			users, logs := count(t, s, "users"), sapiCount(t, s)
			r := s.GraphQL(t, tok, `mutation {
				ok: createUser(input: {connection: "`+defaultConn+`", email: "rolled-back@example.com"}) { id }
				bad: createUser(input: {connection: "`+defaultConn+`", email: "not an email"}) { id } }`, nil)
			if len(r.Errors) == 0 {
				t.Fatal("no error")
			}
			if count(t, s, "users") != users || sapiCount(t, s) != logs {
				t.Fatal("part of a failed mutation was committed")
			}
		})
		t.Run("date filters", func(t *testing.T) {
			evs := sapiLogs(t, s)
			newest, oldest := evs[0], evs[len(evs)-1]
			var out struct{ Logs struct{ TotalCount int } }
			s.MustGraphQL(t, s.AdminToken(t), `query($from: Time, $to: Time) { logs(where: {type: "sapi", from: $from, to: $to}) { totalCount } }`,
				map[string]any{"from": oldest.Date, "to": newest.Date}, &out)
			// from is inclusive, to exclusive.
			if out.Logs.TotalCount < 1 || out.Logs.TotalCount > len(evs)-1 {
				t.Fatalf("%d events in [oldest, newest) of %d", out.Logs.TotalCount, len(evs))
			}
		})
	})
}
