package connections

import (
	"context"
	"encoding/base64"
	"errors"
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
