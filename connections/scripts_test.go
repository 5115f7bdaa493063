package connections

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

type fakeValidator struct{ calls int }

func (f *fakeValidator) ValidateScript(_ context.Context, module []byte) error {
	f.calls++
	if string(module) != "good" {
		return errors.New("missing export on_script")
	}
	return nil
}

func TestCheckScripts(t *testing.T) {
	good, bad := base64.StdEncoding.EncodeToString([]byte("good")), base64.StdEncoding.EncodeToString([]byte("bad"))
	for _, c := range []struct {
		name, strategy string
		scripts        any
		key, message   string
	}{
		{"valid, one module under several keys", StrategyCustomDB, map[string]any{"login": good, "get_user": good, "create": good}, "", ""},
		{"unknown script", StrategyCustomDB, map[string]any{"logn": good}, "scripts.logn", `option "scripts.logn" is not a script; the scripts are login, get_user, create, verify, change_password, delete, change_email`},
		{"not a string", StrategyCustomDB, map[string]any{"login": 42.0}, "scripts.login", ""},
		{"not base64", StrategyCustomDB, map[string]any{"login": "%%%"}, "scripts.login", ""},
		{"refused by the engine", StrategyCustomDB, map[string]any{"login": good, "verify": bad}, "scripts.verify", `option "scripts.verify" is not a valid script: missing export on_script`},
		{"other strategies are not checked here", StrategyLDAP, map[string]any{"x": 1}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := &fakeValidator{}
			s := &Service{Scripts: v}
			err := s.checkScripts(context.Background(), c.strategy, map[string]any{"scripts": c.scripts})
			var oe *OptionError
			switch {
			case c.key == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.key == "":
				if c.strategy == StrategyCustomDB && v.calls != 1 {
					t.Fatalf("validated %d times, want once per distinct module", v.calls)
				}
			case !errors.As(err, &oe) || oe.Key != c.key:
				t.Fatalf("error %v, want one naming %s", err, c.key)
			case c.message != "" && err.Error() != c.message:
				t.Fatalf("error %q, want %q", err, c.message)
			}
		})
	}
	// Without a validator only names and encoding are checked.
	if err := (&Service{}).checkScripts(context.Background(), StrategyCustomDB, map[string]any{"scripts": map[string]any{"login": bad}}); err != nil {
		t.Fatal(err)
	}
}

type fakeJSValidator struct{ fakeValidator }

func (f *fakeJSValidator) ValidateScriptJavaScript(_ context.Context, op, src string) error {
	if !strings.HasPrefix(src, "function") {
		return errors.New("line 1, column 1: not a function")
	}
	return nil
}

func TestCheckJavaScriptScripts(t *testing.T) {
	good := base64.StdEncoding.EncodeToString([]byte("good"))
	s := &Service{Scripts: &fakeJSValidator{}}
	for _, c := range []struct {
		name   string
		secret map[string]any
		key    string
	}{
		{"valid", map[string]any{"customScripts": map[string]any{"login": "function login(e, p, cb) {}"}, "scripts": map[string]any{"get_user": good}}, ""},
		{"unknown operation", map[string]any{"customScripts": map[string]any{"logn": "function () {}"}}, "customScripts.logn"},
		{"not a string", map[string]any{"customScripts": map[string]any{"login": 1.0}}, "customScripts.login"},
		{"refused", map[string]any{"customScripts": map[string]any{"login": "var x"}}, "customScripts.login"},
		{"both languages for one operation", map[string]any{"customScripts": map[string]any{"login": "function login(e, p, cb) {}"}, "scripts": map[string]any{"login": good}}, "customScripts.login"},
	} {
		err := s.checkScripts(context.Background(), StrategyCustomDB, c.secret)
		var oe *OptionError
		if c.key == "" && err != nil || c.key != "" && (!errors.As(err, &oe) || oe.Key != c.key) {
			t.Errorf("%s: %v, want an error on %q", c.name, err, c.key)
		}
	}
}

// Writing an operation's script in one language removes the stored one in
// the other; the rest is merged key by key.
func TestMergeScriptSets(t *testing.T) {
	stored := map[string]any{
		"scripts":       map[string]any{"login": "wasm-login", "get_user": "wasm-get"},
		"customScripts": map[string]any{"delete": "js-delete"},
	}
	secret := map[string]any{"customScripts": map[string]any{"login": "js-login", "delete": nil}}
	sets := mergeScriptSets(stored, secret)
	if len(sets["scripts"]) != 1 || sets["scripts"]["get_user"] != "wasm-get" {
		t.Fatalf("scripts: %v", sets["scripts"])
	}
	if len(sets["customScripts"]) != 1 || sets["customScripts"]["login"] != "js-login" {
		t.Fatalf("customScripts: %v", sets["customScripts"])
	}
	if given := secret["customScripts"].(map[string]any); len(given) != 1 {
		t.Fatalf("given: %v", given)
	}
	// Untouched: nothing to merge.
	if sets := mergeScriptSets(stored, map[string]any{"dsn": "x"}); len(sets) != 0 {
		t.Fatalf("sets: %v", sets)
	}
}
