package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Auth0's templates (connectors/customdb/testdata/auth0) pass the upload
// checks under their operation, whatever their function's name.
func TestJSScriptShapeAuth0Templates(t *testing.T) {
	for _, flavor := range []string{"postgres", "mysql"} {
		for op, params := range ScriptOps {
			b, err := os.ReadFile(filepath.Join("../connectors/customdb/testdata/auth0", flavor, op+".js"))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkScriptShape(op, params, ScriptSource(string(b))); err != nil {
				t.Errorf("%s/%s: %v", flavor, op, err)
			}
		}
	}
}

func TestJSScriptShapeRefusals(t *testing.T) {
	for _, c := range []struct{ op, src, want string }{
		{"login", "function login(email, callback) {}", "takes 2 parameters; the login script's takes 3"},
		{"change_email", "function changeEmail(email, newEmail, callback) {}", "takes 3 parameters"},
		{"get_user", "var x = 1", "must be one function"},
		{"login", "function login(a, b, cb) { const fs = require('fs'); }", "line 1, column 39: require('fs')"},
		{"login", "function login(a, b, cb) {\n  var r = require(\"request@2.81.0\");\n}", "line 2, column 11: require('request@2.81.0')"},
	} {
		err := checkScriptShape(c.op, ScriptOps[c.op], c.src)
		if !errors.Is(err, ErrInvalidScript) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
	for _, c := range []struct{ op, src string }{
		{"login", "// comment\n/* block */ async function (email, password, callback) { require('bcrypt@0.8.5'); }"},
		{"get_user", "(email, callback) => callback(null)"},
		{"delete", "function remove(id = f(1, 2), callback) { /* require('fs') */ var s = \"require('fs')\"; }"},
		{"verify", "function verify(...args) {}"},
		{"change_password", "function changePassword(email, newPassword, callback,) {}"},
	} {
		if err := checkScriptShape(c.op, ScriptOps[c.op], c.src); err != nil {
			t.Errorf("%q: %v", c.src, err)
		}
	}
}

func TestJSValidateScriptJavaScriptUnknownOp(t *testing.T) {
	var e Engine
	if err := e.ValidateScriptJavaScript(context.Background(), "logn", "function login(a, b, c) {}"); !errors.Is(err, ErrInvalidScript) {
		t.Fatal(err)
	}
}
