package rules

import (
	"context"
	"testing"
	"time"
)

func TestJSProbeEngine(t *testing.T) {
	e := newEngine(t, Config{})
	ctx := context.Background()
	s := time.Now()
	rv := RuleVersion{ID: "rul_js", Name: "js", Version: "1", JavaScript: `exports.onExecutePostLogin = async (event, api) => {
  console.log('hello', event.user.email);
  api.idToken.setCustomClaim('https://example.com/email', event.user.email);
};`}
	res, err := e.RunPipeline(ctx, []RuleVersion{rv}, loginEvent(t))
	t.Logf("first %v: %v %+v", time.Since(s), err, res.IDTokenClaims)
	if len(res.Runs) > 0 {
		t.Logf("logs %q", res.Runs[0].Logs)
	}
	s = time.Now()
	n := 200
	for i := 0; i < n; i++ {
		_, err = e.RunPipeline(ctx, []RuleVersion{rv}, loginEvent(t))
	}
	t.Logf("pooled %v %v", time.Since(s)/time.Duration(n), err)
	bad := RuleVersion{ID: "rul_bad", Name: "bad", Version: "1", JavaScript: "exports.onExecutePostLogin = async (event, api) => { while (true) {} }"}
	s = time.Now()
	_, err = e.RunPipeline(ctx, []RuleVersion{bad}, loginEvent(t))
	t.Logf("loop %v: %v", time.Since(s), err)
	t.Log(e.ValidateJavaScript(ctx, "exports.onExecutePostLogin = async (event, api) => {\n  let x = ;\n}"))
}
