package rules

import (
	"reflect"
	"testing"
	"time"
)

// The roles command changes the roles of this login: later rules see the
// changed event.authorization.roles, and the result carries the final set
// (nil when no rule changed it). Both SDKs produce the command.
func TestRolesCommand(t *testing.T) {
	e := newEngine(t, Config{CacheDir: testCacheDir})
	for _, sdk := range []string{"go", "as"} {
		t.Run(sdk, func(t *testing.T) {
			ctx := ctxTimeout(t, 2*time.Minute)
			rule := func(id string, secrets map[string]string) RuleVersion {
				rv := ruleFor(t, sdk+"-addrole")
				rv.ID, rv.Name, rv.Secrets = "rul_"+id, id, secrets
				return rv
			}
			ev := loginEvent(t) // roles: billing-admin, editor
			res, err := e.RunPipeline(ctx, []RuleVersion{
				rule("add", map[string]string{"add": "auditor", "remove": "editor"}),
				rule("record", map[string]string{"record": "1"}),
			}, ev)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"auditor", "billing-admin"}
			if !reflect.DeepEqual(res.Roles, want) {
				t.Fatalf("result roles %v, want %v", res.Roles, want)
			}
			if got := res.AccessTokenClaims["https://example.com/roles"]; !reflect.DeepEqual(got, []any{"auditor", "billing-admin"}) {
				t.Fatalf("the later rule saw roles %v, want %v", got, want)
			}
			// No roles command: the result says nothing changed.
			res, err = e.RunPipeline(ctx, []RuleVersion{rule("record", map[string]string{"record": "1"})}, ev)
			if err != nil || res.Roles != nil {
				t.Fatalf("roles %v (err %v), want nil without a roles command", res.Roles, err)
			}
			if got := res.AccessTokenClaims["https://example.com/roles"]; !reflect.DeepEqual(got, []any{"billing-admin", "editor"}) {
				t.Fatalf("the rule saw roles %v", got)
			}
			// A later rule without a roles command keeps the change.
			res, err = e.RunPipeline(ctx, []RuleVersion{rule("add", map[string]string{"add": "auditor"}), ruleFor(t, "go-linkto")}, ev)
			if err != nil || !reflect.DeepEqual(res.Roles, []string{"auditor", "billing-admin", "editor"}) {
				t.Fatalf("roles %v (err %v)", res.Roles, err)
			}
		})
	}
}

// The net change of several roles commands, applied to any role set, gives
// what applying them one after the other gives: callers apply it to another
// user's roles after a link.
func TestComposeRoles(t *testing.T) {
	cmds := []*RolesChange{
		{Add: []string{"a", "b"}, Remove: []string{"c"}},
		{Add: []string{"c"}, Remove: []string{"a", "d"}},
		{Add: []string{"d", "e"}, Remove: []string{"e"}},
	}
	var net *RolesChange
	for _, c := range cmds {
		net = composeRoles(net, c)
	}
	for _, start := range [][]string{nil, {"a"}, {"c", "d"}, {"a", "b", "c", "d", "e", "f"}} {
		want := start
		for _, c := range cmds {
			want = changeRoles(want, c)
		}
		if got := net.Apply(start); !reflect.DeepEqual(got, want) {
			t.Errorf("from %v: net %+v gives %v, want %v", start, net, got, want)
		}
	}
}
